"""Transformer blocks: AlignmentBlock (double-stream) and FusionBlock (single-stream).

Modulation vectors m0..m5 = (shift, scale, gate) for self-attention then FFN; each token carries its own
(per-token timesteps make I2V's clean first frame possible). Cross-attention has no gate.
"""

from __future__ import annotations

import torch
from torch import nn

from nava_eval.nava.config import NavaConfig
from nava_eval.nava.modeling.attention import Attention, DualStreamAttention, LayerNorm
from nava_eval.nava.modeling.rope import RopeFreqs


class Modulation(nn.Module):
    """Learned [1, 6, D] offsets added to the per-token time projection e0 [B, L, 6, D]."""

    def __init__(self, dim: int, count: int = 6) -> None:
        super().__init__()
        self.modulation = nn.Parameter(torch.randn(1, count, dim) / dim**0.5)

    def forward(self, e0: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.modulation.to(e0.dtype) + e0).unbind(dim=2)


def feed_forward(dim: int, ffn_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(ffn_dim, dim))


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (x * (1 + scale) + shift).to(x.dtype)


class AlignmentBlock(nn.Module):
    """Double-stream block: per-modality attention projections and modulation, shared norms and FFN."""

    def __init__(self, config: NavaConfig) -> None:
        super().__init__()
        dim, eps = config.dim, config.eps
        self.norm1 = LayerNorm(dim, eps, elementwise_affine=False)
        self.self_attn = DualStreamAttention(dim, config.num_heads, config.qk_norm, eps)
        self.norm3 = LayerNorm(dim, eps, elementwise_affine=True) if config.cross_attn_norm else nn.Identity()
        self.cross_attn = DualStreamAttention(dim, config.num_heads, config.qk_norm, eps)
        self.norm2 = LayerNorm(dim, eps, elementwise_affine=False)
        self.ffn = feed_forward(dim, config.ffn_dim)
        self.modulation = Modulation(dim)
        self.modulation_audio = Modulation(dim)

    def forward(
        self,
        x_video: torch.Tensor | None,  # [B, Lv, D]
        x_audio: torch.Tensor | None,  # [B, La, D]
        e0_video: torch.Tensor | None,  # [B, Lv, 6, D]
        e0_audio: torch.Tensor | None,  # [B, La, 6, D]
        context: torch.Tensor,  # [B, text_len, D]
        rope: RopeFreqs,
        modality_mask: torch.Tensor,  # [B] bool
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        mod_v = None if x_video is None else self.modulation(e0_video)
        mod_a = None if x_audio is None else self.modulation_audio(e0_audio)

        # 1) self-attention, joint over [video | audio] (or modality-masked), gated
        h_v = None if x_video is None else _modulate(self.norm1(x_video), mod_v[0], mod_v[1])
        h_a = None if x_audio is None else _modulate(self.norm1(x_audio), mod_a[0], mod_a[1])
        y_v, y_a = self.self_attn.self_attention(h_v, h_a, rope, modality_mask)
        if x_video is not None:
            x_video = x_video + y_v * mod_v[2]
        if x_audio is not None:
            x_audio = x_audio + y_a * mod_a[2]

        # 2) cross-attention to the shared text context, ungated
        c_v, c_a = self.cross_attn.cross_attention(
            None if x_video is None else self.norm3(x_video),
            None if x_audio is None else self.norm3(x_audio),
            context,
        )
        if x_video is not None:
            x_video = x_video + c_v
        if x_audio is not None:
            x_audio = x_audio + c_a

        # 3) FFN shared by both streams, per-stream modulation
        if x_video is not None:
            x_video = x_video + self.ffn(_modulate(self.norm2(x_video), mod_v[3], mod_v[4])) * mod_v[5]
        if x_audio is not None:
            x_audio = x_audio + self.ffn(_modulate(self.norm2(x_audio), mod_a[3], mod_a[4])) * mod_a[5]
        return x_video, x_audio


class FusionBlock(nn.Module):
    """Single-stream block over the concatenated [video | audio] sequence with shared weights."""

    def __init__(self, config: NavaConfig) -> None:
        super().__init__()
        dim, eps = config.dim, config.eps
        self.norm1 = LayerNorm(dim, eps, elementwise_affine=False)
        self.self_attn = Attention(dim, config.num_heads, config.qk_norm, eps)
        self.norm3 = LayerNorm(dim, eps, elementwise_affine=True) if config.cross_attn_norm else nn.Identity()
        self.cross_attn = Attention(dim, config.num_heads, config.qk_norm, eps)
        self.norm2 = LayerNorm(dim, eps, elementwise_affine=False)
        self.ffn = feed_forward(dim, config.ffn_dim)
        self.modulation = Modulation(dim)

    def forward(
        self,
        x: torch.Tensor,  # [B, Lv + La, D]
        e0: torch.Tensor,  # [B, Lv + La, 6, D]
        context: torch.Tensor,  # [B, text_len, D]
        rope: RopeFreqs,
        video_len: int,
        modality_mask: torch.Tensor,  # [B] bool
    ) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(e0)
        y = self.self_attn.self_attention(
            _modulate(self.norm1(x), shift1, scale1), rope, video_len, modality_mask
        )
        x = x + y * gate1
        x = x + self.cross_attn.cross_attention(self.norm3(x), context)
        return x + self.ffn(_modulate(self.norm2(x), shift2, scale2)) * gate2
