"""3D cross-modal classifier-free guidance: which passes a step needs and how they combine.

Passes (all run both modalities jointly):
  C  positive text, speaker tokens injected, joint attention
  U  negative text, no speaker
  M  positive text, modality-masked attention, no speaker injection
  S  positive text, no speaker embedding (raw T5 vectors stay at the slots)

Formulas follow the official pipeline; they start from C when an extra term is on and from U otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

COND, UNCOND, MASKED, NO_SPEAKER = "C", "U", "M", "S"


@dataclass(frozen=True)
class GuidanceScales:
    """Guidance scales; defaults are the shipped `configs/nava.yaml` values."""

    video: float = 3.0  # g_v
    audio: float = 2.0  # g_a
    video_align: float = 3.0  # g_va (3D cross-modal term, video)
    audio_align: float = 2.0  # g_aa (3D cross-modal term, audio)
    timbre: float = 3.0  # g_t (speaker term, audio only)
    align_3d: bool = True
    timbre_cfg: bool = True

    def __post_init__(self) -> None:
        for name in ("video", "audio", "video_align", "audio_align", "timbre"):
            value = getattr(self, name)
            if not value >= 0.0:  # also rejects NaN
                raise ValueError(f"guidance scale {name} must be >= 0, got {value}")


def timbre_active(scales: GuidanceScales, has_speaker: bool) -> bool:
    """The S pass only exists when timbre CFG is on and the sample has speaker wavs."""
    return scales.timbre_cfg and has_speaker


def required_passes(scales: GuidanceScales, has_video: bool, has_speaker: bool) -> tuple[str, ...]:
    """Passes whose result enters at least one formula with a non-zero weight, in C/U/M/S order.

    The official code asserts on a scale of exactly 1.0; here a plain formula at g = 1 is just C, so
    U is skipped, and any (C − X) term with scale 0 drops X. Skipped passes are replaced by C in
    `combine_*`, which makes the dropped terms exactly zero.
    """
    needed = [COND]
    plain_video = not scales.align_3d
    plain_audio = not scales.align_3d and not timbre_active(scales, has_speaker)
    u_video = has_video and (scales.video != 1.0 if plain_video else scales.video != 0.0)
    u_audio = scales.audio != 1.0 if plain_audio else scales.audio != 0.0
    if u_video or u_audio:
        needed.append(UNCOND)
    if scales.align_3d and ((has_video and scales.video_align != 0.0) or scales.audio_align != 0.0):
        needed.append(MASKED)
    if timbre_active(scales, has_speaker) and scales.timbre != 0.0:
        needed.append(NO_SPEAKER)
    return tuple(needed)


def _get(preds: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    return preds[name] if name in preds else preds[COND]


def combine_video(scales: GuidanceScales, preds: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Guided video velocity from the per-pass predictions (fp32)."""
    c, u = _get(preds, COND).float(), _get(preds, UNCOND).float()
    if not scales.align_3d:
        return u + scales.video * (c - u)
    m = _get(preds, MASKED).float()
    return c + scales.video * (c - u) + scales.video_align * (c - m)


def combine_audio(
    scales: GuidanceScales, preds: Mapping[str, torch.Tensor], has_speaker: bool
) -> torch.Tensor:
    """Guided audio velocity from the per-pass predictions (fp32)."""
    c, u = _get(preds, COND).float(), _get(preds, UNCOND).float()
    timbre = timbre_active(scales, has_speaker)
    if not scales.align_3d and not timbre:
        return u + scales.audio * (c - u)
    out = c + scales.audio * (c - u)
    if scales.align_3d:
        out = out + scales.audio_align * (c - _get(preds, MASKED).float())
    if timbre:
        out = out + scales.timbre * (c - _get(preds, NO_SPEAKER).float())
    return out
