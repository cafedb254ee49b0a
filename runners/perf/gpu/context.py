"""State the sections share: the plan, the device, the measured ceiling and the model under test."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nava_eval.runners.perf.gpu.plan import BenchPlan


@dataclass
class BenchContext:
    plan: BenchPlan
    device: torch.device
    matmul_flops_per_s: float | None = None  # the ceiling MFU is measured against (same run)
    rig: Any = None  # model_bench.ModelRig once the model section has built it
    reference_step: dict[str, tuple[torch.Tensor | None, torch.Tensor | None]] | None = None
    figures: dict[str, float] = field(default_factory=dict)  # inputs of the projection, by name
    workdir: Path | None = None  # scratch folder of this run (removed by the runner)
    clips: list[Path] = field(default_factory=list)  # synthetic clips, written once for both metrics

    @property
    def compute_dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.plan.weights == "bf16" else torch.float32

    def mfu(self, flops_per_s: float | None) -> float | None:
        if flops_per_s is None or not self.matmul_flops_per_s:
            return None
        return flops_per_s / self.matmul_flops_per_s
