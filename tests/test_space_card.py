"""The README is the Space's card: its front matter agrees with what the app depends on, and every relative
link in the README and docs/ resolves (anchors included)."""

import re
from pathlib import Path

import pytest
import yaml

from patcher import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The Spaces configuration reference (huggingface/hub-docs, docs/hub/spaces-config-reference.md).
COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
SDKS = {"gradio", "streamlit", "docker", "static"}
HARDWARE = {"cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "a10g-small", "a10g-large", "a10g-largex2",
            "a10g-largex4", "a100-large", "l4x1", "l4x4", "l40sx1", "l40sx4", "l40sx8", "h100", "zero-a10g"}


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md starts with the Space's YAML front matter"
    return yaml.safe_load(match.group(1))


def pins(python: str) -> dict[str, str]:
    """requirements.txt's pins for a Python version ("3.10" or "3.11"), markers evaluated."""
    from packaging.markers import Marker

    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement, _, marker = line.partition(";")
        if marker and not Marker(marker.strip()).evaluate({"python_version": python}):
            continue
        name, _, version = requirement.strip().partition("==")
        found[name.lower()] = version
    return found


def zerogpu_offers(runtime: str) -> list[str]:
    """The versions docs/hosting.md says ZeroGPU offers (its table row for ``runtime``)."""
    text = (ROOT / "docs" / "hosting.md").read_text(encoding="utf-8")
    row = re.search(rf"^\| {runtime} \| ([^|]+) \|$", text, re.M)
    assert row, f"docs/hosting.md has no '| {runtime} | ... |' row"
    return [v.strip() for v in row.group(1).split(",")]


def test_the_card_names_what_the_space_runs():
    card = front_matter()
    assert card["sdk"] in SDKS and card["sdk"] == "gradio"
    assert str(card["sdk_version"]) == pins("3.10")["gradio"] == pins("3.11")["gradio"]
    assert (ROOT / card["app_file"]).is_file()
    assert isinstance(card["python_version"], str) and card["python_version"] in zerogpu_offers("Python")
    assert card["suggested_hardware"] in HARDWARE
    assert card["colorFrom"] in COLOURS and card["colorTo"] in COLOURS
    assert card["title"] and len(card["short_description"]) <= 60
    assert card["emoji"] and not re.search(r"[\w\s]", card["emoji"])
    assert card["license"] == "mit"
    hub_ids = {hub_id for family in FAMILIES if family.pipeline for hub_id in family.pipeline.hub_ids}
    assert set(card["models"]) == hub_ids


def test_the_spaces_python_gets_packages_zerogpu_runs():
    python = ".".join(front_matter()["python_version"].split(".")[:2])
    space = pins(python)
    assert space["torch"] in zerogpu_offers("PyTorch")
    assert tuple(int(p) for p in space["torch"].split(".")[:2]) >= (2, 8)  # ahead-of-time compilation needs 2.8+
    assert "spaces" not in space and "spaces" not in pins("3.11")  # the platform provides it
    assert "tomli" in space  # batch plans are TOML; Python 3.10 has no tomllib


def test_pyproject_states_the_oldest_python():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^requires-python = ">=3\.10"', text, re.M)
    assert re.search(r'^target-version = "py310"', text, re.M)


def test_the_readme_is_a_card_and_a_quick_start():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "python app.py" in text and "python -m pytest" in text


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)}


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)  # code is not a link
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.exists(), f"{path.name}: {target} does not exist"
        if anchor:
            assert anchor in _anchors(resolved), f"{path.name}: {target}: no heading with that anchor"


def test_the_link_check_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n[fine](#top) [broken](missing.md) [anchor](page.md#nowhere)\n")
    targets = LINK.findall(page.read_text())
    assert targets == ["#top", "missing.md", "page.md#nowhere"]
    assert not (tmp_path / "missing.md").exists() and "nowhere" not in _anchors(page) and "top" in _anchors(page)
