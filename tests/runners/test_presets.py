"""Presets per benchmark, their checks before any weights load, and `--dry-run`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from nava_eval.rundir.run_file import load_run_file
from nava_eval.runners.cli.main import cli
from nava_eval.runners.nava_backend import check_weights
from nava_eval.runners.presets import PRESETS, get_preset, weight_files
from nava_eval.runners.run import RunRequest, RunSpecMismatch, prepare_run
from nava_eval.runners.seeds import sample_seed


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_each_benchmark_defaults_to_its_own_preset() -> None:
    assert RunRequest(benchmark="versebench").preset_name() == "versebench"
    assert RunRequest(benchmark="seedtts").preset_name() == "seedtts"
    assert RunRequest(benchmark="jsonl:/x.jsonl").preset_name() == "nava"
    # The VerseBench preset is the released fp8 script; the bf16 checkpoint is a named variant.
    vb = PRESETS["versebench"].generation
    assert (vb.dit_file, vb.weight_dtype, vb.vae_tiling) == ("NAVA_fp8.safetensors", "fp8_e4m3fn", True)
    assert weight_files(PRESETS["versebench-bf16"].generation)["dit"] == "NAVA.safetensors"
    # Seed-TTS: --timbre_cfg without a scale (argparse default 1.0), no 3D CFG.
    g = PRESETS["seedtts"].generation.guidance
    assert (g.timbre, g.timbre_cfg, g.align_3d, g.audio, g.audio_align) == (1.0, True, False, 2.0, 2.0)
    assert PRESETS["seedtts-released"].generation.tts_speaker == "released-fallback"
    # smoke = the benchmark's own guidance on tiny weights.
    assert get_preset("smoke", "seedtts").generation.guidance == g
    assert get_preset("smoke", "seedtts").generation.model == "nava-tiny"
    assert get_preset("smoke", "versebench").generation.guidance.align_3d is True


def test_preset_that_does_not_fit_the_benchmark_is_refused(tmp_path: Path) -> None:
    from nava_eval.benchmarks.smoke import write_smoke_dataset

    data = write_smoke_dataset(tmp_path / "data")
    result = invoke("run", "seedtts", "--preset", "versebench", "--data-dir", str(data.seedtts), "--dry-run")
    assert result.exit_code == 1
    assert "preset 'versebench' is made for t2av/i2av samples, but seedtts has tts samples" in result.output
    assert "use --preset seedtts" in result.output
    result = invoke(
        "run", "versebench", "--preset", "seedtts", "--data-dir", str(data.versebench), "--dry-run"
    )
    assert result.exit_code == 1 and "use --preset versebench" in result.output


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = invoke("run", "seedtts", "--preset", "smoke", "--run-dir", str(run_dir), "--dry-run")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["preset"] == "smoke" and plan["mode"] == "tts" and plan["steps"] == 2
    assert plan["guidance"] == {
        "g_v": 3.0, "g_a": 2.0, "g_va": 3.0, "g_aa": 2.0, "g_t": 1.0, "align_3d_cfg": False, "timbre_cfg": True,
    }  # fmt: skip
    assert plan["audio_timing"] == "official" and plan["decode_precision"] == "release"
    assert plan["tts_speaker"] == "embedded" and plan["seed_policy"] == "per-sample"
    assert plan["n_samples"] == len(plan["samples"]) > 0
    for sample in plan["samples"]:
        assert sample["seed"] == sample_seed(100, sample["id"])
    assert not run_dir.exists()
    official = invoke(
        "generate", "seedtts", "--preset", "smoke", "--dry-run", "--seed-policy", "official-rank",
        "--nproc", "2", "--seed", "5", "--audio-timing", "exact",
    )  # fmt: skip
    plan = json.loads(official.output)
    assert plan["audio_timing"] == "exact" and plan["layout"]["dp_groups"] == 2
    first = {s["set"]: s for s in reversed(plan["samples"])}  # first item of each set
    assert all(s["seed"] == 5 and s["dp_group"] == 0 and s["stream_position"] == 0 for s in first.values())


def test_dry_run_of_the_real_presets_needs_no_weights_and_no_torch(tmp_path: Path) -> None:
    from nava_eval.benchmarks.smoke import write_smoke_dataset

    data = write_smoke_dataset(tmp_path / "data")
    code = (
        "import sys; from nava_eval.runners.cli.main import main; sys.argv = ['nava-eval', 'run', 'versebench', "
        f"'--data-dir', {str(data.versebench)!r}, '--dry-run', '--weights-dir', '/nonexistent']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules, 'dry run imported torch'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["preset"] == "versebench" and plan["mode"] == "i2av"
    weights = plan["weights"]
    assert (weights["dit"], weights["weight_dtype"], weights["folder"]) == (
        "NAVA_fp8.safetensors",
        "fp8_e4m3fn",
        "/nonexistent",
    )
    assert weights["audio_vae"] == "params/LTX2/ltx-2.3-22b-dev_audio_vae.safetensors"
    assert weights["video_vae"] == "Wan2.2-TI2V-5B/Wan2.2_VAE.pth" and "ReDimNet" in weights["speaker"]
    assert plan["prompt_source"] == "nava" and plan["vae_tiling"] is True


def _weights_folder(root: Path, dit_name: str, fp8: bool) -> Path:
    from nava_eval.nava.components import AUDIO_VAE_FILE, T5_FILE, TOKENIZER_FILES, VIDEO_VAE_FILE

    for rel in (VIDEO_VAE_FILE, T5_FILE, *TOKENIZER_FILES, AUDIO_VAE_FILE):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    weight = torch.zeros(4, 4, dtype=torch.float8_e4m3fn if fp8 else torch.bfloat16)
    save_file({"backbone.single_blocks.0.ffn.0.weight": weight}, str(root / dit_name))
    return root


def test_fp8_weights_under_a_bf16_preset_fail_before_loading(tmp_path: Path) -> None:
    bf16 = PRESETS["versebench-bf16"].generation
    folder = _weights_folder(tmp_path / "w", "NAVA.safetensors", fp8=True)
    with pytest.raises(ValueError, match=r"NAVA.safetensors holds fp8 weights but the preset loads bf16"):
        check_weights(bf16, folder)
    plain = _weights_folder(tmp_path / "v", "NAVA_fp8.safetensors", fp8=False)
    with pytest.raises(ValueError, match=r"holds no fp8 weights .* --preset versebench-bf16"):
        check_weights(PRESETS["versebench"].generation, plain)
    with pytest.raises(FileNotFoundError, match=r"missing in .*: NAVA.safetensors; run `nava-eval weights"):
        check_weights(bf16, plain)
    check_weights(
        PRESETS["versebench"].generation, _weights_folder(tmp_path / "x", "NAVA_fp8.safetensors", True)
    )


def test_official_rank_refuses_a_resume_on_another_dp_layout(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    request = RunRequest(
        benchmark="seedtts",
        preset="smoke",
        run_dir=run_dir,
        nproc=2,
        overrides={"seed_policy": "official-rank"},
    )
    prepare_run(request)
    prepare_run(request)  # same layout: fine
    with pytest.raises(RunSpecMismatch, match="official-rank was started with 2 data-parallel group"):
        prepare_run(RunRequest(**{**request.__dict__, "nproc": 1}))
    spec = load_run_file(run_dir).spec
    assert spec.generation.audio_timing == "official" and spec.generation.decode_precision == "release"
