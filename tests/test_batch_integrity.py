"""Batch results keep every setting and never touch files they did not create; hostile plans are
refused before anything renders or is written."""

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from svd_attention_lab.batch import PlanError, estimate, load_plan, load_results, run_batch
from svd_attention_lab.batch._cli import batch_main
from svd_attention_lab.engine import DEMO_MODEL_DIR

EXAMPLES = DEMO_MODEL_DIR.parents[2] / "examples"
ROOT = Path(__file__).resolve().parents[1]
SETTINGS = "[settings]\nframes = 2\nsteps = 1\nwidth = 64\nheight = 64\ndecode_chunk_size = 2\n"
GRID = "[multipliers]\nself_temporal = [0.5]\n"


def _write_plan(folder, head: str, name: str = "plan.toml"):
    path = folder / name
    path.write_text(f'model = "demo"\n{head}\n{GRID if "presets" not in head else ""}{SETTINGS}')
    return path


def _snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _preset(folder, name, regions):
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"format": "svd-attention-preset", "version": 3, "name": name,
                                "multipliers": {"self_temporal": 0.8}, "regions": regions}))
    return path.name


def test_presets_that_differ_only_in_regions_are_two_jobs_and_two_rows(tmp_path):
    shutil.copy(EXAMPLES / "shapes-1.png", tmp_path / "a.png")
    one = _preset(tmp_path, "up-damped", {"up": {"self_temporal": 0.5}})
    two = _preset(tmp_path, "down-damped", {"down": {"self_temporal": 0.5}})
    plan_path = _write_plan(tmp_path, f'output = "out"\nimages = ["a.png"]\npresets = ["{one}", "{two}"]')
    plan = load_plan(plan_path)
    assert len(plan.grid) == 2
    report = run_batch(plan, progress=False)
    table = load_results(report.table)
    assert report.jobs == 2 and table["job_id"].nunique() == 2
    assert sorted(zip(table["up.self_temporal"], table["down.self_temporal"])) == [(0.5, 1.0), (1.0, 0.5)]
    assert (table["self_temporal"] == 0.8).all()
    assert table["patched_sha256"].nunique() == 2  # two different renders, neither overwrote the other


def test_two_names_for_the_same_image_are_two_jobs(tmp_path):
    for name in ("a.png", "b.png"):
        shutil.copy(EXAMPLES / "shapes-1.png", tmp_path / name)
    plan_path = _write_plan(tmp_path, 'output = "out"\nimages = ["*.png"]')
    table = pd.read_csv(run_batch(load_plan(plan_path), progress=False).table)
    assert sorted(os.path.basename(p) for p in table["image"]) == ["a.png", "b.png"]
    assert table["image_sha256"].nunique() == 1 and table["job_id"].nunique() == 2


def test_a_plan_writing_into_its_own_folder_changes_nothing_there(tmp_path, counted_renders):
    shutil.copy(EXAMPLES / "shapes-1.png", tmp_path / "a.png")
    (tmp_path / "results.csv").write_text("my,own\n1,2\n")
    (tmp_path / "plan.json").write_text('{"mine": true}')
    plan_path = _write_plan(tmp_path, 'output = "."\nimages = ["a.png"]')
    before = _snapshot(tmp_path)
    with pytest.raises(PlanError, match=r"plan.toml: output .* is not empty and holds no batch results"):
        run_batch(load_plan(plan_path), progress=False)
    assert batch_main([str(plan_path)]) == 2
    assert _snapshot(tmp_path) == before and counted_renders == []


def test_a_dry_run_into_a_foreign_folder_writes_nothing(tmp_path, capsys):
    foreign = tmp_path / "holiday-photos"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    shutil.copy(EXAMPLES / "shapes-1.png", tmp_path / "a.png")
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(f'model = "demo"\nimages = ["a.png"]\n[multipliers]\nself_temporal = [0.5]\n{SETTINGS}')
    before = _snapshot(tmp_path)
    assert batch_main([str(plan_path), "--dry-run", "--out", str(foreign)]) == 2
    assert "holiday-photos is not empty" in capsys.readouterr().err
    assert batch_main([str(plan_path), "--dry-run"]) == 0  # the plan's own (missing) output: counted, not created
    assert _snapshot(tmp_path) == before and not (tmp_path / "batch-results").exists()


