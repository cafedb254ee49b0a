"""doctor's memory estimate and bench gpu's FLOP count follow the clip shape; group offload lowers the DiT term."""

from __future__ import annotations

from click.testing import CliRunner

from nava_eval.nava.config import NavaConfig
from nava_eval.runners import memory as M
from nava_eval.runners.perf.gpu.flops import ForwardShape, clip_step_grid, forward_flops, video_tokens


def test_memory_estimate_follows_the_shape() -> None:
    default = M.estimate("versebench-bf16")
    assert M.estimate("versebench-bf16", shape=(1280, 704, 37)) == default
    portrait = M.estimate("versebench-bf16", shape=(704, 1280, 37))
    assert (
        portrait.video_tokens == default.video_tokens and portrait.dit_activations == default.dit_activations
    )
    longer = M.estimate("versebench-bf16", shape=(1280, 704, 61))
    assert longer.video_tokens == 61 * 22 * 40 and longer.audio_tokens == 252
    assert longer.dit_activations > default.dit_activations and longer.peak > default.peak
    square = M.estimate("versebench-bf16", M.MemorySwitches(vae_tiling=False), shape=(960, 960, 37))
    assert square.decode == M.decode_bytes(960, 960, tiled=False)
    # 720 px: an odd latent grid (45) padded to the patch, as the model runs it.
    assert M.token_counts(1280, 720, 37)[0] == 37 * 23 * 40


def test_group_offload_keeps_two_groups_of_blocks_on_the_gpu() -> None:
    full = M.estimate("versebench-bf16", M.MemorySwitches())
    offload = M.estimate("versebench-bf16", M.MemorySwitches(group_offload=1))
    largest, outside = M.dit_block_parameter_counts("nava-6b")
    assert offload.dit_weights == (outside + 2 * largest) * M.BF16 < full.dit_weights
    assert M.estimate("versebench-bf16", M.MemorySwitches(group_offload=2)).dit_weights > offload.dit_weights


def test_doctor_memory_table_at_a_shape() -> None:
    from nava_eval.runners.cli.doctor import command

    result = CliRunner().invoke(
        command, ["--no-weights", "--width", "704", "--height", "1280", "--frames", "61"]
    )
    assert "at 704x1280, 61 latent frames" in result.output.replace("\n", " ") or "704x1280" in result.output
    bad = CliRunner().invoke(command, ["--no-weights", "--width", "700"])
    assert bad.exit_code == 2 and "nearest valid: 704" in bad.output
    from nava_eval.nava.shapes import MAX_LATENT_FRAMES, MAX_SIDE, MIN_SIDE
    from nava_eval.runners.cli.options import FRAMES_RANGE, SIDE_RANGE

    assert (SIDE_RANGE.min, SIDE_RANGE.max, FRAMES_RANGE.max) == (MIN_SIDE, MAX_SIDE, MAX_LATENT_FRAMES)


def test_flops_follow_the_shape() -> None:
    config = NavaConfig.for_model("nava-6b")
    grid, audio = clip_step_grid(1280, 704, 37)
    assert grid == (37, 44, 80) and audio == 152
    long_grid, long_audio = clip_step_grid(1280, 704, 61)
    base = forward_flops(config, ForwardShape(video_tokens(config, grid), audio))
    longer = forward_flops(config, ForwardShape(video_tokens(config, long_grid), long_audio))
    assert longer.total > base.total and longer.attention / base.attention > (61 / 37) ** 2 * 0.95
    assert clip_step_grid(704, 1280, 37)[0] == (37, 80, 44)


def test_group_offload_is_recorded_not_hashed(tmp_path) -> None:
    import json

    from nava_eval.benchmarks.smoke import write_smoke_dataset
    from nava_eval.runners.cli.main import cli

    data = write_smoke_dataset(tmp_path / "d").versebench
    common = [
        "run",
        "versebench",
        "--preset",
        "smoke",
        "--data-dir",
        str(data),
        "--run-dir",
        str(tmp_path / "r"),
    ]
    plain = json.loads(CliRunner().invoke(cli, [*common, "--dry-run"]).output)
    offload = json.loads(CliRunner().invoke(cli, [*common, "--group-offload", "2", "--dry-run"]).output)
    assert plain["memory"] == {"t5_offload": False, "group_offload": None}
    assert offload["memory"]["group_offload"] == 2 and offload["spec_hash"] == plain["spec_hash"]
    bad = CliRunner().invoke(cli, [*common, "--group-offload", "0", "--dry-run"])
    assert bad.exit_code == 2 and "--group-offload" in bad.output


def test_bench_gpu_refuses_a_shape_before_running() -> None:
    from nava_eval.runners.cli.bench_gpu import command

    result = CliRunner().invoke(command, ["--device", "cpu", "--small", "--width", "700"])
    assert result.exit_code == 2 and "nearest valid: 704" in result.output
