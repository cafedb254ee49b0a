"""CUDA checks. Each is marked `gpu` (skipped with its reason on CPU by tests/conftest.py); its CPU
twin is named in the docstring and always runs."""

from __future__ import annotations

import pytest
import torch

from nava_eval.nava.config import NavaConfig
from nava_eval.nava.modeling.model import NavaModel

pytestmark = pytest.mark.gpu


def test_reference_folder_passes_on_cuda_fp32(shared_dir):
    """CPU twin: tests/runners/test_verify_model.py (same folder, same tolerances, on CPU)."""
    from nava_eval.runners.verify_model import verify_folder

    result = verify_folder(shared_dir / "fixtures" / "nava_tiny", device="cuda")
    assert result.ok, [r for r in result.results if r.status != "pass"]


def test_bf16_autocast_forward_tracks_fp32():
    """CPU twin: the fp32 fixture cases; here the CUDA bf16 policy stays close to CUDA fp32."""
    from nava_eval.nava.checkpoint import inference_autocast

    torch.manual_seed(0)
    model = NavaModel(NavaConfig.from_preset("nava-tiny")).cuda().eval()
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
