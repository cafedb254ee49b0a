"""Input embeddings: video patches, audio tokens, timesteps, text and speaker tokens."""

from __future__ import annotations

import math

import torch
from torch import nn

from nava_eval.nava.config import SPEAKER_DIM

# An all-zero speaker vector (missing reference audio) selects the learned null token.
_NULL_SPEAKER_SQNORM = 1e-6


class ChannelLastConv1d(nn.Conv1d):
    """Conv1d over time for token-major input [B, L, C] -> [B, L, C_out]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class ConvMLP(nn.Module):
    """SwiGLU with kernel-7 convolutions over time: w2(silu(w1(x)) * w3(x)); zero padding at the ends."""

    def __init__(self, dim: int, hidden_dim: int, kernel_size: int = 7) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.w1 = ChannelLastConv1d(dim, hidden_dim, kernel_size, padding=pad, bias=False)
        self.w2 = ChannelLastConv1d(hidden_dim, dim, kernel_size, padding=pad, bias=False)
        self.w3 = ChannelLastConv1d(dim, hidden_dim, kernel_size, padding=pad, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(nn.functional.silu(self.w1(x)) * self.w3(x))


def audio_patch_embedding(in_dim: int, dim: int, hidden_dim: int) -> nn.Sequential:
    """Per-token audio embedding (audio is never patchified): Conv1d -> SiLU -> ConvMLP."""
    return nn.Sequential(ChannelLastConv1d(in_dim, dim, 7, padding=3), nn.SiLU(), ConvMLP(dim, hidden_dim))


def sinusoidal_embedding(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """[...] timesteps -> [..., dim] float64 embedding, [cos | sin] order as the release."""
    half = dim // 2
    freqs = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=timesteps.device) / half)
    angles = timesteps.to(torch.float64)[..., None] * freqs
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def mlp_embedding(in_dim: int, dim: int, activation: nn.Module) -> nn.Sequential:
    """Linear -> activation -> Linear; the text (GELU tanh) and time (SiLU) embeddings."""
    return nn.Sequential(nn.Linear(in_dim, dim), activation, nn.Linear(dim, dim))


class SpeakerTokenEmbedding(nn.Module):
    """Maps a 192-d speaker vector to one context token; zero vectors map to a learned null token."""

    def __init__(self, dim: int, speaker_dim: int = SPEAKER_DIM) -> None:
        super().__init__()
        self.null_token = nn.Parameter(torch.zeros(1, dim))
        self.net = nn.Sequential(
            nn.LayerNorm(speaker_dim), nn.Linear(speaker_dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.out_norm = nn.LayerNorm(dim)

    def forward(self, speakers: torch.Tensor) -> torch.Tensor:
        """speakers [N, 192] -> tokens [N, D]."""
        tokens = self.out_norm(self.net(speakers))
        is_null = speakers.float().pow(2).sum(dim=-1, keepdim=True) <= _NULL_SPEAKER_SQNORM
        return torch.where(is_null, self.null_token.to(tokens.dtype), tokens)


def pad_rows(x: torch.Tensor, length: int, what: str) -> torch.Tensor:
    """Zero-pad x [n, C] to [length, C]; the release pads text features with zero rows before embedding."""
    if x.shape[0] > length:
        raise ValueError(f"{what} has {x.shape[0]} rows, more than the model's {length}")
    return torch.cat([x, x.new_zeros(length - x.shape[0], *x.shape[1:])]) if x.shape[0] < length else x


def padded_size(size: int, multiple: int) -> int:
    return multiple * math.ceil(size / multiple)
