"""CUDA checks. Each is marked `gpu` (skipped with its reason on CPU by tests/conftest.py); its CPU
twin is named in the docstring and always runs."""

from __future__ import annotations

import pytest
import torch

from nava_eval.nava.config import NavaConfig
from nava_eval.nava.modeling.model import NavaModel

pytestmark = pytest.mark.gpu


def test_reference_folder_passes_on_cuda_fp32(shared_dir):
    """CPU twin: tests/nava/test_verify_model.py (same folder, same tolerances, on CPU)."""
    from nava_eval.nava.verify.model import verify_folder

    result = verify_folder(shared_dir / "fixtures" / "nava_tiny", device="cuda")
    assert result.ok, [r for r in result.results if r.status != "pass"]


def test_bf16_autocast_forward_tracks_fp32():
    """CPU twin: the fp32 fixture cases; here the CUDA bf16 policy stays close to CUDA fp32."""
    from nava_eval.nava.checkpoint import inference_autocast

    torch.manual_seed(0)
    model = NavaModel(NavaConfig.for_model("nava-tiny")).cuda().eval()
    video = torch.randn(1, 48, 2, 4, 4, device="cuda")
    audio = torch.randn(1, 9, 128, device="cuda")
    context = torch.randn(1, 6, model.config.text_dim, device="cuda")
    t = torch.tensor([500], device="cuda")
    with torch.no_grad():
        ref = model(video, audio, t, context)
        with inference_autocast(torch.device("cuda")):
            low = model(video, audio, t, context)
    for a, b in ((ref.video, low.video), (ref.audio, low.audio)):
        rel = (a.float() - b.float()).norm() / a.float().norm()
        assert rel < 3e-2


def test_flash_attention_matches_sdpa_when_installed():
    """CPU twin: tests/nava/test_modeling_layers.py (SDPA vs math attention)."""
    from nava_eval.nava.modeling import attention

    if not attention.flash_attn_available():
        pytest.skip("flash-attn is not installed (pip install 'nava-eval[gpu]')")
    q, k, v = (torch.randn(1, 64, 4, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    flash = attention.attention(q, k, v, backend="flash")
    sdpa = attention.attention(q, k, v, backend="sdpa")
    assert torch.allclose(flash.float(), sdpa.float(), atol=2e-2)


@torch.no_grad()
def test_release_video_decode_on_cuda():
    """The release's arrangement (bf16 weights under an fp32 CUDA autocast) equals our rounded fp32 weights.
    CPU twin: tests/nava/test_video_vae.py::test_release_precision_rounds_weights_to_bf16_cpu_twin."""
    from nava_eval.nava.video_vae import WAN22_VAE_CONFIG, WanVideoVAE, build_wan22_autoencoder

    tiny = dict(WAN22_VAE_CONFIG, base_dim=8, decoder_base_dim=8, num_res_blocks=1)
    torch.manual_seed(0)
    ours = WanVideoVAE(build_wan22_autoencoder(tiny).eval().cuda())
    official = build_wan22_autoencoder(tiny).eval().cuda()
    official.load_state_dict(ours.model.state_dict())
    official.to(torch.bfloat16)
    ours.round_weights_to_bf16()
    z = torch.randn(1, 48, 2, 2, 2, device="cuda")
    mean, std = ours._stats(z)
    with torch.autocast("cuda", dtype=torch.float32):
        expected = official.decode(z * std + mean).sample.float().clamp(-1, 1)
    torch.testing.assert_close(ours.decode(z), expected, rtol=1e-4, atol=1e-4)


@torch.no_grad()
def test_release_audio_decode_on_cuda():
    """Decoder, vocoder and resampler under the bf16 CUDA autocast, as `pipe.sample` runs them.
    CPU twin: tests/nava/test_audio_vae.py::test_bf16_autocast_decode_cpu_twin."""
    from nava_eval.nava.components import build_components
    from nava_eval.nava.pipeline import NavaPipeline, PipelineOptions, Request

    components = build_components("nava-tiny", device="cuda")
    request = Request(id="g", prompt="a bell", width=64, height=64, frames=2, steps=1)
    release = NavaPipeline(components, PipelineOptions(decode_precision="release"))(request)
    fp32 = NavaPipeline(components, PipelineOptions(decode_precision="fp32"))(request)
    assert release.meta["decode_precision"] == "release" and release.meta["audio_arithmetic"] == "bf16"
    assert torch.equal(release.audio, release.audio.bfloat16().float())  # the resampler's conv ran in bf16
    assert not torch.equal(fp32.audio, fp32.audio.bfloat16().float())
    assert (release.audio - fp32.audio).abs().max() < 0.1


def test_bf16_guided_step_tracks_fp32_on_cuda():
    """CPU twin: tests/nava/test_precision.py::test_bf16_guided_step_tracks_fp32_on_cpu (same step and
    tolerance). The harness's CUDA policy: bf16 weights under bf16 autocast, against fp32 weights."""
    from test_precision import BF16_REL_TOLERANCE, guided_step, worst_relative_error

    from nava_eval.nava.checkpoint import build_model, materialize_random

    device = torch.device("cuda")
    model = materialize_random(build_model(NavaConfig.for_model("nava-tiny"), "meta"), device, seed=3).eval()
    prev = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # a true fp32 reference
    try:
        ref = guided_step(model, device, None)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = prev
    model.to(torch.bfloat16)
    low = guided_step(model, device, torch.bfloat16)
    assert 1e-4 < worst_relative_error(low, ref) < BF16_REL_TOLERANCE


def test_fp8_scaled_mm_on_cuda_matches_the_dequantised_product():
    """CPU twin: tests/nava/test_fp8.py::test_scaled_mm_matches_the_dequantised_product_within_activation_rounding."""
    from nava_eval.nava.checkpoint import quantize_fp8
    from nava_eval.nava.fp8 import dequant_linear, scaled_mm_linear

    gen = torch.Generator(device="cuda").manual_seed(1)
    x = torch.randn(2, 37, 256, device="cuda", generator=gen).bfloat16()
    weight = torch.randn(512, 256, device="cuda", generator=gen) / 16
    bias = torch.randn(512, device="cuda", generator=gen)
    q, scale = quantize_fp8(weight)
    dequant = dequant_linear(x, q, scale, bias, torch.bfloat16)
    fp8 = scaled_mm_linear(x, q, scale, bias, torch.bfloat16)
    assert fp8.dtype == torch.bfloat16 and fp8.shape == (2, 37, 512)
    assert float((fp8.float() - dequant.float()).norm() / dequant.float().norm()) < 0.04


def test_bench_gpu_small_plan_on_cuda(tmp_path):
    """CPU twin: tests/runners/perf/gpu/test_gpubench_runner.py (the same sections on CPU)."""
    from nava_eval.runners.perf.gpu.plan import small_plan
    from nava_eval.runners.perf.gpu.runner import run_gpu_bench

    plan = small_plan("cuda").replace(budget_s=300.0, max_repeats=1)
    report = run_gpu_bench(plan, tmp_path, sections=["ceiling", "step", "attention", "fp8", "video_vae"])
    assert {s.name: s.status for s in report.sections} == dict.fromkeys(
        ["ceiling", "model", "step", "attention", "fp8", "video_vae"], "ok"
    )
    step = report.section("step")
    assert all(m.peak_memory_bytes and m.peak_memory_bytes > 0 for m in step.measurements)
    assert float(step.checks["batched_vs_sequential_rel_error"]) < 3e-2  # bf16
