"""Data-parallel scoring on CPU processes (gloo): same file as one process, resumes after a kill, folds once."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from media_files import write_clip

from nava_eval.metrics.base import MetricField, ScoreOutcome
from nava_eval.metrics.registry import METRICS
from nava_eval.rundir.layout import RunDir
from nava_eval.rundir.records import load_results, load_score_records
from nava_eval.runners.distributed import WorkerError, spawn_workers
from nava_eval.runners.importing import ImportRequest, import_outputs
from nava_eval.runners.run import aggregate_run, load_prepared
from nava_eval.runners.score_parallel import fold_score_shards, score_in_process

LOG_ENV = "NAVA_EVAL_TEST_ECHO_LOG"
CRASH_ENV = "NAVA_EVAL_TEST_ECHO_CRASH"


def spread(items) -> float:
    """Set-level statistic of the test metric: the population variance of the per-item values."""
    values = [float(v["echo"]) for v in items]
    if len(values) < 2:
        raise ValueError("needs two items")
    return float(np.var(values))


class EchoMetric:
    """value = a number derived from the file's bytes; 01001 is skipped; logs every unit it scores."""

    name = "echo"
    protocol = "echo/test-v1"
    fields = (
        MetricField("echo", "higher"),
        MetricField("spread", "lower", kind="set", reducer="test_score_parallel:spread"),
    )
    requires = frozenset({"video"})
    description = "test"

    def __init__(self, **options):
        self.setups = 0

    def setup(self, device="cpu"):
        self.setups += 1

    def score_batch(self, items):
        out = []
        for item in items:
            log = os.environ.get(LOG_ENV)
            if log:
                with open(log, "a") as fh:
                    fh.write(f"{os.environ.get('RANK', '0')} {item.id}\n")
            if os.environ.get(CRASH_ENV) == f"{os.environ.get('RANK', '0')}:{item.id}":
                os._exit(3)  # a killed scorer: no exception, no cleanup
            if item.id == "01001":
                out.append(ScoreOutcome.skipped("no face track"))
                continue
            digest = hashlib.sha256(Path(item.output).read_bytes()).hexdigest()
            out.append(ScoreOutcome.ok(echo=int(digest[:8], 16) / 2**32))
        return out


ECHO_TARGET = "test_score_parallel:EchoMetric"
OVERRIDES = {"metrics": ("echo",), "device": "cpu", "progress": False, "batch_size": 2, "timeout_s": 60.0}


@pytest.fixture
def echo_registered(monkeypatch):
    METRICS.register("echo", ECHO_TARGET)
    yield
    METRICS.unregister("echo")


def _worker(run_root: str, log: str, crash: str | None, batch_size: int = 2) -> list:
    METRICS.register("echo", ECHO_TARGET)
    os.environ[LOG_ENV] = log
    if crash:
        os.environ[CRASH_ENV] = crash
    return score_in_process(load_prepared(Path(run_root), {**OVERRIDES, "batch_size": batch_size}), ["echo"])


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    src = tmp_path / "outs"
    for n, item in enumerate(["00000", "00001", "300", "301", "01000", "01001"]):
        write_clip(src / f"{item}.mp4", seed=n)
    run = tmp_path / "run"
    import_outputs(ImportRequest("versebench", src, "Echo model", run_dir=run, preset="smoke"))
    return run


