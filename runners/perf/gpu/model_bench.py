"""Sections `model` and `step`: the DiT at the plan's shape, and one denoising step's guidance passes.

The model is built on the meta device and materialised with seeded random weights on the device
(bf16 on CUDA with bf16 autocast, the harness's precision; fp32 on CPU): speed does not depend on the
weights' values. A step runs the sampler's own `evaluate_passes` on the plan's passes (C, U, M for
VerseBench), all in one batched forward (the harness default) or one forward per pass (the official
order), and the two are checked against each other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from nava_eval.nava.checkpoint import build_model, count_parameters, inference_autocast, materialize_random
from nava_eval.nava.modeling import NavaModel
from nava_eval.nava.sampling import GuidancePass, build_passes, evaluate_passes
from nava_eval.runners.perf.gpu.budget import Deadline
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.flops import FlopCount, ForwardShape, total_flops, video_tokens
from nava_eval.runners.perf.gpu.plan import NEGATIVE_TEXT_TOKENS
from nava_eval.runners.perf.gpu.report import Measurement, SectionResult
from nava_eval.runners.perf.gpu.timing import measure

TIMESTEP = 500  # mid-schedule; the cost does not depend on it

Outputs = dict[str, tuple[torch.Tensor | None, torch.Tensor | None]]


@dataclass
class ModelRig:
    """The model under test and one step's inputs (token-major latents, as the sampler holds them)."""

    model: NavaModel
    device: torch.device
    grid: tuple[int, int, int]
    video: torch.Tensor  # [T·H·W, 48]
    audio: torch.Tensor  # [La, 128]
    passes: list[GuidancePass]
    first_frame_clean: bool

    def step(self, max_batch: int) -> Outputs:
        """One step's guidance passes, `max_batch` per forward."""
        with torch.no_grad(), inference_autocast(self.device):
            return evaluate_passes(
                self.model,
                self.video,
                self.audio,
                self.grid,
                TIMESTEP,
                self.passes,
                self.first_frame_clean,
                max_batch,
            )

    def flops(self) -> FlopCount:
        config = self.model.config
        lv = video_tokens(config, self.grid)
        shapes = [ForwardShape(lv, self.audio.shape[0], p.modality_mask) for p in self.passes]
        return total_flops(config, shapes)


def build_rig(ctx: BenchContext) -> ModelRig:
    plan, device = ctx.plan, ctx.device
    config = plan.config
    model = materialize_random(build_model(config, "meta"), device, ctx.compute_dtype, seed=0).eval()
    gen = torch.Generator(device="cpu").manual_seed(1)
    grid = plan.step.latent_grid
    video = torch.randn(math.prod(grid), config.vid_in_dim, generator=gen).to(device)
    audio = torch.randn(plan.step.audio_tokens, config.audio_in_dim, generator=gen).to(device)
    positive = torch.randn(plan.step.text_tokens, config.text_dim, generator=gen).to(device)
    negative = torch.randn(min(NEGATIVE_TEXT_TOKENS, config.text_len), config.text_dim, generator=gen).to(
        device
    )
    passes = build_passes(plan.step.passes, positive, negative, None, None)
    return ModelRig(model, device, grid, video, audio, passes, plan.step.first_frame_clean)


def run_model(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> None:
    """Build the model (meta → random weights on the device) and record its size and FLOP count."""
    start = time.perf_counter()
    ctx.rig = build_rig(ctx)
    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    seconds = time.perf_counter() - start
    rig, config = ctx.rig, ctx.plan.config
    flops = rig.flops()
    weight_bytes = sum(p.numel() * p.element_size() for p in rig.model.parameters())
    section.add(
        Measurement(
            label=f"materialise {ctx.plan.model_preset} ({ctx.plan.weights}, seeded random)",
            seconds=seconds,
            per="build",
            peak_memory_bytes=torch.cuda.max_memory_allocated(ctx.device)
            if ctx.device.type == "cuda"
            else None,
        )
    )
    section.checks.update(
        {
            "parameters": count_parameters(rig.model),
            "weight_bytes": weight_bytes,
            "latent_grid": list(rig.grid),
            "video_tokens": video_tokens(config, rig.grid),
            "audio_tokens": rig.audio.shape[0],
            "passes": "".join(p.name for p in rig.passes),
            "step_flops": flops.total,
            "step_flops_linear": flops.linear,
            "step_flops_attention": flops.attention,
        }
    )


def relative_error(outputs: Outputs, reference: Outputs) -> float:
    """Largest ‖a − b‖ / ‖b‖ over passes and modalities."""
    worst = 0.0
    for name, pair in reference.items():
        for a, b in zip(outputs[name], pair, strict=True):
            if a is None or b is None:
                continue
            worst = max(worst, float((a.float() - b.float()).norm() / b.float().norm().clamp(min=1e-30)))
    return worst


def step_measurement(ctx: BenchContext, label: str, timing, note: str = "") -> Measurement:
    flops = ctx.rig.flops().total
    rate = flops / timing.seconds
    return Measurement(
        label=label,
        seconds=timing.seconds,
        seconds_all=timing.seconds_all,
        first_s=timing.first_s,
        peak_memory_bytes=timing.peak_memory_bytes,
        flops=flops,
        flops_per_s=rate,
        mfu=ctx.mfu(rate),
        per="step",
        note=note,
    )


def run_step(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> None:
    """All passes in one forward (harness default) vs one forward per pass (official order)."""
    rig = ctx.rig
    n = len(rig.passes)
    repeats = ctx.plan.max_repeats
    batched, out_batched = measure(
        lambda: rig.step(n), ctx.device, deadline.sub(deadline.remaining() / 2), max_repeats=repeats
    )
    ctx.reference_step = out_batched
    ctx.figures["bf16_step_s"] = batched.seconds
    section.add(step_measurement(ctx, f"{n} passes batched (1 forward, B={n})", batched, "harness default"))
    sequential, out_sequential = measure(lambda: rig.step(1), ctx.device, deadline, max_repeats=repeats)
    section.add(
        step_measurement(ctx, f"{n} passes sequential ({n} forwards, B=1)", sequential, "official order")
    )
    section.checks["batched_speedup"] = round(sequential.seconds / batched.seconds, 3)
    section.checks["batched_vs_sequential_rel_error"] = f"{relative_error(out_batched, out_sequential):.2e}"
    if sequential.seconds < batched.seconds:
        section.notes.append("sequential passes were faster here than the harness default (batched)")
