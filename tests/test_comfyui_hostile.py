"""The ComfyUI import under hostile input (issue 30), through the entry point the app and the CLI use
(``presets._comfyui.from_file_bytes``): every file is imported, or refused with one plain sentence that names the
node and the field; memory stays a small multiple of the file's size; pixels are never decoded (the
import does not even load Pillow). The table is tests/fixtures/hostile_comfyui.py."""

from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

import presets
from presets._comfyui import from_file_bytes
from comfyui_harness import NODE_DIR, node_setting
from fixtures.hostile_comfyui import BIG, CASES, CATEGORIES, MB, SETTING_TEXTS

ROOT = Path(__file__).resolve().parents[1]
# What a message must never show: Python's objects, exception class names, tracebacks, byte strings.
INTERNALS = re.compile(r"object at 0x|<_io|Traceback|File \"|\b[A-Z]\w*(Error|Exception)\b|\bb'|\\x[0-9a-f]{2}")
PEAK_TIMES_SIZE, PEAK_PLUS = 8, 8 * MB  # the memory an import may take: 8 x the file, plus 8 MB


def plain_sentence(message: str) -> bool:
    return len(message) < 300 and "\n" not in message and "\r" not in message and not INTERNALS.search(message)


@pytest.mark.parametrize("name", list(CASES))
def test_every_hostile_file_is_imported_or_refused_in_one_plain_sentence(name):
    case = CASES[name]
    data = case.make()
    if case.outcome == "ok":
        found = from_file_bytes(data)
        assert case.expected(found), found.message
        assert "\n" not in found.message and not INTERNALS.search(found.message)
    else:
        with pytest.raises(presets.PresetError) as refused:
            from_file_bytes(data)
        message = str(refused.value)
        assert case.expected in message, message
        assert plain_sentence(message), message


def test_the_table_holds_at_least_94_files_across_every_category():
    assert len(CASES) >= 94
    assert {case.category for case in CASES.values()} == set(CATEGORIES)
    assert set(BIG) <= set(CASES)


@pytest.mark.parametrize("name", BIG)
def test_memory_stays_a_small_multiple_of_the_file(name):
    data = CASES[name].make()
    tracemalloc.start()
    try:
        from_file_bytes(data)
    except presets.PresetError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_TIMES_SIZE * len(data) + PEAK_PLUS, f"{peak / MB:.1f} MB for a {len(data) / MB:.2f} MB file"


