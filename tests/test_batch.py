"""Batch plans on the demo model: the local and the Ray engine agree bitwise, baselines are rendered
once per group, a killed Ray worker and an interrupted run still end with every job exactly once."""

import os
import signal
from types import SimpleNamespace

import pandas as pd
import pytest

from svd_attention_lab.batch import PlanError, estimate, load_plan, load_results, run_batch, write_report
from svd_attention_lab.batch._cli import batch_main, report_main
from svd_attention_lab.engine import DEMO_MODEL_DIR
from tiny_models import count_renders

EXAMPLES = DEMO_MODEL_DIR.parents[2] / "examples"
PLAN = f"""
model = "demo"
output = "results"
images = ["{EXAMPLES}/shapes-1.png", "{EXAMPLES}/shapes-3.png"]
seeds = [0, 1]
threads = 1

[multipliers]
self_temporal = [0.5, 1.0, 1.5]

[settings]
frames = 4
steps = 3
decode_chunk_size = 4
"""


def _plan(folder, text=PLAN, name="plan.toml"):
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def local_results(tmp_path_factory):
    """The plan run once by the local engine with its videos saved, and the renders it made."""
    folder = tmp_path_factory.mktemp("local")
    plan = load_plan(_plan(folder))
    with pytest.MonkeyPatch.context() as monkeypatch:
        renders = count_renders(monkeypatch)
        report = run_batch(plan, progress=False, save_videos=True)
    return SimpleNamespace(report=report, table=load_results(report.table), renders=renders, folder=folder)


def test_the_local_engine_renders_each_groups_baseline_once(tmp_path, local_results):
    assert estimate(load_plan(_plan(tmp_path))) == {"jobs": 12, "groups": 4, "renders": 12,
                                                    "renders_without_reuse": 24, "to_do": 12}
    report, table, results = local_results.report, local_results.table, local_results.folder / "results"
    assert report.done == len(table) == 12 and table.job_id.is_unique
    assert sorted(p.stem for p in (results / "videos").glob("*.mp4")) == sorted(table.job_id)
    assert sum(local_results.renders) == report.renders == 4 + 8  # 4 baselines, 8 patched (1.0 is the baseline)
    assert (table.groupby("group_id").renders.sum() == 3).all()
    identity = table[table.self_temporal == 1.0]
    assert (identity.baseline_sha256 == identity.patched_sha256).all() and (identity.mean_change_vs_baseline == 0).all()
    assert pd.read_parquet(results / "results.parquet").equals(table)


def test_ray_with_a_killed_worker_gives_the_local_table_bitwise_and_every_job_once(tmp_path, local_results):
    plan = load_plan(_plan(tmp_path))
    killed = []

    def kill_a_worker(result, runner):
        if not killed:  # the actor that returned the first group has been handed the next one: mid-group
            victim = int(result.row["worker"].rsplit(":", 1)[1])
            assert victim in runner.pids  # (asking the actors now would wait for their current group)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    report = run_batch(plan, engine="ray", workers=2, progress=False, on_result=kill_a_worker)
    table = load_results(report.table)
    local = local_results.table
    assert killed and report.done == len(table) == 12 and table.job_id.is_unique
    columns = ["job_id", "group_id", "seed", "self_temporal", "baseline_sha256", "patched_sha256",
               "mean_change_vs_baseline"]
    assert table[columns].equals(local[columns])  # bitwise the same frames, whichever engine and worker
    assert table.worker.nunique() == 3  # the killed actor, restarted in a new process, redid the group it had


def test_an_interrupted_run_resumes_and_renders_only_what_is_missing(tmp_path, counted_renders, local_results):
    plan = load_plan(_plan(tmp_path))

    def interrupt(result, runner):
        if len(list((tmp_path / "results" / "jobs").iterdir())) == 5:
            raise KeyboardInterrupt

    first = run_batch(plan, progress=False, on_result=interrupt)
    assert first.interrupted and first.done == 5 and len(load_results(first.table)) == 5
    expected = estimate(plan)
    assert expected["to_do"] == 7
    counted_renders.clear()
    second = run_batch(plan, progress=False)
    table = load_results(second.table)
    assert not second.interrupted and second.already_done == 5 and second.done == 7
    assert sum(counted_renders) == second.renders == expected["renders"]
    columns = ["job_id", "patched_sha256"]
    assert table.job_id.is_unique and table[columns].equals(local_results.table[columns])
    counted_renders.clear()
    third = run_batch(plan, progress=False)
    assert third.done == 0 and sum(counted_renders) == 0


