"""RoPE, attention primitives and embeddings of nava.modeling."""

from __future__ import annotations

import math

import pytest
import torch

from nava_eval.nava.modeling.attention import attention, joint_self_attention, modality_attention
from nava_eval.nava.modeling.embeddings import ConvMLP, SpeakerTokenEmbedding, sinusoidal_embedding
from nava_eval.nava.modeling.rope import NavaRope, RopeFreqs, apply_rope, rope_table


def test_rope_splits_match_the_release() -> None:
    rope = NavaRope(head_dim=128, audio_scale=0.24)
    assert rope.video_pair_splits == (22, 21, 21)
    positions = NavaRope.video_positions(2, 3, 4)
    assert positions.shape == (24, 3) and positions[5].tolist() == [0, 1, 1]  # (f, h, w) row-major
    freqs = rope.video_freqs(positions)
    assert freqs.shape == (24, 64) and freqs.dtype == torch.complex128
    # token (f=1, h=2, w=3): temporal pairs use angle 1*w_j, height pairs 2*w_j, width pairs 3*w_j
    j = torch.arange(22, dtype=torch.float64)
    torch.testing.assert_close(freqs[23, :22].angle(), 1.0 / 10000 ** (2 * j / 44))
    h = torch.arange(21, dtype=torch.float64)
    torch.testing.assert_close(
        freqs[23, 43:].angle(), torch.remainder(3.0 / 10000 ** (2 * h / 42) + math.pi, 2 * math.pi) - math.pi
    )
    audio = rope.audio_freqs(torch.arange(5))
    assert audio.shape == (5, 22)
    torch.testing.assert_close(audio[1].angle(), 0.24 / 10000 ** (2 * j / 44))


def test_audio_rope_rotates_only_the_first_channels() -> None:
    x = torch.randn(1, 6, 2, 128)
    out = apply_rope(x, NavaRope(128, 0.24).audio_freqs(torch.arange(6)))
    assert torch.equal(out[..., 44:], x[..., 44:])
    assert not torch.allclose(out[:, 1:, :, :44], x[:, 1:, :, :44])
    assert torch.equal(out[:, 0], x[:, 0])  # position 0 is the identity
    pairs_in, pairs_out = x[..., :44].reshape(1, 6, 2, 22, 2), out[..., :44].reshape(1, 6, 2, 22, 2)
    torch.testing.assert_close(pairs_out.norm(dim=-1), pairs_in.norm(dim=-1))  # rotation keeps pair norms


def test_rope_rejects_positions_beyond_the_table() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1024\)"):
        NavaRope(128, 1.0).audio_freqs(torch.tensor([1024]))
    assert rope_table(44).shape == (1024, 22)


def test_sdpa_and_math_backends_agree() -> None:
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 9, 3, 16, generator=gen) for _ in range(3))
    torch.testing.assert_close(attention(q, k, v, "sdpa"), attention(q, k, v, "math"), rtol=1e-5, atol=1e-5)


def test_modality_mask_isolates_streams_per_row() -> None:
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 10, 2, 8, generator=gen) for _ in range(3))
    mask = torch.tensor([True, False])
    out = modality_attention(q, k, v, video_len=6, modality_mask=mask, backend="math")
    # Row 0 (masked): video output depends only on video keys; perturbing audio keys leaves it unchanged.
    k2, v2 = k.clone(), v.clone()
    k2[:, 6:] += 1.0
    v2[:, 6:] += 1.0
    out2 = modality_attention(q, k2, v2, video_len=6, modality_mask=mask, backend="math")
    torch.testing.assert_close(out2[0, :6], out[0, :6])
    assert not torch.allclose(out2[1, :6], out[1, :6])  # row 1 is joint
    torch.testing.assert_close(out[0, 6:], attention(q[:1, 6:], k[:1, 6:], v[:1, 6:], "math")[0])
    torch.testing.assert_close(out[1], attention(q[1:], k[1:], v[1:], "math")[0])


def test_trailing_masked_rows_take_the_slice_path_and_match_per_row_attention() -> None:
    """C, U, M order (masked rows last) runs on batch slices; each row equals its own computation."""
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(3, 10, 2, 8, generator=gen) for _ in range(3))
    out = modality_attention(q, k, v, video_len=6, modality_mask=torch.tensor([False, False, True]))
    for row in range(2):
        torch.testing.assert_close(
            out[row], attention(q[row : row + 1], k[row : row + 1], v[row : row + 1])[0]
        )
    masked = modality_attention(q[2:], k[2:], v[2:], video_len=6, modality_mask=torch.tensor([True]))
    torch.testing.assert_close(out[2], masked[0], rtol=0, atol=0)
    # The general (gather/scatter) path gives the same rows when the order is mixed.
    order = [2, 0, 1]
    mixed = modality_attention(
        q[order], k[order], v[order], video_len=6, modality_mask=torch.tensor([True, False, False])
    )
    torch.testing.assert_close(mixed, out[order], rtol=0, atol=0)


def test_joint_self_attention_applies_rope_per_modality() -> None:
    rope = NavaRope(16, 0.24)
    freqs = RopeFreqs(
        video=rope.video_freqs(NavaRope.video_positions(1, 2, 2)), audio=rope.audio_freqs(torch.arange(3))
    )
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 7, 1, 16, generator=gen) for _ in range(3))
    out = joint_self_attention(q, k, v, freqs, 4, torch.tensor([False]), "math")
    qr = torch.cat([apply_rope(q[:, :4], freqs.video), apply_rope(q[:, 4:], freqs.audio)], dim=1)
    kr = torch.cat([apply_rope(k[:, :4], freqs.video), apply_rope(k[:, 4:], freqs.audio)], dim=1)
    torch.testing.assert_close(out, attention(qr, kr, v, "math"))


def test_sinusoid_is_cos_then_sin() -> None:
    emb = sinusoidal_embedding(torch.tensor([[0, 999]]), 8)
    assert emb.shape == (1, 2, 8) and emb.dtype == torch.float64
    assert emb[0, 0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    freqs = 10000.0 ** (-torch.arange(4, dtype=torch.float64) / 4)
    torch.testing.assert_close(emb[0, 1], torch.cat([torch.cos(999 * freqs), torch.sin(999 * freqs)]))


def test_speaker_zero_vector_selects_null_token() -> None:
    torch.manual_seed(0)
    embed = SpeakerTokenEmbedding(dim=16)
    with torch.no_grad():
        embed.null_token.normal_()
    speakers = torch.stack([torch.randn(192), torch.zeros(192)])
    tokens = embed(speakers)
    torch.testing.assert_close(tokens[1], embed.null_token[0])
    torch.testing.assert_close(tokens[0], embed.out_norm(embed.net(speakers[:1]))[0])


def test_conv_mlp_is_local_with_zero_padding() -> None:
    torch.manual_seed(0)
    mlp = ConvMLP(dim=8, hidden_dim=16)
    x = torch.randn(1, 20, 8)
    y = mlp(x)
    x2 = x.clone()
    x2[:, 19] += 5.0  # receptive field of two kernel-7 convs is 13 tokens
    assert torch.equal(mlp(x2)[:, :7], y[:, :7])
    assert not torch.allclose(mlp(x2)[:, 19], y[:, 19])


def test_flash_backend_refuses_cpu_tensors() -> None:
    q = torch.randn(1, 4, 2, 8)
    with pytest.raises(RuntimeError, match="flash-attn package and a CUDA tensor"):
        attention(q, q, q, "flash")
