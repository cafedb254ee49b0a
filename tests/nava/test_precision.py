"""bf16 against fp32 on CPU: the CPU twin of tests/nava/test_cuda.py::test_bf16_guided_step_tracks_fp32_on_cuda."""

from __future__ import annotations

import torch

from nava_eval.nava.checkpoint import build_model, materialize_random
from nava_eval.nava.config import NavaConfig
from nava_eval.nava.sampling import build_passes, evaluate_passes

# bf16 keeps 8 mantissa bits: per-op relative rounding ~4e-3, a few % after the tiny model's 4 blocks.
BF16_REL_TOLERANCE = 3e-2


def guided_step(model, device: torch.device, dtype: torch.dtype | None):
    """The C, U, M passes of one I2AV step in one batched forward; dtype None = fp32 weights, no autocast."""
    gen = torch.Generator().manual_seed(5)
    config = model.config
    grid = (3, 4, 6)
    video = torch.randn(3 * 4 * 6, 48, generator=gen).to(device)
    audio = torch.randn(11, 128, generator=gen).to(device)
    pos = torch.randn(7, config.text_dim, generator=gen).to(device)
    neg = torch.randn(5, config.text_dim, generator=gen).to(device)
    passes = build_passes(("C", "U", "M"), pos, neg, None, None)
    autocast = (
        torch.autocast(device.type, dtype=dtype)
        if dtype is not None
        else torch.autocast(device.type, enabled=False)
    )
    with torch.no_grad(), autocast:
        return evaluate_passes(model, video, audio, grid, 700, passes, first_frame_clean=True, max_batch=3)


def worst_relative_error(low, ref) -> float:
    worst = 0.0
    for name, pair in ref.items():
        for a, b in zip(low[name], pair, strict=True):
            worst = max(worst, float((a.float() - b.float()).norm() / b.float().norm()))
    return worst


def test_bf16_guided_step_tracks_fp32_on_cpu() -> None:
    device = torch.device("cpu")
    config = NavaConfig.for_model("nava-tiny")
    model = materialize_random(build_model(config, "meta"), device, torch.float32, seed=3).eval()
    ref = guided_step(model, device, None)
    model.to(torch.bfloat16)
    low = guided_step(model, device, torch.bfloat16)
    error = worst_relative_error(low, ref)
    assert 1e-4 < error < BF16_REL_TOLERANCE  # bf16 really ran, and stays close