@pytest.mark.parametrize(
    "change, message",
    [
        (("threads = 1", "thread = 1"), "unknown key 'thread'"),
        (("shapes-3.png", "nope-*.png"), r"images\[1\] .*nope-\*.png' matches no image"),
        (("[0.5, 1.0, 1.5]", "[0.5, 11.0]"), r"multipliers.self_temporal\[1\] must be between 0.0 and 10.0"),
        (("self_temporal =", "self_temperal ="), "multipliers.self_temperal is not a multiplier"),
        (("seeds = [0, 1]", "seeds = [0, 1.5]"), r"seeds\[1\] must be a whole number"),
        (("steps = 3", "seed = 3"), "settings.seed is not a render setting \\(seeds are given by the plan's seeds\\)"),
        (("steps = 3", "steps = 0"), "settings: steps must be between"),
        (("[multipliers]\nself_temporal = [0.5, 1.0, 1.5]", ""), "nothing to compare"),
        (("model = \"demo\"", "model = \"nowhere/at/all\""), "model: model 'nowhere/at/all' is neither"),
        (("[settings]", "[settings"), "not valid TOML"),
    ],
)
def test_bad_plans_are_refused_before_any_render(tmp_path, counted_renders, change, message):
    path = _plan(tmp_path, PLAN.replace(*change))
    with pytest.raises(PlanError, match=message):
        run_batch(load_plan(path), progress=False)
    assert counted_renders == [] and not (tmp_path / "results").exists()


def test_json_plans_ranges_and_presets(tmp_path):
    path = _plan(tmp_path, '{"images": ["%s"], "seeds": {"start": 3, "stop": 6}, '
                           '"presets": ["Damped temporal attention"], "multipliers": {"cross_temporal": [0.8, 1.2]}}'
                 % (EXAMPLES / "shapes-2.png"), name="plan.json")
    plan = load_plan(path)
    assert plan.seeds == (3, 4, 5) and len(plan.grid) == 3 and plan.output == tmp_path / "batch-results"


def test_the_report_plots_each_multiplier_with_intervals_and_shows_renders(local_results, tmp_path):
    report = local_results.report
    figure = tmp_path / "figure.png"
    page = write_report(report.table.parent, figure=figure).read_text()
    assert "<h2>self_temporal</h2>" in page and "other multipliers at 1" in page
    assert page.count("data:image/png;base64,") == 1 + 3  # the plots, one render per value
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "&quot;seeds&quot;: [" in page  # the plan, escaped


def test_the_command_line(tmp_path, capsys):
    path = _plan(tmp_path)
    assert batch_main([str(path), "--dry-run"]) == 0
    assert "12 jobs (2 images x 2 seeds x 3 multiplier settings), 12 to do; 12 renders with baseline reuse " \
           "(24 without)" \
        in capsys.readouterr().out
    assert batch_main([str(_plan(tmp_path, "images = []\n[multipliers]\nself_temporal = [1.2]", "bad.toml"))]) == 2
    assert "images must be a non-empty list" in capsys.readouterr().err
    assert report_main([str(tmp_path / "nothing")]) == 2
    assert "no results table" in capsys.readouterr().err


def test_a_plan_re_run_with_another_base_renders_its_jobs_again(tmp_path, counted_renders):
    """A UNet-only file takes its VAE and image encoder from --base; another base is another model."""
    import shutil

    from safetensors.torch import save_file

    from svd_attention_lab.checkpoints import UnetLayout, diffusers_to_sgm
    from svd_attention_lab.engine import load_model

    unet = load_model("demo", device="cpu", dtype="float32").pipe.unet
    layout = UnetLayout.from_config(unet.config)
    unet_file = tmp_path / "unet.safetensors"
    save_file({diffusers_to_sgm(k, layout): v.contiguous() for k, v in unet.state_dict().items()}, str(unet_file))
    other_base = shutil.copytree(DEMO_MODEL_DIR, tmp_path / "other-base")
    text = (PLAN.replace('model = "demo"', f'model = "{unet_file}"').replace(', "{}/shapes-3.png"'.format(EXAMPLES), "")
            .replace("seeds = [0, 1]", "seeds = [0]").replace("[0.5, 1.0, 1.5]", "[0.5]"))
    plan = load_plan(_plan(tmp_path, text))

    renders = []
    for base in (DEMO_MODEL_DIR, DEMO_MODEL_DIR, other_base):
        counted_renders.clear()
        report = run_batch(plan, progress=False, model_options={"base": str(base), "device": "cpu"})
        renders.append((report.done, sum(counted_renders)))
    assert renders == [(1, 2), (0, 0), (1, 2)]  # baseline + patched; nothing again; both again for the new base
    assert [f"base=folder:{other_base}" in key for key in load_results(report.table).model] == [True]
