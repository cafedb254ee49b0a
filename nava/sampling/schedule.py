"""Flow-matching UniPC noise schedule (Wan2.2 `FlowUniPCMultistepScheduler` convention, shift 5).

The official schedule applies the shift twice: once to the 1000-step training sigmas (which only
sets sigma_max) and again to the inference grid. Timesteps are sigma * 1000 truncated to int64,
which gives 999, 995, 991, ... for 50 steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

NUM_TRAIN_TIMESTEPS = 1000
DEFAULT_SHIFT = 5.0


@dataclass(frozen=True)
class FlowSchedule:
    """Integer timesteps [n] (int64) and sigmas [n + 1] (float32, last 0) of one sampling run."""

    timesteps: torch.Tensor
    sigmas: torch.Tensor

    @property
    def num_steps(self) -> int:
        return int(self.timesteps.numel())


def shift_sigmas(sigmas: np.ndarray | torch.Tensor, shift: float) -> np.ndarray | torch.Tensor:
    """Resolution shift s(σ) = shift·σ / (1 + (shift − 1)·σ)."""
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def _train_sigma_range(shift: float, num_train_timesteps: int) -> tuple[float, float]:
    # The training grid is built in float32 (as upstream does), so sigma_max carries float32 rounding.
    alphas = np.linspace(1, 1 / num_train_timesteps, num_train_timesteps)[::-1].copy()
    train = shift_sigmas(torch.from_numpy(1.0 - alphas).to(torch.float32), shift)
    return float(train[0].item()), float(train[-1].item())


def flow_unipc_schedule(
    num_steps: int, shift: float = DEFAULT_SHIFT, num_train_timesteps: int = NUM_TRAIN_TIMESTEPS
) -> FlowSchedule:
    """Timesteps and sigmas of the official sampler for `num_steps` steps."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if shift <= 0:
        raise ValueError(f"shift must be > 0, got {shift}")
    sigma_max, sigma_min = _train_sigma_range(shift, num_train_timesteps)
    grid = np.linspace(sigma_max, sigma_min, num_steps + 1).copy()[:-1]
    grid = shift_sigmas(grid, shift)
    timesteps = torch.from_numpy(grid * num_train_timesteps).to(torch.int64)
    sigmas = torch.from_numpy(np.concatenate([grid, [0.0]]).astype(np.float32))
    return FlowSchedule(timesteps=timesteps, sigmas=sigmas)
