"""The CFG-batching benchmark runs, reports every setting and confirms batched == sequential."""

from __future__ import annotations

from click.testing import CliRunner

from nava_eval.runners.cli.bench_sampler import command
from nava_eval.runners.perf.sampler import bench_cfg_batching


def test_bench_cfg_batching_tiny() -> None:
    result = bench_cfg_batching("nava-tiny", latent_grid=(1, 4, 4), audio_tokens=5, repeats=2, warmup=0)
    assert [t.max_batch for t in result.timings] == [1, 2, 4]
    assert result.timings[0].speedup == 1.0 and all(t.seconds > 0 for t in result.timings)
    assert all(len(t.seconds_all) == 2 for t in result.timings)
    assert result.video_tokens == 4 and result.audio_tokens == 5 and result.passes == ("C", "U", "M", "S")
    assert result.max_abs_diff < 1e-5


def test_bench_sampler_command() -> None:
    args = ["--config", "nava-tiny", "--device", "cpu", "--grid", "1", "4", "4", "--audio-tokens", "5"]
    out = CliRunner().invoke(command, [*args, "--passes", "CU", "--repeats", "1"])
    assert out.exit_code == 0, out.output
    assert (
        "passes CU" in out.output
        and "1 pass(es)/forward" in out.output
        and "2 pass(es)/forward" in out.output
    )
    bad = CliRunner().invoke(command, [*args, "--passes", "CX"])
    assert bad.exit_code != 0 and "CUMS" in bad.output
