"""The 4-step DMD2 student sampler (nava_src/distill/dmd2_engine.py, `DMD2DistillEngine.sample`).

The student has classifier-free guidance distilled in: one forward per step, on the positive prompt
(speaker tokens injected as in the teacher's C pass, joint attention), no negative, masked or
speaker-dropped pass. Its schedule is the engine's training sigma table, not UniPC's:
- train sigmas (1.0, 0.75, 0.5, 0.25) (yaml `distill.train_sigmas`), shifted as the training
  scheduler does, σ' = s·σ / (1 + (s − 1)·σ) with s = `model.shift` (5), computed in float64 and
  stored as float32: 1.0, 0.9375, 0.8333333, 0.625;
- timesteps σ'·1000 in float32 (1000, 937.5, 833.3333, 625), fed to the model as they are (the
  teacher's UniPC path truncates to int64; the student's does not);
- the first `num_steps` sigmas in descending order, then a plain Euler step on the flow,
  x ← x + (σ_next − σ)·v with σ_next = 0 after the last one.
I2V pastes the clean first-frame latent before every forward (and the solver steps the pasted state),
with t = 0 on its tokens, as the teacher path. The engine draws `torch.rand(b)` for its
condition-dropout bookkeeping before the noise even at drop_prob 0; nava-eval's noise comes from its
own seeded generator (docs/known-differences.md), so that draw has no counterpart here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nava_eval.nava.sampling.denoise import (
    DenoiseResult,
    GuidancePass,
    StepRecord,
    evaluate_passes,
    video_to_token_major,
)
from nava_eval.nava.sampling.guidance import COND

TRAIN_SIGMAS = (1.0, 0.75, 0.5, 0.25)
NUM_STEPS = 4


@dataclass(frozen=True)
class StudentSchedule:
    sigmas: torch.Tensor  # float32, descending, num_steps values
    timesteps: torch.Tensor  # float32, sigmas · num_train_timesteps

    @property
    def num_steps(self) -> int:
        return int(self.sigmas.numel())


def student_schedule(
    num_steps: int = NUM_STEPS,
    train_sigmas: Sequence[float] = TRAIN_SIGMAS,
    shift: float = 5.0,
    num_train_timesteps: int = 1000,
) -> StudentSchedule:
    """The engine's sigma/timestep table, in its own arithmetic (float64 shift, float32 storage)."""
    if not 1 <= num_steps <= len(train_sigmas):
        raise ValueError(f"the student takes 1..{len(train_sigmas)} steps (its sigma table), got {num_steps}")
    sigmas = torch.tensor(list(train_sigmas), dtype=torch.float64)
    shifted = (shift * sigmas / (1.0 + (shift - 1.0) * sigmas)).float()
    table = shifted * num_train_timesteps
    order = shifted.sort(descending=True)
    sigmas_desc = order.values[:num_steps]
    return StudentSchedule(sigmas=sigmas_desc, timesteps=table[order.indices][:num_steps])


def student_denoise(
    model: torch.nn.Module,
    schedule: StudentSchedule,
    *,
    noise_video: torch.Tensor | None,
    noise_audio: torch.Tensor | None,
    t_h_w: Sequence[int] | None,
    context_pos: torch.Tensor,
    spk_embed: torch.Tensor | None = None,
    spk_pos: torch.Tensor | None = None,
    first_frame: torch.Tensor | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> DenoiseResult:
    """Sample with the distilled student: one conditional forward and one Euler step per sigma."""
    if noise_video is None and noise_audio is None:
        raise ValueError("student_denoise needs video noise, audio noise or both")
    has_speaker = spk_embed is not None and spk_pos is not None and spk_pos.numel() > 0
    passes = [
        GuidancePass(
            COND, context_pos, spk_embed if has_speaker else None, spk_pos if has_speaker else None, False
        )
    ]
    video = None if noise_video is None else noise_video.float().clone()
    audio = None if noise_audio is None else noise_audio.float().clone()
    first_tokens = None
    if first_frame is not None:
        if video is None:
            raise ValueError("first_frame (I2V) given without a video latent")
        first_tokens = video_to_token_major(first_frame.float())
    n = schedule.num_steps
    zero = torch.zeros((), dtype=torch.float32)
    for i in range(n):
        sigma = schedule.sigmas[i]
        sigma_next = schedule.sigmas[i + 1] if i + 1 < n else zero
        if first_tokens is not None:
            video = video.clone()
            video[: first_tokens.shape[0]] = first_tokens
        timestep = float(schedule.timesteps[i])
        v_video, v_audio = evaluate_passes(
            model, video, audio, t_h_w, timestep, passes, first_tokens is not None
        )[COND]
        input_video = video
        step = (sigma_next - sigma).to(torch.float32)
        if video is not None:
            video = video + step.to(video.device) * v_video
        if audio is not None:
            audio = audio + step.to(audio.device) * v_audio
        if on_step is not None:
            on_step(StepRecord(i, n, timestep, input_video, v_video, v_audio, video, audio))
    return DenoiseResult(video=video, audio=audio)
