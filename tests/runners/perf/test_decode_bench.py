"""`bench scoring --decode-once`: IB-Score and DeSync decode each clip once together, twice apart,
and score the same numbers either way."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nava_eval.runners.perf.decode import bench_decode, sharing_metric_names


def test_ib_and_desync_share_a_decode() -> None:
    assert {"ib", "desync"} <= set(sharing_metric_names())


@pytest.mark.slow  # two rounds of two networks on synthetic clips (~10 s)
def test_bench_counts_one_decode_per_clip_when_shared() -> None:
    result = bench_decode(clips=2, seconds=6.0, size=(160, 96), chunk=2, rounds=1, metrics=["ib", "desync"])
    assert result.metrics == ("ib", "desync")
    assert result.per_metric.decodes == 4 and result.decoded_once.decodes == 2
    assert result.per_metric.wall_s > 0 and result.decoded_once.wall_s > 0
    assert result.speedup == result.per_metric.wall_s / result.decoded_once.wall_s
    assert result.machine.cpu_threads >= 1


def test_shared_and_separate_decodes_score_the_same() -> None:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from nava_eval.metrics.base import ScoreInput, get_metric
    from nava_eval.metrics.shared_media import MediaCache
    from nava_eval.runners.perf.sync import write_synthetic_clip

    with TemporaryDirectory() as tmp:
        paths = [
            write_synthetic_clip(Path(tmp) / f"c{i}.mp4", n_frames=150, size=(160, 96), seed=i)
            for i in range(2)
        ]
        items = [ScoreInput(p.stem, "set1", p) for p in paths]
        separate = {n: get_metric(n, smoke=True).score_batch(items) for n in ("ib", "desync")}
        shared_cache = MediaCache()
        metrics = {name: get_metric(name, smoke=True) for name in ("ib", "desync")}
        for metric in metrics.values():  # as a pass does: every stream registered before the first decode
            metric.share_media(shared_cache)
        together = {name: metric.score_batch(items) for name, metric in metrics.items()}
        assert shared_cache.stats.decodes == 2 and shared_cache.stats.hits >= 2
    for name in ("ib", "desync"):
        assert [o.values for o in together[name]] == [o.values for o in separate[name]], name
        assert all(o.status == "ok" for o in together[name])


@pytest.mark.slow  # the CLI path of the same bench
def test_cli_prints_json_with_the_machine() -> None:
    from nava_eval.runners.cli.main import cli

    out = CliRunner().invoke(
        cli, ["bench", "scoring", "--decode-once", "--clips", "2", "--rounds", "1", "--json"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output.strip().splitlines()[-1])
    assert data["per_metric"]["decodes"] == 2 * data["decoded_once"]["decodes"] and "machine" in data