def test_out_overrides_the_plan_and_a_rerun_of_the_same_plan_resumes(tmp_path, counted_renders, capsys):
    shutil.copy(EXAMPLES / "shapes-1.png", tmp_path / "a.png")
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(f'model = "demo"\nimages = ["a.png"]\n[multipliers]\nself_temporal = [0.5]\n{SETTINGS}')
    out = tmp_path / "elsewhere"
    assert batch_main([str(plan_path), "--out", str(out)]) == 0
    assert (out / "batch.json").is_file() and (out / "results.csv").is_file()
    assert not (tmp_path / "batch-results").exists()
    rendered = len(counted_renders)
    assert batch_main([str(plan_path), "--out", str(out)]) == 0  # its own marker: resumes, nothing to render
    assert len(counted_renders) == rendered and "1 done before" in capsys.readouterr().out
    other = tmp_path / "other.toml"
    other.write_text(plan_path.read_text())
    with pytest.raises(PlanError, match="holds the results of another plan"):
        estimate(dataclasses.replace(load_plan(other), output=out))


def test_an_output_that_is_a_file_is_refused(tmp_path):
    shutil.copy(EXAMPLES / "shapes-1.png", tmp_path / "a.png")
    (tmp_path / "out").write_text("a file")
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text('model = "demo"\noutput = "out"\nimages = ["a.png"]\n[multipliers]\nself_temporal = [0.5]\n')
    with pytest.raises(PlanError, match="plan.toml: output .*out is a file, not a folder"):
        estimate(load_plan(plan_path))
    assert (tmp_path / "out").read_text() == "a file"


def _hostile(tmp):
    (tmp / "a.png").write_bytes((EXAMPLES / "shapes-1.png").read_bytes())
    (tmp / "fake.png").write_text("this is text, not an image")
    loop = tmp / "loop"
    loop.mkdir()
    (loop / "again").symlink_to(tmp, target_is_directory=True)
    return {
        "deep nesting": ("plan.json", '{"images": ' + "[" * 5000 + "]" * 5000 + "}",
                         "plan.json: nested 5001 levels deep; a plan nests at most 16"),
        "deep TOML": ("plan.toml", "images = " + "[" * 5000 + "]" * 5000, "plan.toml: nested 5000 levels deep"),
        "huge seed range": ("plan.toml", 'images = ["a.png"]\nseeds = {start = 0, stop = 4000000000}\n'
                            "[multipliers]\nself_temporal = [0.5]",
                            "4,000,000,000 jobs per image; a plan holds at most 100,000"),
        "huge grid": ("plan.toml", 'images = ["a.png"]\n[multipliers]\n' + "\n".join(
            f"{f} = [{', '.join(str(v / 10) for v in range(1, 41))}]" for f in
            ("self_structural", "self_temporal", "cross_structural", "cross_temporal")),
            "2,560,000 jobs per image"),
        "text named .png": ("plan.toml", 'images = ["fake.png"]\n[multipliers]\nself_temporal = [0.5]',
                            "plan.toml: images: fake.png: cannot read the image"),
        "system file": ("plan.toml", 'images = ["/etc/passwd"]\n[multipliers]\nself_temporal = [0.5]',
                        "plan.toml: images: passwd: cannot read the image"),
        "symlink loop": ("plan.toml", 'images = ["loop/**/*.png"]\n[multipliers]\nself_temporal = [0.5]',
                         r"images\[0\] 'loop/\*\*/\*.png' matches no image"),
        "not UTF-8": ("plan.toml", b'images = ["\xff"]', "plan.toml: not UTF-8 text"),
        "Infinity": ("plan.json", '{"images": ["a.png"], "seeds": [Infinity]}', "plan.json: .*Infinity"),
        "half seed": ("plan.toml", 'images = ["a.png"]\nseeds = [1.5]\n[multipliers]\nself_temporal = [0.5]',
                      r"seeds\[0\] must be a whole number"),
        "5001-digit seed": ("plan.toml", f'images = ["a.png"]\nseeds = [1{"0" * 5000}]\n[multipliers]\n'
                            "self_temporal = [0.5]", r"^plan.toml: seeds\[0\] must be between 0 and 4294967295"),
        "5001-digit seed in JSON": ("plan.json", f'{{"images": ["a.png"], "seeds": [1{"0" * 5000}]}}',
                                    r"^plan.json: seeds\[0\] must be between 0 and 4294967295"),
    }


