"""The ComfyUI import under hostile input (issue 30), through the entry point the app and the CLI use
(``presets.from_file_bytes``): every file is imported, or refused with one plain sentence that names the
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
from fixtures.hostile_comfyui import BIG, CASES, CATEGORIES, MB

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
        found = presets.from_file_bytes(data)
        assert case.expected(found), found.message
        assert "\n" not in found.message and not INTERNALS.search(found.message)
    else:
        with pytest.raises(presets.PresetError) as refused:
            presets.from_file_bytes(data)
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
        presets.from_file_bytes(data)
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
              "        presets.from_file_bytes(open(path, 'rb').read())\n"
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
