"""Output heads and video unpatchify."""

from __future__ import annotations

import torch
from torch import nn

from nava_eval.nava.modeling.attention import LayerNorm


class OutputHead(nn.Module):
    """Final adaptive LayerNorm + Linear, modulated by the time embedding e (not the 6-way e0)."""

    def __init__(self, dim: int, out_dim: int, eps: float) -> None:
        super().__init__()
        self.norm = LayerNorm(dim, eps, elementwise_affine=False)
        self.head = nn.Linear(dim, out_dim)
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / dim**0.5)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """x [B, L, D], e [B, L, D] -> [B, L, out_dim]."""
        shift, scale = (self.modulation.to(e.dtype)[:, None] + e[:, :, None]).unbind(dim=2)
        return self.head((self.norm(x) * (1 + scale) + shift).to(x.dtype))


def unpatchify_video(
    tokens: torch.Tensor, grid: tuple[int, int, int], patch_size: tuple[int, int, int], channels: int
) -> torch.Tensor:
    """tokens [B, f*h*w, pt*ph*pw*C] -> [B, C, f*pt, h*ph, w*pw]; channel index within a token is
    ((p*ph + q)*pw + r)*C + c, i.e. the latent channel varies fastest."""
    f, h, w = grid
    pt, ph, pw = patch_size
    x = tokens.reshape(tokens.shape[0], f, h, w, pt, ph, pw, channels)
    x = torch.einsum("bfhwpqrc->bcfphqwr", x)
    return x.reshape(tokens.shape[0], channels, f * pt, h * ph, w * pw)
