"""The denoising loop: per step, the needed guidance passes (optionally batched into one forward),
the 3D cross-modal combination, then one UniPC step per modality.

Latents are pipeline-level, token-major as in the official sampler: video [T·H·W, 48] in (f, h, w)
row-major order, audio [La, 128]. The model sees channel-first video [B, 48, T, H, W].
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nava_eval.nava.sampling.guidance import (
    COND,
    MASKED,
    NO_SPEAKER,
    UNCOND,
    GuidanceScales,
    combine_audio,
    combine_video,
    required_passes,
)
from nava_eval.nava.sampling.schedule import FlowSchedule
from nava_eval.nava.sampling.unipc import FlowUniPCSolver

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuidancePass:
    """Inputs of one model evaluation that differ between the passes of a step."""

    name: str
    context: torch.Tensor  # [n, text_dim], unpadded
    spk_embed: torch.Tensor | None  # [n_spk, 192]
    spk_pos: torch.Tensor | None  # [n_spk] context rows; None → no injection
    modality_mask: bool


@dataclass(frozen=True)
class StepRecord:
    """What a step callback sees (token-major tensors; video entries are None in audio-only modes)."""

    index: int
    num_steps: int
    timestep: int
    input_video: torch.Tensor | None  # state the passes and the solver saw (after any I2V paste)
    guided_video: torch.Tensor | None
    guided_audio: torch.Tensor | None
    latent_video: torch.Tensor | None  # state after the solver step
    latent_audio: torch.Tensor | None


@dataclass(frozen=True)
class DenoiseResult:
    video: torch.Tensor | None  # [T·H·W, 48] token-major
    audio: torch.Tensor | None  # [La, 128]


def build_passes(
    names: Sequence[str],
    context_pos: torch.Tensor,
    context_neg: torch.Tensor,
    spk_embed: torch.Tensor | None,
    spk_pos: torch.Tensor | None,
) -> list[GuidancePass]:
    """Official pass definitions (reference §6.3): only C injects speaker tokens."""
    table = {
        COND: GuidancePass(COND, context_pos, spk_embed, spk_pos, False),
        UNCOND: GuidancePass(UNCOND, context_neg, None, None, False),
        # The official M pass hands over the embeddings but not the positions, so nothing is injected.
        MASKED: GuidancePass(MASKED, context_pos, None, None, True),
        NO_SPEAKER: GuidancePass(NO_SPEAKER, context_pos, None, None, False),
    }
    return [table[name] for name in names]


def video_to_channel_first(tokens: torch.Tensor, t_h_w: Sequence[int]) -> torch.Tensor:
    """[T·H·W, C] token-major → [C, T, H, W]."""
    t, h, w = (int(v) for v in t_h_w)
    return tokens.reshape(t, h, w, -1).permute(3, 0, 1, 2)


def video_to_token_major(latent: torch.Tensor) -> torch.Tensor:
    """[C, T, H, W] → [T·H·W, C]."""
    return latent.permute(1, 2, 3, 0).reshape(-1, latent.shape[0])


def evaluate_passes(
    model: torch.nn.Module,
    video: torch.Tensor | None,
    audio: torch.Tensor | None,
    t_h_w: Sequence[int] | None,
    timestep: int | float,
    passes: Sequence[GuidancePass],
    first_frame_clean: bool = False,
    max_batch: int = 1,
) -> dict[str, tuple[torch.Tensor | None, torch.Tensor | None]]:
    """Run `passes` on one state; up to `max_batch` passes share a forward. Returns fp32 token-major outputs."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    video_cf = None if video is None else video_to_channel_first(video, t_h_w)[None]  # [1, C, T, H, W]
    audio_b = None if audio is None else audio[None]
    results: dict[str, tuple[torch.Tensor | None, torch.Tensor | None]] = {}
    for start in range(0, len(passes), max_batch):
        group = list(passes[start : start + max_batch])
        results.update(_run_group(model, video_cf, audio_b, timestep, group, first_frame_clean))
    return results


