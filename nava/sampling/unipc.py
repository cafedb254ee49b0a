"""UniPC-bh2 multistep solver for flow-matching velocities (predict-x0, order 2, lower-order final).

Written from the UniPC paper (Zhao et al. 2023) in the form used by Wan2.2's flow port of the diffusers
scheduler, so that it reproduces the official NAVA sampler step for step. One instance per modality:
video and audio are stepped independently with their own guided velocities.
"""

from __future__ import annotations

import math

import torch

from nava_eval.nava.sampling.schedule import FlowSchedule


def _lambda(sigma: float) -> float:
    # Half log-SNR of the flow path x_σ = (1 − σ)·x0 + σ·noise; +inf at σ = 0 (final step).
    if sigma == 0.0:
        return math.inf
    return math.log(1.0 - sigma) - math.log(sigma)


def _bh2_coefficients(h: float, order: int) -> tuple[float, float, list[float]]:
    """Return (h_phi_1, B_h, b) for the bh2 variant; b has `order` entries."""
    hh = -h
    h_phi_1 = math.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1.0 if math.isfinite(hh) else -1.0
    b_h = math.expm1(hh)
    b: list[float] = []
    factorial = 1
    for i in range(1, order + 1):
        b.append(h_phi_k * factorial / b_h)
        factorial *= i + 1
        h_phi_k = h_phi_k / hh - 1.0 / factorial if math.isfinite(hh) else -1.0 / factorial
    return h_phi_1, b_h, b


class FlowUniPCSolver:
    """Stateful UniPC solver; call `step(velocity, sample)` once per timestep of `schedule`."""

    def __init__(self, schedule: FlowSchedule, solver_order: int = 2, lower_order_final: bool = True) -> None:
        if solver_order not in (1, 2):
            raise ValueError(f"solver_order must be 1 or 2, got {solver_order}")
        self.schedule = schedule
        self.sigmas = [float(s) for s in schedule.sigmas.tolist()]
        self.solver_order = solver_order
        self.lower_order_final = lower_order_final
        self.step_index = 0
        self._x0_history: list[torch.Tensor] = []
        self._last_sample: torch.Tensor | None = None
        self._last_order = 0
        self._warmup = 0

    def _predict(self, sample: torch.Tensor, order: int) -> torch.Tensor:
        i = self.step_index
        sigma_s0, sigma_t = self.sigmas[i], self.sigmas[i + 1]
        lam_s0, lam_t = _lambda(sigma_s0), _lambda(sigma_t)
        h = lam_t - lam_s0
        m0 = self._x0_history[-1]
        h_phi_1, b_h, _ = _bh2_coefficients(h, order)
        x_t = (sigma_t / sigma_s0) * sample - (1.0 - sigma_t) * h_phi_1 * m0
        if order == 2:
            # Predictor order 2 uses the fixed ρ = 1/2 on the first divided difference.
            rk = (_lambda(self.sigmas[i - 1]) - lam_s0) / h
            d1 = (self._x0_history[-2] - m0) / rk
            x_t = x_t - (1.0 - sigma_t) * b_h * 0.5 * d1
        return x_t

    def _correct(self, x0_now: torch.Tensor, sample: torch.Tensor, order: int) -> torch.Tensor:
        i = self.step_index
        sigma_s0, sigma_t = self.sigmas[i - 1], self.sigmas[i]
        lam_s0, lam_t = _lambda(sigma_s0), _lambda(sigma_t)
        h = lam_t - lam_s0
        m0 = self._x0_history[-1]
        x_prev = self._last_sample
        assert x_prev is not None
        h_phi_1, b_h, b = _bh2_coefficients(h, order)
        x_t = (sigma_t / sigma_s0) * x_prev - (1.0 - sigma_t) * h_phi_1 * m0
        d1_t = x0_now - m0
        if order == 1:
            return x_t - (1.0 - sigma_t) * b_h * 0.5 * d1_t
        rk = (_lambda(self.sigmas[i - 2]) - lam_s0) / h
        d1 = (self._x0_history[-2] - m0) / rk
        # Solve R ρ = b with R = [[1, 1], [rk, 1]] (rows are powers of [rk, 1]).
        det = 1.0 - rk
        rho_0 = (b[0] - b[1]) / det
        rho_1 = (b[1] - rk * b[0]) / det
        return x_t - (1.0 - sigma_t) * b_h * (rho_0 * d1 + rho_1 * d1_t)

    def step(self, velocity: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """Advance `sample` (at sigmas[step_index]) by one step given the model's flow velocity."""
        n = len(self.sigmas) - 1
        if self.step_index >= n:
            raise RuntimeError(f"solver already took all {n} steps")
        x0_now = sample - self.sigmas[self.step_index] * velocity
        if self.step_index > 0 and self._last_sample is not None:
            sample = self._correct(x0_now, sample, self._last_order)
        self._x0_history = (self._x0_history + [x0_now])[-self.solver_order :]
        order = self.solver_order
        if self.lower_order_final:
            order = min(order, n - self.step_index)
        order = min(order, self._warmup + 1)
        self._last_order = order
        self._last_sample = sample
        out = self._predict(sample, order)
        self._warmup = min(self._warmup + 1, self.solver_order)
        self.step_index += 1
        return out