def _logged(log: Path) -> list[str]:
    return [line.split()[1] for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.slow
def test_two_processes_write_the_file_one_process_writes(imported: Path, tmp_path: Path, echo_registered):
    other = tmp_path / "run-dp"
    shutil.copytree(imported, other)
    single_log, dp_log = tmp_path / "single.log", tmp_path / "dp.log"

    os.environ[LOG_ENV] = str(single_log)
    try:
        single = score_in_process(load_prepared(imported, OVERRIDES), ["echo"])
    finally:
        os.environ.pop(LOG_ENV)
    per_rank = spawn_workers(_worker, 2, str(other), str(dp_log), None, timeout_s=240)

    assert (other / "scores/echo.jsonl").read_bytes() == (imported / "scores/echo.jsonl").read_bytes()
    assert not (other / "scores/.shards").exists()
    assert per_rank[1] == [] and len(per_rank[0]) == 1
    (total,) = per_rank[0]
    assert (
        (total.scored, total.skipped, total.cached) == (5, 1, 0) == (single[0].scored, single[0].skipped, 0)
    )
    # Each unit scored exactly once, shared between the ranks round-robin in plan order.
    ranks = [line.split()[0] for line in dp_log.read_text().splitlines()]
    assert sorted(_logged(dp_log)) == sorted(_logged(single_log)) and set(ranks) == {"0", "1"}

    # Set-level field computed once, after the fold, from the same per-item values.
    res_single = aggregate_run(load_prepared(imported, OVERRIDES), ["echo"])
    res_dp = aggregate_run(load_prepared(other, OVERRIDES), ["echo"])
    for name in ("echo", "spread"):
        assert res_dp.metrics[name].value == res_single.metrics[name].value
        assert res_dp.metrics[name].ci95 == res_single.metrics[name].ci95
    values = [r.values["echo"] for r in load_score_records(other / "scores/echo.jsonl") if r.status == "ok"]
    assert res_dp.metrics["spread"].value == pytest.approx(np.var(values))
    assert res_dp.metrics["spread"].kind == "set" and res_dp.metrics["echo"].n_skipped == 1
    assert load_results(other).model == "Echo model"

    # A second run finds everything cached, on any world size.
    again = spawn_workers(_worker, 2, str(other), str(tmp_path / "again.log"), None, timeout_s=240)
    assert again[0][0].cached == 6 and again[0][0].scored == 0
    assert not (tmp_path / "again.log").exists()


@pytest.mark.slow
def test_a_killed_scorer_resumes_without_rescoring_what_its_shards_hold(imported: Path, tmp_path: Path):
    log = tmp_path / "crash.log"
    with pytest.raises(WorkerError, match="rank"):
        # Rank 1's share is 00001, 301, 01001 (plan order, round-robin); one per batch, it dies on 301.
        spawn_workers(_worker, 2, str(imported), str(log), "1:301", 1, timeout_s=240)
    run_dir = RunDir(imported)
    kept = {
        json.loads(line)["id"]
        for shard in run_dir.score_shards_dir.glob("echo.rank*.jsonl")
        for line in shard.read_text().splitlines()
    }
    assert "00001" in kept and "301" not in kept

    resume_log = tmp_path / "resume.log"
    METRICS.register("echo", ECHO_TARGET)
    try:
        os.environ[LOG_ENV] = str(resume_log)
        summaries = score_in_process(load_prepared(imported, OVERRIDES), ["echo"])
    finally:
        os.environ.pop(LOG_ENV)
        METRICS.unregister("echo")
    assert set(_logged(resume_log)) == {"00000", "00001", "300", "301", "01000", "01001"} - kept
    assert summaries[0].cached == len(kept)
    ids = [r.id for r in load_score_records(imported / "scores/echo.jsonl")]
    assert sorted(ids) == sorted({"00000", "00001", "300", "301", "01000", "01001"})  # once each
    assert not run_dir.score_shards_dir.exists()


def test_fold_orders_by_plan_and_never_adds_a_line_twice(tmp_path: Path):
    run_dir = RunDir(tmp_path)
    shards = run_dir.score_shards_dir
    shards.mkdir(parents=True)
    line = lambda i: json.dumps({"id": i, "x": 1}, sort_keys=True)  # noqa: E731
    (shards / "m.rank0.jsonl").write_text(f"{line('a')}\n{line('c')}\n")
    (shards / "m.rank1.jsonl").write_text(f"{line('b')}\n{line('d')[:-3]}")  # torn last line: never finished
    run_dir.scores_dir.mkdir(exist_ok=True)
    run_dir.scores("m").write_text(f"{line('c')}\n")  # folded once already before a crash
    added = fold_score_shards(run_dir, "m", {"a": 0, "b": 1, "c": 2, "d": 3})
    assert added == 2
    assert run_dir.scores("m").read_text().splitlines() == [line("c"), line("a"), line("b")]
    assert not shards.exists()


@pytest.mark.slow
def test_cli_score_nproc_2_matches_one_process(tmp_path: Path):
    """`nava-eval score --nproc 2` (torch's elastic launcher, CPU processes) on a real smoke metric."""
    from click.testing import CliRunner

    from nava_eval.runners.cli.main import cli

    src = tmp_path / "outs"
    for n, item in enumerate(["00000", "00001", "300", "301"]):
        write_clip(src / f"{item}.mp4", seed=n, frames=4)
    runs = [tmp_path / "one", tmp_path / "two"]
    for run in runs:
        import_outputs(
            ImportRequest("versebench", src, "M", run_dir=run, preset="smoke", selection=_first_four())
        )
    outputs = []
    for run, nproc in zip(runs, ("1", "2"), strict=True):
        result = CliRunner().invoke(
            cli, ["score", str(run), "--metrics", "video_quality", "--nproc", nproc, "--no-progress"]
        )
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "4 scored, 0 cached" in outputs[1]
    a, b = (run / "scores/video_quality.jsonl" for run in runs)
    assert a.read_bytes() == b.read_bytes()
    ra, rb = load_results(runs[0]), load_results(runs[1])
    assert ra.metrics["video_quality"].value == rb.metrics["video_quality"].value


def _first_four():
    from nava_eval.benchmarks.base import SampleSelection

    return SampleSelection(sets=("set1", "set2"))


def _generate_then_score_worker() -> bool:
    from nava_eval.runners import distributed as d

    generation = d.init_distributed(1, 60.0, "gloo")  # the generate stage, left up (keep_process_group)
    d.barrier(generation)
    scoring = d.init_distributed(1, 60.0, "gloo")  # what `run` does under torchrun next: score
    d.barrier(scoring)
    reused = not scoring.owns_process_group
    d.destroy(scoring)  # not the scorer's group: a no-op
    d.barrier(generation)
    d.destroy(generation)
    return reused


@pytest.mark.slow
def test_score_stage_reuses_the_generation_process_group_under_the_elastic_launcher():
    """Under torchrun the generate stage leaves its process group up and the score stage reuses it
    (torch cannot make a second gloo group after one with subgroups was destroyed)."""
    from torch.distributed.launcher.api import elastic_launch

    from nava_eval.interrupts import restored_signal_handlers
    from nava_eval.runners.distributed import local_launch_config

    with restored_signal_handlers():
        assert elastic_launch(local_launch_config(2, "test-reinit"), _generate_then_score_worker)() == {
            0: True,
            1: True,
        }


def _torchrun_run_worker(run_dir: str) -> int:
    """One torchrun rank running `nava-eval run` in-process (what `torchrun -m nava_eval.runners.cli run` does)."""
    from click.testing import CliRunner

    from nava_eval.runners.cli.main import cli

    args = ["run", "versebench", "--preset", "smoke", "--sets", "set3", "--metrics", "video_quality"]
    result = CliRunner().invoke(cli, [*args, "--device", "cpu", "--no-progress", "--run-dir", run_dir])
    if result.exit_code != 0:
        raise RuntimeError(result.output + repr(result.exception))
    return result.exit_code


@pytest.mark.slow
def test_run_under_torchrun_generates_then_scores_on_every_rank(tmp_path: Path):
    """The whole `run` under an external launcher: generation, then scoring on the same process group."""
    from torch.distributed.launcher.api import elastic_launch

    from nava_eval.interrupts import restored_signal_handlers
    from nava_eval.rundir.records import load_results
    from nava_eval.runners.distributed import local_launch_config

    run_dir = tmp_path / "vb"
    with restored_signal_handlers():
        returned = elastic_launch(local_launch_config(2, "test-torchrun-run"), _torchrun_run_worker)(
            str(run_dir)
        )
    assert returned == {0: 0, 1: 0}
    results = load_results(run_dir)
    assert results.n_samples == 2 and results.metrics["video_quality"].n == 2
    lines = (run_dir / "scores" / "video_quality.jsonl").read_text().splitlines()
    assert len(lines) == 2 and not any((run_dir / "scores" / ".shards").glob("*.jsonl"))


def test_unknown_metric_fails_before_any_worker_starts(imported: Path):
    from nava_eval.errors import UnknownName
    from nava_eval.runners.score_parallel import score_run

    # Checked where the request is read (score, run), and again by the launcher for API callers.
    with pytest.raises(UnknownName, match="unknown metric.*bogus.*; valid metrics: .*video_quality"):
        load_prepared(imported, {**OVERRIDES, "metrics": ("bogus",), "nproc": 2})
    prepared = load_prepared(imported, {**OVERRIDES, "metrics": ("video_quality",), "nproc": 2})
    with pytest.raises(UnknownName, match="unknown metric.*'bogus'; valid metrics: .*video_quality"):
        score_run(prepared, ["bogus"])