def _run_group(
    model: torch.nn.Module,
    video_cf: torch.Tensor | None,
    audio_b: torch.Tensor | None,
    timestep: int | float,
    group: list[GuidancePass],
    first_frame_clean: bool,
) -> dict[str, tuple[torch.Tensor | None, torch.Tensor | None]]:
    """One forward for `group`; on out-of-memory the group is split in halves ("batch when memory allows")."""
    b = len(group)
    try:
        out = model(
            None if video_cf is None else video_cf.expand(b, -1, -1, -1, -1),
            None if audio_b is None else audio_b.expand(b, -1, -1),
            # UniPC feeds int64-truncated timesteps; the distilled student feeds its float32 table values.
            torch.tensor([timestep], dtype=torch.float32 if isinstance(timestep, float) else torch.int64),
            [p.context for p in group],
            spk_embed=[p.spk_embed for p in group],
            spk_pos=[p.spk_pos for p in group],
            first_frame_clean=[first_frame_clean] * b,
            modality_mask=[p.modality_mask for p in group],
        )
    except torch.OutOfMemoryError:
        if b == 1:
            raise
        logger.warning("out of memory with %d guidance passes in one forward; splitting the batch", b)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = (b + 1) // 2
        first = _run_group(model, video_cf, audio_b, timestep, group[:half], first_frame_clean)
        return {**first, **_run_group(model, video_cf, audio_b, timestep, group[half:], first_frame_clean)}
    results: dict[str, tuple[torch.Tensor | None, torch.Tensor | None]] = {}
    for i, p in enumerate(group):
        v = None if out.video is None else video_to_token_major(out.video[i].float())
        a = None if out.audio is None else out.audio[i].float()
        results[p.name] = (v, a)
    return results


def denoise(
    model: torch.nn.Module,
    schedule: FlowSchedule,
    scales: GuidanceScales,
    *,
    noise_video: torch.Tensor | None,
    noise_audio: torch.Tensor | None,
    t_h_w: Sequence[int] | None,
    context_pos: torch.Tensor,
    context_neg: torch.Tensor,
    spk_embed: torch.Tensor | None = None,
    spk_pos: torch.Tensor | None = None,
    first_frame: torch.Tensor | None = None,
    max_batch: int = 1,
    on_step: Callable[[StepRecord], None] | None = None,
) -> DenoiseResult:
    """Sample from x_T = noise with the official guided UniPC loop.

    first_frame: I2V clean image latent [48, 1, H, W]; pasted into frame 0 of the video state before
    every evaluation (the solver steps the pasted state too, as officially) and its tokens get t = 0;
    not pasted after the last step.
    max_batch: passes per forward (1 = official sequential order; 4 = one batched forward per step).
    """
    if noise_video is None and noise_audio is None:
        raise ValueError("denoise needs video noise, audio noise or both")
    has_video = noise_video is not None
    has_speaker = spk_embed is not None and spk_pos is not None and spk_pos.numel() > 0
    passes = build_passes(
        required_passes(scales, has_video, has_speaker), context_pos, context_neg, spk_embed, spk_pos
    )
    logger.debug(
        "denoise: %d steps, passes %s, max_batch %d", schedule.num_steps, [p.name for p in passes], max_batch
    )

    video = None if noise_video is None else noise_video.float().clone()
    audio = None if noise_audio is None else noise_audio.float().clone()
    first_tokens = None
    if first_frame is not None:
        if video is None:
            raise ValueError("first_frame (I2V) given without a video latent")
        first_tokens = video_to_token_major(first_frame.float())  # [H·W, 48]
    video_solver = FlowUniPCSolver(schedule) if video is not None else None
    audio_solver = FlowUniPCSolver(schedule) if audio is not None else None

    n = schedule.num_steps
    for i, t in enumerate(schedule.timesteps.tolist()):
        if first_tokens is not None:
            # Out of place, so a StepRecord kept by the caller still shows the solver's output.
            video = video.clone()
            video[: first_tokens.shape[0]] = first_tokens
        preds = evaluate_passes(model, video, audio, t_h_w, t, passes, first_tokens is not None, max_batch)
        guided_video = guided_audio = None
        input_video = video
        if video is not None:
            guided_video = combine_video(scales, {k: v[0] for k, v in preds.items()})
            video = video_solver.step(guided_video, video)
        if audio is not None:
            guided_audio = combine_audio(scales, {k: v[1] for k, v in preds.items()}, has_speaker)
            audio = audio_solver.step(guided_audio, audio)
        if on_step is not None:
            on_step(StepRecord(i, n, t, input_video, guided_video, guided_audio, video, audio))
    return DenoiseResult(video=video, audio=audio)