def test_images_are_read_without_pillow(tmp_path):
    """Pixels are never decoded: the import reads PNG and WebP chunks itself and never imports Pillow."""
    names = [n for n, c in CASES.items() if c.category in ("PNG", "WebP", "other formats")]
    files = []
    for i, name in enumerate(names):
        files.append(tmp_path / f"{i}.bin")
        files[-1].write_bytes(CASES[name].make())
    script = ("import sys, presets\n"
              "for path in sys.argv[1:]:\n"
              "    try:\n"
              "        presets._comfyui.from_file_bytes(open(path, 'rb').read())\n"
              "    except presets.PresetError:\n"
              "        pass\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'PIL'))\n")
    run = subprocess.run([sys.executable, "-c", script, *map(str, files)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["type is a list", "PNG 14000 x 14000 without one", "GIF (with the workflow as its "
                                  "comment)", "400-digit multiplier"])
def test_the_command_line_says_the_same_sentence(tmp_path, name):
    path = tmp_path / "file"
    path.write_bytes(CASES[name].make())
    run = subprocess.run([sys.executable, "-m", "presets", "from-comfyui", str(path)], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("error: ") and CASES[name].expected in run.stderr
    assert run.stderr.count("\n") == 1 and plain_sentence(run.stderr[len("error: "):-1]), run.stderr


def test_a_file_is_measured_before_it_is_read(tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as file:
        file.truncate(60 * MB)  # sparse: nothing to read, unless the import reads it
    tracemalloc.start()
    try:
        with pytest.raises(presets.PresetError, match="^the file is 62,914,560 bytes; at most 50 MB are read$"):
            presets.from_file(big)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MB
    with pytest.raises(presets.PresetError, match="^missing.json: no such file$"):
        presets.from_file(tmp_path / "missing.json")


# --- one reader: the node and the app read every setting text alike (issue 33) -------------------------

# the texts issue 33 names: each read alike now (the same setting, or the same refusal)
ISSUE_33 = ("version 1 with regions", "version 1 with a schedule", "version 2 with regions",
            "version 2 with a schedule",
            "a multiplier as text", "a multiplier 1_0 as text", "link multiplier 1_0", "version true", "preset seed -5",
            "link seed -5", "link frames 1000", "link seed abc", "3,000 unknown preset fields", "901-level nesting",
            "400-digit multiplier", "400-digit link value", "a list", "BOM before a valid preset", "hello world",
            "an unknown region")


def _node_reads(text: str):
    """What the node does with the text in its ``setting`` input: its own file, loaded on its own."""
    try:
        setting = node_setting().Setting.from_node({"setting": text})
    except ValueError as exc:
        return "refused", str(exc)
    factors = {f"{r}.{f}": v for (r, f), v in setting.factors.items()}
    return "read", setting.multipliers, factors, (setting.start, setting.end), list(setting.notes)


def _app_reads(text: str):
    """What the app's ComfyUI import takes from a workflow whose node holds the text."""
    try:
        found = presets.from_workflow({"3": {"class_type": "SVDAttentionLab", "inputs": {"setting": text}}})
    except presets.PresetError as exc:
        message = str(exc)
        assert plain_sentence(message), message
        return "refused", message.removeprefix("the setting text of node 3: ")
    m = found.multipliers
    return "read", m.node_values(), m.regions.flat(), (found.settings["start"], found.settings["end"]), found.warnings


@pytest.mark.parametrize("name", list(SETTING_TEXTS))
def test_the_node_and_the_app_read_every_setting_text_alike(name):
    text = SETTING_TEXTS[name]
    node, app = _node_reads(text), _app_reads(text)
    if node[0] == "refused" and app[0] == "refused":  # the app quotes at most 200 characters of it, on one line
        assert app[1] == " ".join(node[1].split())[:200] or app[1][:-1] == " ".join(node[1].split())[:199], (node, app)
        assert "Overflow" not in node[1] and "Traceback" not in node[1]
    else:
        assert node == app
    if text.lstrip("\ufeff \n").startswith(("{", "[")):  # a preset file with this text: the same, word for word
        try:
            preset = presets.Preset.from_json(text)
        except presets.PresetError as exc:
            assert node == ("refused", str(exc))
        else:
            assert node[:4] == ("read", preset.multipliers.node_values(), preset.multipliers.regions.flat(),
                                (preset.settings.get("start", 0.0), preset.settings.get("end", 1.0)))


def test_the_text_table_holds_80_texts_and_every_one_issue_33_names():
    assert len(SETTING_TEXTS) >= 80 and set(ISSUE_33) <= set(SETTING_TEXTS)
    read = {name for name in SETTING_TEXTS if _node_reads(SETTING_TEXTS[name])[0] == "read"}
    refused = set(SETTING_TEXTS) - read
    assert {"version 1 with regions", "version 1 with a schedule", "version 2 with regions",
            "version 2 with a schedule", "BOM before a valid preset", "3,000 unknown link keys"} <= read
    assert set(ISSUE_33) - read <= refused and len(refused) > 60


@pytest.mark.parametrize("name, setting", [
    ("version 1 with regions", ({"self_temporal": 0.6}, {"up.self_temporal": 0.5}, (0.0, 1.0))),
    ("version 2 with a schedule", ({"self_temporal": 0.6}, {}, (0.1668, 1.0))),  # steps 8 to 25 of 25 (0-based)
    ("BOM before a valid preset", ({"self_temporal": 0.6}, {}, (0.0, 1.0))),
    ("whole address", ({"self_temporal": 0.8}, {"up.self_temporal": 0.5}, (0.3, 0.7))),
])
def test_what_both_read_is_the_setting_the_text_holds(name, setting):
    multipliers, factors, schedule = setting
    kind, read_multipliers, read_factors, read_schedule, _ = _node_reads(SETTING_TEXTS[name])
    assert read_multipliers == dict.fromkeys(read_multipliers, 1.0) | multipliers
    assert (read_factors, read_schedule) == (factors, schedule)


@pytest.mark.parametrize("name, message", [
    ("a multiplier as text", "multipliers.self_temporal must be a number, got '0.5'"),
    ("link multiplier 1_0", "link parameter self_temporal must be a number, got '1_0'"),
    ("version true", "version must be a positive whole number, got true"),
    ("link seed -5", "settings.seed must be between 0 and 4294967295, got -5"),
    ("link frames 1000", "settings.frames must be between 2 and 50, got 1000"),
    ("link seed abc", "link parameter seed must be a number, got 'abc'"),
    ("3,000 unknown preset fields", "unknown field(s) k0, k1, k2 and 2,997 more"),
    ("901-level nesting", "preset is nested 901 levels deep; at most 64 levels are allowed"),
    ("400-digit multiplier", "multipliers.self_temporal is a number 400 characters long; numbers of at most 40"),
    ("400-digit link value", "self_temporal is a number 400 characters long"),
    ("a list", "the preset must be a JSON object, got a list"),
    ("hello world", "the setting is neither a preset JSON nor a share link: it names no setting"),
    ("an unknown region", "link parameter sideways.self_temporal: unknown region 'sideways'"),
])
def test_every_refusal_names_the_field(name, message):
    outcome = _node_reads(SETTING_TEXTS[name])
    assert outcome[0] == "refused" and message in outcome[1], outcome


def test_the_app_reads_with_the_nodes_own_file():
    """One reader, structurally: the module the app reads with is the node folder's file, and importing the
    node's package loads nothing of ComfyUI (so the app can import it, and ComfyUI loads it standalone)."""
    import comfyui_svd_attention_lab.setting as reader

    assert Path(reader.__file__).resolve() == NODE_DIR / "setting.py"
    assert presets.PresetError is reader.SettingError
    code = ("import sys\nfor m in ['comfy', 'comfy_api', 'torch', 'numpy']: sys.modules[m] = None\n"
            "import comfyui_svd_attention_lab.setting\nprint('ok')")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
