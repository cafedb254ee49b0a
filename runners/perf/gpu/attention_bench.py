"""Section `attention`: the attention kernels at the plan's joint sequence, then whole steps under each.

First one joint self-attention (q, k, v [1, Lv + La, heads, head_dim], the compute dtype) per SDPA
backend (flash, efficient, cuDNN, math) and through the flash-attn package where installed:
seconds, TFLOP/s (4·L²·dim), peak memory, and agreement with the first backend that ran. A
backend that cannot run here (no kernel for this device, dtype or size; math needs L² memory) is
listed as unavailable with the reason. Then, while the box allows, the batched step with the model
forced onto each backend that ran, fastest kernel first.
"""

from __future__ import annotations

import contextlib

import torch

from nava_eval.nava.modeling import attention as attn
from nava_eval.runners.perf.gpu.budget import Deadline
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.flops import video_tokens
from nava_eval.runners.perf.gpu.model_bench import relative_error, step_measurement
from nava_eval.runners.perf.gpu.plan import FLASH_ATTN
from nava_eval.runners.perf.gpu.report import Measurement, SectionResult
from nava_eval.runners.perf.gpu.timing import measure

MATH_MEMORY_FRACTION = 0.8  # of free memory the math backend's L×L scores may take


def _sdpa_backend(name: str):
    from torch.nn.attention import SDPBackend

    return {
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "math": SDPBackend.MATH,
    }[name]


def backend_context(name: str):
    """(model backend, context manager) that forces `name`."""
    from torch.nn.attention import sdpa_kernel

    if name == FLASH_ATTN:
        return "flash", contextlib.nullcontext()
    return "sdpa", sdpa_kernel([_sdpa_backend(name)])


def _unavailable_reason(ctx: BenchContext, name: str, q: torch.Tensor) -> str | None:
    if name == FLASH_ATTN and not (attn.flash_attn_available() and q.is_cuda):
        return "the flash-attn package is not installed" if q.is_cuda else "flash-attn runs on CUDA only"
    if name == "math" and q.is_cuda:
        heads, length = q.shape[2], q.shape[1]
        scores = 3 * heads * length * length * 4  # scores, softmax and its fp32 upcast
        free, _ = torch.cuda.mem_get_info(ctx.device)
        if scores > MATH_MEMORY_FRACTION * free:
            return (
                f"math needs about {scores / 2**30:.0f} GiB for the L×L scores, {free / 2**30:.0f} GiB free"
            )
    return None


def run(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> None:
    ran = _kernels(ctx, section, deadline.sub(deadline.remaining() * 0.3))
    # Whole steps under each kernel that ran, fastest first; math only when nothing else ran.
    names = [name for _, name in sorted(ran) if name != "math" or len(ran) == 1]
    _steps_per_backend(ctx, section, deadline, names)


def _kernels(ctx: BenchContext, section: SectionResult, box: Deadline) -> list[tuple[float, str]]:
    """One joint self-attention per backend; returns (seconds, name) of those that ran."""
    config, rig = ctx.plan.config, ctx.rig
    tokens = video_tokens(config, rig.grid) + rig.audio.shape[0]
    gen = torch.Generator(device=ctx.device).manual_seed(2)
    shape = (1, tokens, config.num_heads, config.head_dim)
    q, k, v = (
        torch.randn(shape, device=ctx.device, dtype=ctx.compute_dtype, generator=gen) for _ in range(3)
    )
    flops = 4.0 * tokens * tokens * config.dim
    reference = None
    ran: list[tuple[float, str]] = []
    for name in ctx.plan.attention_backends:
        reason = _unavailable_reason(ctx, name, q)
        label = f"attention {name} (L={tokens}, {config.num_heads}×{config.head_dim})"
        if reason is None:
            model_backend, forced = backend_context(name)
            try:
                with forced:
                    timing, out = measure(
                        lambda mb=model_backend: attn.attention(q, k, v, mb),
                        ctx.device,
                        box.sub(box.remaining() / 2),
                        max_repeats=5,
                    )
            except RuntimeError as err:
                reason = str(err).strip().splitlines()[0][:200]
        if reason is not None:
            section.add(
                Measurement(label=label, seconds=None, per="attention", note=f"unavailable: {reason}")
            )
            continue
        agreement = ""
        if reference is None:
            reference = out
        else:
            rel = float((out.float() - reference.float()).norm() / reference.float().norm())
            agreement = f"rel. diff vs {ran[0][1]}: {rel:.1e}"
            section.checks[f"{name}_vs_{ran[0][1]}_rel_error"] = f"{rel:.2e}"
        ran.append((timing.seconds, name))
        section.add(
            Measurement(
                label=label,
                seconds=timing.seconds,
                seconds_all=timing.seconds_all,
                first_s=timing.first_s,
                peak_memory_bytes=timing.peak_memory_bytes,
                flops=flops,
                flops_per_s=flops / timing.seconds,
                mfu=ctx.mfu(flops / timing.seconds),
                per="attention",
                note=agreement,
            )
        )
    return ran


def _steps_per_backend(
    ctx: BenchContext, section: SectionResult, deadline: Deadline, names: list[str]
) -> None:
    rig = ctx.rig
    n = len(rig.passes)
    for name in names:
        expected = ctx.figures.get("bf16_step_s", 0.0) * 2.2  # a warm-up and one timed step
        if expected > deadline.remaining():
            section.notes.append(f"step under {name}: not run, {expected:.0f} s would pass the time box")
            continue
        model_backend, forced = backend_context(name)
        rig.model.set_attention_backend(model_backend)
        try:
            with forced:
                timing, out = measure(lambda: rig.step(n), ctx.device, deadline, max_repeats=1)
        except RuntimeError as err:
            section.add(
                Measurement(
                    label=f"step, {n} passes batched, {name}", seconds=None, per="step", note=f"error: {err}"
                )
            )
            section.status = "error"
            section.error = f"step under {name}: {str(err).splitlines()[0]}"
            continue
        finally:
            rig.model.set_attention_backend(ctx.plan.config.attention_backend)
        note = ""
        if ctx.reference_step is not None:
            note = f"rel. diff vs default step: {relative_error(out, ctx.reference_step):.1e}"
        section.add(step_measurement(ctx, f"step, {n} passes batched, {name}", timing, note))
