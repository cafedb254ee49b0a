"""Floating-point operations of one NavaModel forward, counted from the config and the token counts.

A multiply-add is 2 FLOP. Counted: every Linear / convolution the forward runs (per token, as the
model computes them: the per-token time embedding too) and the two attention products (QKᵀ and
PV: 4·Lq·Lk·dim per attention). Not counted: norms, RoPE, softmax, modulation and other
elementwise work, and the speaker tokens (a few rows). docs/performance.md derives the VerseBench
figure and compares it with the issue's round count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from nava_eval.nava.config import NavaConfig

AUDIO_CONV_KERNEL = 7  # the audio embedding's Conv1d / ConvMLP kernel (nava.modeling.embeddings)


@dataclass(frozen=True)
class ForwardShape:
    """Token counts of one batch row: video tokens after patchify, audio tokens, modality masking."""

    video_tokens: int
    audio_tokens: int
    modality_masked: bool = False


@dataclass(frozen=True)
class FlopCount:
    linear: float
    attention: float

    @property
    def total(self) -> float:
        return self.linear + self.attention

    def __add__(self, other: FlopCount) -> FlopCount:
        return FlopCount(self.linear + other.linear, self.attention + other.attention)


def video_tokens(config: NavaConfig, latent_grid: tuple[int, int, int]) -> int:
    """Tokens of a latent grid (T, H, W) after the (1, 2, 2) patchify, odd sides padded up."""
    pt, ph, pw = config.patch_size
    t, h, w = latent_grid
    return (t // pt) * math.ceil(h / ph) * math.ceil(w / pw)


def forward_flops(config: NavaConfig, shape: ForwardShape) -> FlopCount:
    """FLOPs of one batch row's forward (context padded to config.text_len, as the model does)."""
    d, f = config.dim, config.ffn_dim
    lv, la, lt = shape.video_tokens, shape.audio_tokens, config.text_len
    length = lv + la
    streams = (lv > 0) + (la > 0)
    linear = 0.0
    if lv:
        linear += 2 * lv * config.vid_in_dim * math.prod(config.patch_size) * d  # patch embedding
        linear += 2 * lv * d * config.video_patch_dim  # video head
    if la:
        hidden, k = config.audio_mlp_hidden, AUDIO_CONV_KERNEL
        linear += 2 * la * config.audio_in_dim * k * d  # Conv1d
        linear += 2 * la * k * (2 * d * hidden + hidden * d)  # ConvMLP w1, w3, w2
        linear += 2 * la * d * config.audio_out_dim  # audio head
    linear += 2 * lt * (config.text_dim * d + d * d)  # text embedding
    linear += 2 * length * (config.freq_dim * d + d * d + d * 6 * d)  # per-token time embedding
    # Every block: self q, k, v, o and cross q, o on each token; FFN on each token; cross k, v on the
    # text once per stream (alignment blocks have per-stream projections) or once (fusion blocks).
    per_token_block = 2 * (4 * d * d + 2 * d * d + 2 * d * f)
    aligned = config.num_double_layers + config.num_double_final_layers
    linear += config.num_layers * length * per_token_block
    linear += (aligned * streams + config.num_single_layers) * 2 * lt * 2 * d * d

    self_pairs = lv * lv + la * la if shape.modality_masked else length * length
    attention = config.num_layers * 4 * d * (self_pairs + length * lt)
    return FlopCount(float(linear), float(attention))


def total_flops(config: NavaConfig, shapes: Iterable[ForwardShape]) -> FlopCount:
    """Sum over rows (a batched forward or a step's guidance passes)."""
    count = FlopCount(0.0, 0.0)
    for shape in shapes:
        count = count + forward_flops(config, shape)
    return count


def clip_step_grid(width: int, height: int, latent_frames: int) -> tuple[tuple[int, int, int], int]:
    """(video latent grid (T, H/16, W/16), audio tokens) of a T2AV clip of this shape, checked as
    `run --width/--height/--frames` checks it (nava.shapes): what `bench gpu --width ...` counts."""
    from nava_eval.nava.shapes import check_shape

    shape = check_shape(width, height, latent_frames)
    return shape.latent_grid, shape.audio_tokens
