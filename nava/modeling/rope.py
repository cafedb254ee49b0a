"""Rotary position embeddings: 3D (frame, row, column) for video tokens, 1D scaled for audio tokens.

Positions are *global* indices (latent-grid coordinates for video, token index for audio), so a
sequence-parallel wrapper that gathers the full sequence can rotate with the same tables.
Tables and rotation are float64, as in the official code; the result is cast back to the input dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nava_eval.nava.config import ROPE_MAX_POSITIONS


def rope_table(num_pairs_dim: int, scale: float = 1.0, theta: float = 10000.0) -> torch.Tensor:
    """Complex table [ROPE_MAX_POSITIONS, num_pairs_dim // 2]: exp(i * p * scale / theta^(2j / num_pairs_dim))."""
    # Explicit CPU device: models are often built under `torch.device("meta")`, and these tables are
    # constants, not weights, so they must hold real values.
    exponents = torch.arange(0, num_pairs_dim, 2, dtype=torch.float64, device="cpu") / num_pairs_dim
    freqs = scale / torch.pow(theta, exponents)
    angles = torch.outer(torch.arange(ROPE_MAX_POSITIONS, dtype=torch.float64, device="cpu"), freqs)
    return torch.polar(torch.ones_like(angles), angles)


@dataclass(frozen=True)
class RopeFreqs:
    """Per-token complex rotations of one joint sequence; None for an absent modality.

    video: [Lv, head_dim // 2] (every pair rotated); audio: [La, audio_pairs] (only the first pairs rotated).
    """

    video: torch.Tensor | None
    audio: torch.Tensor | None


class NavaRope:
    """Holds the official tables; not an nn.Module so nothing lands in the state dict."""

    def __init__(self, head_dim: int, audio_scale: float) -> None:
        # The temporal axis takes what the two spatial axes leave: 44/42/42 channels for head dim 128.
        spatial = 2 * (head_dim // 6)
        temporal = head_dim - 2 * spatial
        self.video_pair_splits = (temporal // 2, spatial // 2, spatial // 2)
        self._video_tables = (rope_table(temporal), rope_table(spatial), rope_table(spatial))
        # Audio reuses the temporal width (22 pairs) with frequencies scaled so 25 tokens/s line up with
        # 6 latent frames/s; the other pairs of each head stay unrotated.
        self._audio_table = rope_table(temporal, scale=audio_scale)
        self._device_cache: dict[torch.device, tuple[tuple[torch.Tensor, ...], torch.Tensor]] = {}

    def _tables(self, device: torch.device) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        if device not in self._device_cache:
            self._device_cache[device] = (
                tuple(t.to(device) for t in self._video_tables),
                self._audio_table.to(device),
            )
        return self._device_cache[device]

    @staticmethod
    def video_positions(
        frames: int, height: int, width: int, device: torch.device | None = None
    ) -> torch.Tensor:
        """Positions [f*h*w, 3] of a token grid in (frame, row, column) row-major order."""
        grid = torch.meshgrid(
            torch.arange(frames, device=device),
            torch.arange(height, device=device),
            torch.arange(width, device=device),
            indexing="ij",
        )
        return torch.stack([g.reshape(-1) for g in grid], dim=1)

    def video_freqs(self, positions: torch.Tensor) -> torch.Tensor:
        """positions [N, 3] long -> complex128 [N, head_dim // 2]."""
        _check_range(positions)
        tables, _ = self._tables(positions.device)
        return torch.cat([table[positions[:, axis]] for axis, table in enumerate(tables)], dim=1)

    def audio_freqs(self, positions: torch.Tensor) -> torch.Tensor:
        """positions [N] long -> complex128 [N, audio_pairs]."""
        _check_range(positions)
        _, table = self._tables(positions.device)
        return table[positions]


def _check_range(positions: torch.Tensor) -> None:
    if positions.numel() and (int(positions.min()) < 0 or int(positions.max()) >= ROPE_MAX_POSITIONS):
        raise ValueError(
            f"RoPE positions must lie in [0, {ROPE_MAX_POSITIONS}); got max {int(positions.max())}"
        )


def apply_rope(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent channel pairs (2j, 2j+1) of x [B, L, H, d] by freqs [L, P]; channels >= 2P pass through."""
    pairs = freqs.shape[-1]
    rotated = x[..., : 2 * pairs].to(torch.float64).reshape(*x.shape[:-1], pairs, 2)
    rotated = torch.view_as_complex(rotated) * freqs[None, :, None, :]
    rotated = torch.view_as_real(rotated).flatten(-2).to(x.dtype)
    if 2 * pairs == x.shape[-1]:
        return rotated
    return torch.cat([rotated, x[..., 2 * pairs :]], dim=-1)


def apply_joint_rope(x: torch.Tensor, freqs: RopeFreqs, video_len: int) -> torch.Tensor:
    """Rotate a joint [video | audio] sequence x [B, Lv + La, H, d]: 3D RoPE on video, 1D on audio."""
    parts = []
    if video_len:
        assert freqs.video is not None
        parts.append(apply_rope(x[:, :video_len], freqs.video))
    if x.shape[1] > video_len:
        assert freqs.audio is not None
        parts.append(apply_rope(x[:, video_len:], freqs.audio))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
