"""Multi-seed runs (--seeds): each item once per run seed in one run directory, resumable, seeds named everywhere."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nava_eval.benchmarks.base import Sample
from nava_eval.rundir.records import load_results, load_sample_records, load_score_records
from nava_eval.runners.cli.main import cli
from nava_eval.runners.cli.options import parse_seeds
from nava_eval.runners.generate import plan_seed_replicates
from nava_eval.runners.run import RunRequest, resolve_seeds
from nava_eval.runners.seeds import sample_seed


def test_seed_options() -> None:
    assert parse_seeds("100,101, 102", None, None, 100) == (100, 101, 102)
    assert parse_seeds(None, 3, 7, 100) == (7, 8, 9)
    assert parse_seeds(None, 2, None, 100) == (100, 101)
    assert parse_seeds(None, None, None, 100) is None
    with pytest.raises(click.BadParameter, match="not both"):
        parse_seeds("1,2", 2, None, 100)
    with pytest.raises(click.BadParameter, match="comma-separated list of integers"):
        parse_seeds("1,x", None, None, 100)
    # One seed is an ordinary run with that seed; a list sets the first as the settings' seed.
    assert resolve_seeds(RunRequest("versebench", seeds=(5,))) == ({"seed": 5}, None)
    assert resolve_seeds(RunRequest("versebench", seeds=(5, 6))) == ({"seed": 5}, [5, 6])
    with pytest.raises(ValueError, match="listed twice"):
        resolve_seeds(RunRequest("versebench", seeds=(5, 5)))


def test_plan_deals_each_seed_round_robin_and_skips_what_is_done() -> None:
    samples = [Sample(id=f"i{k}", set="s", prompt="p") for k in range(3)]
    work = plan_seed_replicates(samples, {"i0@100", "i2@101"}, 2, [100, 101], seed=100)
    units = [[(s.id, run_seed) for a, run_seed in group for s in a.samples] for group in work]
    assert units == [[("i1", 100), ("i0", 101)], [("i2", 100), ("i1", 101)]]
    # Each run seed is what --seed is for a single-seed run: per-sample seeds derive from it.
    assert work[0][0][0].seeds == [sample_seed(100, "i1")] and work[0][1][0].seeds == [sample_seed(101, "i0")]
    single = plan_seed_replicates(samples, {"i1"}, 1, [None], seed=42)
    ((assignment, run_seed),) = single[0]
    assert run_seed is None and [s.id for s in assignment.samples] == ["i0", "i2"]
    assert assignment.seeds == [sample_seed(42, "i0"), sample_seed(42, "i2")]


@pytest.mark.slow
def test_smoke_run_with_two_seeds(tmp_path: Path) -> None:
    run = tmp_path / "ms"
    args = ["run", "versebench", "--preset", "smoke", "--ids", str(_ids(tmp_path)), "--seeds", "100,101",
            "--metrics", "video_quality", "--run-dir", str(run), "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2 samples × 2 seeds" in result.output
    records = load_sample_records(run / "samples.jsonl")
    assert sorted((r.id, r.run_seed, r.output) for r in records) == [
        ("00000", 100, "outputs/seed100/set1/00000.mp4"),
        ("00000", 101, "outputs/seed101/set1/00000.mp4"),
        ("01000", 100, "outputs/seed100/set3/01000.mp4"),
        ("01000", 101, "outputs/seed101/set3/01000.mp4"),
    ]
    assert all(r.seed == sample_seed(r.run_seed, r.id) for r in records)
    by_key = {(r.id, r.run_seed): r.output_sha256 for r in records}
    assert by_key[("00000", 100)] != by_key[("00000", 101)]  # the seed changes the output
    scores = load_score_records(run / "scores/video_quality.jsonl")
    assert sorted((s.id, s.run_seed) for s in scores) == sorted(by_key)
    results = load_results(run)
    vq = results.metrics["video_quality"]
    assert results.seeds == [100, 101] and vq.seeds == [100, 101] and vq.n == 4
    assert vq.value == pytest.approx(sum(v for v in vq.per_seed.values()) / 2)
    assert vq.seed_sd is not None and (results.n_samples, results.n_outputs) == (4, 4)
    assert "[sd " in (run / "report.md").read_text()

    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0 and "0 generated" in again.output and "4 cached" in again.output
    more = CliRunner().invoke(cli, [a if a != "100,101" else "100,101,102" for a in args])
    assert more.exit_code == 1 and "generated with other settings" in more.output


def _ids(tmp_path: Path) -> Path:
    path = tmp_path / "ids.txt"
    path.write_text("00000\n01000\n")
    return path
