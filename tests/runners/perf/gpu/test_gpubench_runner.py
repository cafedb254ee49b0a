"""The small plan on CPU through every section: values checked, model restored, failures contained."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from nava_eval.nava.checkpoint import Fp8Linear
from nava_eval.runners.perf.gpu import runner
from nava_eval.runners.perf.gpu.plan import small_plan
from nava_eval.runners.perf.gpu.report import JSON_NAME, MARKDOWN_NAME


def _plan(**changes):
    # The eager backend runs the same wrapping and restoring as inductor without minutes of C++ builds.
    return small_plan().replace(compile_backend="eager", budget_s=600.0, max_repeats=1, **changes)


def _checks(report, name):
    section = report.section(name)
    assert section.status == "ok", (name, section.error)
    return section


@pytest.mark.slow
def test_model_sections_measure_and_restore_the_model(tmp_path, monkeypatch) -> None:
    kept = {}
    original = runner.compile_bench.restore_blocks

    def spy(model, eager):
        original(model, eager)
        kept["model"] = model

    monkeypatch.setattr(runner.compile_bench, "restore_blocks", spy)
    report = runner.run_gpu_bench(
        _plan(), tmp_path, sections=["ceiling", "step", "attention", "fp8", "compile", "projection"]
    )
    assert [s.name for s in report.sections] == [
        "ceiling", "model", "step", "attention", "fp8", "compile", "projection",
    ]  # fmt: skip
    ceiling = _checks(report, "ceiling")
    assert ceiling.measurements[0].mfu == 1.0 and ceiling.checks["matmul_ceiling_tflops"] > 0

    model = _checks(report, "model")
    assert model.checks["video_tokens"] == 16 and model.checks["audio_tokens"] == 14
    assert model.checks["passes"] == "CUM"

    step = _checks(report, "step")
    batched, sequential = step.measurements
    assert batched.flops == sequential.flops == model.checks["step_flops"]
    assert batched.mfu == pytest.approx(batched.flops_per_s / (ceiling.measurements[0].flops_per_s))
    assert float(step.checks["batched_vs_sequential_rel_error"]) < 1e-5  # fp32: same function

    attention = _checks(report, "attention")
    by_label = {m.label.split(" (")[0]: m for m in attention.measurements}
    assert by_label["attention flash"].seconds is not None and by_label["attention math"].seconds is not None
    assert float(attention.checks["math_vs_flash_rel_error"]) < 1e-5
    assert "unavailable" in by_label["attention flash-attn"].note  # CUDA only
    steps = [m for m in attention.measurements if m.label.startswith("step")]
    assert steps and all("rel. diff vs default step" in m.note for m in steps)

    fp8 = _checks(report, "fp8")
    assert fp8.checks["fp8_linears"] > 0
    assert fp8.checks["weight_bytes_fp8"] < fp8.checks["weight_bytes_bf16"]
    for gemm in ("dequant", "scaled_mm"):
        assert 0 < float(fp8.checks[f"{gemm}_vs_bf16_rel_error"]) < 0.1

    compiled = _checks(report, "compile")
    assert float(compiled.checks["compiled_vs_eager_rel_error"]) < 1e-5
    restored = kept["model"]
    assert not any(isinstance(m, Fp8Linear) for m in restored.modules())
    assert all(
        type(b).__name__ != "OptimizedModule" for b in (*restored.double_blocks, *restored.single_blocks)
    )

    assert report.projection["missing_figures"] == [
        "video_decode_s", "audio_decode_s", "sync_s_per_clip", "video_quality_s_per_clip",
    ]  # fmt: skip
    data = json.loads((tmp_path / JSON_NAME).read_text())
    assert data["machine"]["device"] == "cpu" and data["plan"]["config"]["dim"] == 256
    assert "## Denoising step" in (tmp_path / MARKDOWN_NAME).read_text()


def test_decode_sections(tmp_path) -> None:
    report = runner.run_gpu_bench(_plan(), tmp_path, sections=["video_vae", "audio_vae"])
    video = _checks(report, "video_vae")
    assert [m.label.split(",")[0] for m in video.measurements] == [
        "tiny VAE decode release",
        "tiny VAE decode bf16",
    ]
    assert "fp32 math, bf16-rounded weights" in video.measurements[0].note
    assert video.checks["latent"] == [1, 48, 4, 4, 4]
    audio = _checks(report, "audio_vae")
    assert audio.checks["waveform"].startswith("[1, 2, ")
    assert audio.measurements[0].label.endswith("fp32")  # CPU: no bf16 autocast
    assert report.projection is None


@pytest.mark.slow
def test_scoring_sections_reach_the_scorers(tmp_path) -> None:
    clips = dataclasses.replace(small_plan().clips, count=2, frames=12)  # > 10 frames: smoke tracks
    plan = _plan(clips=clips, sync_package=True)
    report = runner.run_gpu_bench(plan, tmp_path, sections=["sync", "video_quality", "projection"])
    assert [s.name for s in report.sections] == ["clips", "sync", "video_quality", "projection"]
    _checks(report, "clips")
    sync = _checks(report, "sync")
    assert sync.checks["sync_statuses"] == "ok 2"  # tracking, crops and SyncNet ran on both clips
    assert sync.checks["sync_batched_speedup"] > 0
    package = sync.find("sync: syncnet-python per clip")
    assert package.seconds > 0 and len(package.seconds_all) == 2, package.note
    assert sync.checks["sync_batched_speedup_vs_package"] > 0
    quality = _checks(report, "video_quality")
    assert quality.checks["video_quality_statuses"] == "ok 2"
    assert report.projection["missing_figures"] == ["bf16_step_s", "video_decode_s", "audio_decode_s"]


def test_a_failing_section_is_recorded_and_the_rest_run(tmp_path, monkeypatch) -> None:
    def broken(ctx, section, deadline):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    sections = tuple(dataclasses.replace(s, run=broken) if s.name == "model" else s for s in runner.SECTIONS)
    monkeypatch.setattr(runner, "SECTIONS", sections)
    report = runner.run_gpu_bench(_plan(), tmp_path, sections=["ceiling", "step", "fp8", "projection"])
    status = {s.name: s.status for s in report.sections}
    assert status == {
        "ceiling": "ok",
        "model": "error",
        "step": "skipped",
        "fp8": "skipped",
        "projection": "ok",
    }
    assert (
        report.section("model").error == "RuntimeError: CUDA error: an illegal memory access was encountered"
    )
    assert "needs the model section" in report.section("step").error
    assert [s.name for s in report.failed] == ["model"]
    data = json.loads((tmp_path / JSON_NAME).read_text())
    assert [s["status"] for s in data["sections"]] == list(status.values())


def test_unknown_sections_are_named() -> None:
    with pytest.raises(ValueError, match=r"unknown section\(s\) stpe; valid: ceiling, model, step"):
        runner.select_sections(["stpe"])
    assert [s.name for s in runner.select_sections(["sync"])] == ["clips", "sync"]


def test_cpu_tensors_stay_on_cpu() -> None:
    assert torch.device(small_plan().device).type == "cpu"
