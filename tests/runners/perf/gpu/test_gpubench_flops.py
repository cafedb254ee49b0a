"""The analytic FLOP count equals torch's FLOP counter on real forwards, and the VerseBench figure."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nava_eval.nava.checkpoint import build_model
from nava_eval.nava.config import NavaConfig
from nava_eval.runners.perf.gpu.flops import ForwardShape, forward_flops, total_flops, video_tokens


@pytest.mark.parametrize(
    ("grid", "audio", "masked"),
    [((2, 4, 6), 9, False), ((2, 4, 6), 9, True), ((3, 5, 3), 0, False), (None, 11, False)],
)
def test_count_equals_torch_flop_counter(grid, audio, masked) -> None:
    """Math attention runs as einsums, so torch counts every product the analytic count names."""
    torch.manual_seed(0)
    config = NavaConfig.for_model("nava-tiny")
    model = build_model(config, "cpu").eval()
    model.set_attention_backend("math")
    video = None if grid is None else torch.randn(2, 48, *grid)
    audio_latent = torch.randn(2, audio, 128) if audio else None
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(
            video, audio_latent, torch.tensor([500]), torch.randn(2, 5, config.text_dim), modality_mask=masked
        )
    lv = 0 if grid is None else video_tokens(config, grid)
    expected = total_flops(config, [ForwardShape(lv, audio, masked)] * 2)
    assert counter.get_total_flops() == expected.total


def test_versebench_forward_matches_the_closed_form() -> None:
    """docs/performance.md's derivation: 32,560 + 152 tokens, 30 blocks of dim 3072."""
    config = NavaConfig.for_model("nava-6b")
    lv, la, lt, d, f = video_tokens(config, (37, 44, 80)), 152, 512, 3072, 14336
    length = lv + la
    assert lv == 32560
    count = forward_flops(config, ForwardShape(lv, la))
    blocks = 30 * length * 2 * (6 * d * d + 2 * d * f) + (10 * 2 + 20) * 2 * lt * 2 * d * d
    embeddings = (
        2 * lv * 48 * 4 * d
        + 2 * lv * d * 192
        + 2 * la * 7 * (128 * d + 3 * d * config.audio_mlp_hidden)
        + 2 * la * d * 128
        + 2 * lt * (4096 * d + d * d)
        + 2 * length * (256 * d + 7 * d * d)
    )
    assert count.linear == blocks + embeddings
    assert count.attention == 30 * 4 * d * (length**2 + length * lt)
    assert 6.8e14 < count.total < 7.0e14  # the round count, 8.0e14, takes all 6.3 B weights per token
    masked = forward_flops(config, ForwardShape(lv, la, modality_masked=True))
    assert masked.linear == count.linear
    assert count.attention - masked.attention == 30 * 4 * d * 2 * lv * la