@pytest.mark.parametrize("case", [
    "deep nesting", "deep TOML", "huge seed range", "huge grid", "text named .png", "system file", "symlink loop",
    "not UTF-8", "Infinity", "half seed", "5001-digit seed", "5001-digit seed in JSON"])
def test_hostile_plans_are_refused_before_anything_renders(tmp_path, counted_renders, case):
    name, text, message = _hostile(tmp_path)[case]
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = _snapshot(tmp_path) if case != "symlink loop" else None
    with pytest.raises(PlanError, match=message):
        run_batch(load_plan(path), progress=False)
    assert counted_renders == []
    if before is not None:
        assert _snapshot(tmp_path) == before


def _linked_folders(tmp):
    """data/x/a.png, with folder links that loop: x and y link to each other, z to itself (eight
    times over), and links to themselves and to each other that lead nowhere."""
    data = tmp / "data"
    for sub in ("x", "y", "z"):
        (data / sub).mkdir(parents=True)
    shutil.copy(EXAMPLES / "shapes-1.png", data / "x" / "a.png")
    (data / "x" / "to-y").symlink_to("../y", target_is_directory=True)
    (data / "y" / "to-x").symlink_to("../x", target_is_directory=True)
    for n in range(8):
        (data / "z" / f"here-{n}").symlink_to(".", target_is_directory=True)
    (data / "self").symlink_to("self")
    (data / "p").symlink_to("q")
    (data / "q").symlink_to("p")
    return data


@pytest.mark.parametrize("pattern, found", [
    ("data/**/*.png", ["x/a.png"]),
    ("data/**/**/*.png", ["x/a.png"]),
    ("data/*/*.png", ["x/a.png"]),
    ("data/*/*/*.png", None),  # only through x -> y -> x
    ("data/y/*/*.png", None),
    ("data/z/*/*/*/*/*/*/*.png", None),  # 8 ** 6 folders through z's links to itself
    ("data/**/to-x/*.png", ["x/a.png"]),  # a link named in the pattern is followed: one step
])
def test_a_glob_follows_no_link_to_a_folder(tmp_path, pattern, found):
    data = _linked_folders(tmp_path)
    plan_path = _write_plan(tmp_path, f'images = ["{pattern}"]')
    if found is None:
        with pytest.raises(PlanError, match=r"images\[0\] '.*' matches no image \(a glob follows no link to a "
                                            r"folder: data/"):
            load_plan(plan_path)
    else:
        assert load_plan(plan_path).images == tuple(data / f for f in found)


def _one_job_plan(folder, name="plan.toml"):
    shutil.copy(EXAMPLES / "shapes-1.png", folder / "a.png")
    path = folder / name
    path.write_text(f'model = "demo"\nimages = ["a.png"]\n[multipliers]\nself_temporal = [0.5]\n{SETTINGS}')
    return path


