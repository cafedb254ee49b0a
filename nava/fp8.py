"""Matrix products of the fp8 weight-only Linears: the release's path and an opt-in real fp8 GEMM.

"dequant" (default, as the release): the float8_e4m3fn weight is multiplied by its per-row scale in
bf16 and an ordinary bf16/fp32 GEMM follows; fp8 saves memory, not time.
"scaled_mm" (opt-in): the activations are quantised to e4m3 per token (scale = max|x_row| / 448) and
`torch._scaled_mm` multiplies fp8 by fp8 with an fp32 accumulator and both row-wise scales applied in
its epilogue (Hopper's fp8 tensor cores: twice the bf16 rate). It changes the numbers (activation
rounding to 3 mantissa bits), so it is never the default; `nava-eval bench gpu` measures its error
against bf16.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

FP8_GEMMS = ("dequant", "scaled_mm")
FP8_MAX = 448.0  # largest finite float8_e4m3fn value
_MIN_SCALE = 1e-12


def check_gemm(mode: str) -> str:
    if mode not in FP8_GEMMS:
        raise ValueError(f"unknown fp8 GEMM {mode!r}; valid: {', '.join(FP8_GEMMS)}")
    return mode


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric e4m3: x [M, K] -> (q [M, K] float8_e4m3fn, scale [M, 1] float32), x ≈ q · scale."""
    xf = x.float()
    scale = (xf.abs().amax(dim=1, keepdim=True) / FP8_MAX).clamp(min=_MIN_SCALE)
    return (xf / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn), scale


def dequant_linear(
    x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor | None, dtype
) -> torch.Tensor:
    """The release's path: bf16 dequantised weight, cast to the compute dtype, ordinary linear."""
    w = weight.to(torch.bfloat16) * weight_scale.reshape(-1, 1)
    return F.linear(x.to(dtype), w.to(dtype), None if bias is None else bias.to(dtype))


def scaled_mm_linear(
    x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor | None, dtype
) -> torch.Tensor:
    """fp8 × fp8 GEMM with row-wise scales: x [..., K], weight [N, K] e4m3, weight_scale [N] or [N, 1]."""
    lead = x.shape[:-1]
    q, x_scale = quantize_rows(x.reshape(-1, x.shape[-1]))
    # Row-wise scaling needs a bf16 result on CUDA; the weight's transpose is the column-major
    # second operand the kernel expects, without a copy.
    out = torch._scaled_mm(
        q,
        weight.t(),
        scale_a=x_scale,
        scale_b=weight_scale.float().reshape(1, -1),
        out_dtype=torch.bfloat16,
        use_fast_accum=False,
    )
    if bias is not None:
        out = out + bias.to(out.dtype)
    return out.to(dtype).reshape(*lead, weight.shape[0])
