"""`nava-eval bench scoring` runs both sides on the same clips and reports consistent numbers (no timing asserted)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nava_eval.runners.cli.main import cli
from nava_eval.runners.perf.scoring import bench_scoring

pytestmark = pytest.mark.slow


def test_bench_scoring_measures_one_and_n_processes(tmp_path):
    result = bench_scoring(2, clips=4, rounds=1, frames=8, size=32, workdir=tmp_path)
    one, two = result.timings
    assert (one.processes, two.processes) == (
        1,
        2,
    ) and one.threads_per_process == two.threads_per_process == 1
    for t in result.timings:
        assert t.clips_per_s == pytest.approx(4 / t.wall_s) and t.score_clips_per_s == pytest.approx(
            4 / t.score_s
        )
        assert 0 < t.score_s < t.wall_s and t.cpu_s > 0 and len(t.wall_all) == 1
    assert result.speedup(1) == pytest.approx(two.clips_per_s / one.clips_per_s)
    assert result.scaling(1) == pytest.approx(result.speedup(1) / 2)
    assert result.machine.cpu and result.metric == "video_quality" and len(result.load_before) == 3
    # Both sides scored the same four clips into the same file.
    a, b = (tmp_path / f"run-{n}" / "scores" / "video_quality.jsonl" for n in (1, 2))
    assert a.read_bytes() == b.read_bytes() and len(a.read_text().splitlines()) == 4


def test_bench_scoring_cli_refuses_more_processes_than_clips():
    result = CliRunner().invoke(cli, ["bench", "scoring", "--nproc", "4", "--clips", "2"])
    assert result.exit_code == 2 and "fewer than --nproc" in result.output