def test_a_rerun_resumes_however_the_plan_and_output_are_typed(tmp_path, monkeypatch, counted_renders, capsys):
    _one_job_plan(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    assert batch_main(["plan.toml", "--out", "out"]) == 0
    rendered = len(counted_renders)
    assert json.loads((tmp_path / "out" / "batch.json").read_text())["plan"] == str(tmp_path / "plan.toml")
    for folder, argv in [(tmp_path, ["plan.toml", "--out", "out"]),
                         (tmp_path, ["./plan.toml", "--out", "./out/"]),
                         (tmp_path / "sub", ["../plan.toml", "--out", "../out"]),
                         (tmp_path / "sub", [str(tmp_path / "linked" / "plan.toml"), "--out", str(tmp_path / "out")])]:
        monkeypatch.chdir(folder)
        capsys.readouterr()
        assert batch_main(argv) == 0, capsys.readouterr().err
        assert "1 done before" in capsys.readouterr().out
    assert len(counted_renders) == rendered
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other.toml").write_text((tmp_path / "plan.toml").read_text())  # the same text, another plan
    assert batch_main(["other.toml", "--out", "out"]) == 2
    assert f"output {tmp_path / 'out'} holds the results of another plan ({tmp_path / 'plan.toml'})" \
        in capsys.readouterr().err


def test_results_whose_marker_holds_the_plan_path_as_typed_resume_only_for_the_same_plan(tmp_path, monkeypatch,
                                                                                         capsys):
    """Markers written before the plan's path was recorded resolved hold it as typed: the same name
    and the same plan as run resume, an edited plan or another file is refused."""
    plan_path = _one_job_plan(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert batch_main(["plan.toml", "--out", "out"]) == 0
    marker = tmp_path / "out" / "batch.json"
    marker.write_text(json.dumps(json.loads(marker.read_text()) | {"plan": "plan.toml"}))
    capsys.readouterr()
    assert batch_main(["plan.toml", "--out", "out"]) == 0 and "1 done before" in capsys.readouterr().out
    marker.write_text(json.dumps(json.loads(marker.read_text()) | {"plan": "plan.toml"}))
    (tmp_path / "other.toml").write_text(plan_path.read_text())
    assert batch_main(["other.toml", "--out", "out"]) == 2
    plan_path.write_text(plan_path.read_text().replace("[0.5]", "[0.5, 1.5]"))
    assert batch_main(["plan.toml", "--out", "out"]) == 2
    assert "holds the results of another plan (plan.toml)" in capsys.readouterr().err


# python -m svd_attention_lab.batch run, whose second job's row stops before it is moved into place, its .part file
# written
STOP_IN_SECOND_ROW = """
import os, runpy, sys, time
from pathlib import Path

move = os.replace
def replace(src, dst, *args, **kwargs):
    dst = Path(dst)
    if dst.parent.name == "jobs" and any(dst.parent.glob("*.json")):
        time.sleep(3600)  # SIGKILLed here
    return move(src, dst, *args, **kwargs)
os.replace = replace
sys.argv = ["svd_attention_lab.batch", "run", *sys.argv[1:]]
runpy.run_module("svd_attention_lab.batch", run_name="__main__", alter_sys=True)
"""


def test_a_run_killed_mid_write_leaves_no_temporary_file_after_the_rerun(tmp_path, capsys):
    plan_path = _one_job_plan(tmp_path)
    plan_path.write_text(plan_path.read_text().replace("[0.5]", "[0.5, 1.5]"))  # two jobs
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", STOP_IN_SECOND_ROW, str(plan_path), "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not list(out.glob("jobs/.*.part")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the run wrote no second row"
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no finally, no atexit
        proc.wait()
        proc.stderr.close()
    assert len(list(out.glob("jobs/*.json"))) == 1 and len(list(out.glob("jobs/.*.part"))) == 1
    assert batch_main([str(plan_path), "--out", str(out)]) == 0
    assert "1 done before" in capsys.readouterr().out
    assert [p.name for p in out.rglob(".*")] == []  # no temporary file, of any writer
    table = load_results(out / "results.csv")
    assert len(table) == 2 and table.job_id.is_unique
    assert sorted(table.job_id) == sorted(p.stem for p in out.glob("jobs/*.json"))


@pytest.mark.parametrize("name, removed", [
    ("jobs/.0123456789abcdef.json.a1b2c3_d.part", True),
    ("thumbs/.0123456789abcdef.png.abcdefgh.part", True),
    ("videos/.0123456789abcdef.mp4.abcdefgh.part", True),
    (".batch.json.abcdefgh.part", True),
    (".results.parquet.abcdefgh.part", True),
    ("jobs/.notes.txt.abcdefgh.part", False),  # not a name the run writes
    (".report.html.abcdefgh.part", False),  # python -m svd_attention_lab.batch report's, which may be writing it now
    ("thumbs/.0123456789abcdef.json.abcdefgh.part", False),  # not in that folder
    ("mine/.0123456789abcdef.json.abcdefgh.part", False),
    ("jobs/0123456789abcdef.json.abcdefgh.part", False),
    ("jobs/.0123456789abcdef.json.abcdefghi.part", False),
])
def test_a_run_removes_only_its_own_temporary_files(tmp_path, name, removed):
    plan = load_plan(_one_job_plan(tmp_path))
    run_batch(plan, progress=False)
    planted = tmp_path / "batch-results" / name
    planted.parent.mkdir(exist_ok=True)
    planted.write_text("left by a killed run" if removed else "someone's")
    assert run_batch(plan, progress=False).already_done == 1
    assert planted.exists() is not removed


def test_a_folder_another_run_holds_is_refused(tmp_path):
    import fcntl

    plan = load_plan(_one_job_plan(tmp_path))
    run_batch(plan, progress=False)
    fd = os.open(tmp_path / "batch-results", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(PlanError, match=r"plan.toml: output .*batch-results is in use by another run"):
            run_batch(plan, progress=False)
    finally:
        os.close(fd)
    assert run_batch(plan, progress=False).already_done == 1
