"""fp8 products (nava.fp8), live-model fp8 quantisation and random materialisation (nava.checkpoint)."""

from __future__ import annotations

import copy

import pytest
import torch

from nava_eval.nava.checkpoint import (
    Fp8Linear,
    build_model,
    materialize_random,
    quantize_fp8,
    quantize_linears_fp8,
    set_fp8_gemm,
)
from nava_eval.nava.config import NavaConfig
from nava_eval.nava.fp8 import FP8_MAX, dequant_linear, quantize_rows, scaled_mm_linear


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def test_quantize_rows_scales_each_row_to_the_e4m3_range() -> None:
    x = torch.randn(5, 64, generator=torch.Generator().manual_seed(0)) * torch.arange(1, 6)[:, None]
    q, scale = quantize_rows(x)
    assert q.dtype == torch.float8_e4m3fn and scale.shape == (5, 1) and scale.dtype == torch.float32
    torch.testing.assert_close(scale[:, 0], x.abs().amax(dim=1) / FP8_MAX)
    assert float(q.float().abs().amax()) == FP8_MAX  # each row's largest value lands on the top code
    assert _rel(q.float() * scale, x) < 0.04  # 3 mantissa bits: about 2 % RMS


def test_scaled_mm_matches_the_dequantised_product_within_activation_rounding() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 37, 256, generator=gen)
    weight, bias = torch.randn(512, 256, generator=gen) / 16, torch.randn(512, generator=gen)
    q, scale = quantize_fp8(weight)
    exact = x @ weight.t() + bias
    dequant = dequant_linear(x, q, scale, bias, torch.float32)
    fp8 = scaled_mm_linear(x, q, scale, bias, torch.float32)
    assert fp8.shape == dequant.shape == (2, 37, 512) and fp8.dtype == torch.float32
    assert _rel(dequant, exact) < 0.03  # weight rounding only
    assert _rel(fp8, dequant) < 0.04  # + activation rounding
    assert _rel(fp8, exact) < 0.05


def test_set_fp8_gemm_switches_every_layer_and_rejects_unknown_modes() -> None:
    torch.manual_seed(0)
    model = build_model(NavaConfig.for_model("nava-tiny"), "cpu").eval()
    count = quantize_linears_fp8(model)
    layers = [m for m in model.modules() if isinstance(m, Fp8Linear)]
    assert count == len(layers) > 0 and all(m.gemm == "dequant" for m in layers)
    assert set_fp8_gemm(model, "scaled_mm") == count
    assert all(m.gemm == "scaled_mm" for m in layers)
    with pytest.raises(ValueError, match="unknown fp8 GEMM 'int8'"):
        set_fp8_gemm(model, "int8")


def test_live_fp8_model_tracks_fp32_and_matches_the_release_layout() -> None:
    """quantize_linears_fp8 gives the same tensors as fp8_state_dict and outputs close to fp32."""
    from nava_eval.nava.checkpoint import fp8_state_dict

    torch.manual_seed(0)
    config = NavaConfig.for_model("nava-tiny")
    model = build_model(config, "cpu").eval()
    release = fp8_state_dict(model)
    reference = copy.deepcopy(model)
    quantize_linears_fp8(model)
    for key, tensor in model.state_dict().items():
        if tensor.dtype == torch.float8_e4m3fn or key.endswith(("weight_scale",)):
            assert torch.equal(tensor.view(torch.uint8) if tensor.dtype == torch.float8_e4m3fn else tensor,
                               release[key].view(torch.uint8) if tensor.dtype == torch.float8_e4m3fn else release[key])  # fmt: skip
    gen = torch.Generator().manual_seed(3)
    video, audio = torch.randn(1, 48, 2, 4, 4, generator=gen), torch.randn(1, 9, 128, generator=gen)
    context = torch.randn(1, 6, config.text_dim, generator=gen)
    t = torch.tensor([500])
    with torch.no_grad():
        ref = reference(video, audio, t, context)
        low = model(video, audio, t, context)
        set_fp8_gemm(model, "scaled_mm")
        fp8 = model(video, audio, t, context)
    for exact, weight_only, real_fp8 in (
        (ref.video, low.video, fp8.video),
        (ref.audio, low.audio, fp8.audio),
    ):
        assert 0 < _rel(weight_only, exact) < 0.06
        assert 0 < _rel(real_fp8, exact) < 0.09


def test_materialize_random_fills_every_parameter_deterministically() -> None:
    config = NavaConfig.for_model("nava-tiny")
    first = materialize_random(build_model(config, "meta"), "cpu", torch.float32, seed=7)
    second = materialize_random(build_model(config, "meta"), "cpu", torch.float32, seed=7)
    other = materialize_random(build_model(config, "meta"), "cpu", torch.bfloat16, seed=8)
    for (name, a), b, c in zip(
        first.named_parameters(), second.parameters(), other.parameters(), strict=True
    ):
        assert a.device.type == "cpu" and torch.isfinite(a).all(), name
        assert torch.equal(a, b), name
        assert c.dtype == torch.bfloat16
        if a.dim() >= 2 and name.endswith(".weight"):
            assert not torch.equal(a, c.float()), name
            assert 0.8 < float(a.detach().std()) * a[0].numel() ** 0.5 < 1.2, name  # N(0, 1/fan_in)
    norm = first.double_blocks[0].self_attn.norm_q.weight
    assert torch.equal(norm, torch.ones_like(norm))
    assert not torch.equal(first.head.head.weight, torch.zeros_like(first.head.head.weight))
