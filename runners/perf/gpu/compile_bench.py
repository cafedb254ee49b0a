"""Section `compile`: the batched step with each transformer block under torch.compile.

Regional compilation: every block is wrapped on its own, so the 30 blocks of two classes compile
into two graphs reused by all (torch ≥ 2.5 treats the blocks' parameters as inputs), instead of
one 30-block graph that would take minutes to build. The first call, which compiles, is reported
apart (`first_s`); the model gets its eager blocks back afterwards, even after a timeout.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from nava_eval.runners.perf.gpu.budget import Deadline
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.model_bench import relative_error, step_measurement
from nava_eval.runners.perf.gpu.report import SectionResult
from nava_eval.runners.perf.gpu.timing import measure

BLOCK_LISTS = ("double_blocks", "single_blocks", "double_final_blocks")


def compile_blocks(model: nn.Module, backend: str) -> dict[str, list[nn.Module]]:
    """Wrap each block in torch.compile, in place; returns the eager blocks for `restore_blocks`."""
    eager = {name: list(getattr(model, name)) for name in BLOCK_LISTS}
    for name, blocks in eager.items():
        target = getattr(model, name)
        for i, block in enumerate(blocks):
            target[i] = torch.compile(block, backend=backend, dynamic=False)
    return eager


def restore_blocks(model: nn.Module, eager: dict[str, list[nn.Module]]) -> None:
    for name, blocks in eager.items():
        target = getattr(model, name)
        for i, block in enumerate(blocks):
            target[i] = block


def run(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> None:
    rig = ctx.rig
    n = len(rig.passes)
    backend = ctx.plan.compile_backend
    from torch._dynamo.utils import counters

    # Graph breaks are expected (the attention's host-side mask checks) and counted below; their
    # warnings would drown the progress lines.
    dynamo_log = logging.getLogger("torch._dynamo")
    level = dynamo_log.level
    dynamo_log.setLevel(logging.ERROR)
    counters.clear()
    eager = compile_blocks(rig.model, backend)
    try:
        timing, out = measure(lambda: rig.step(n), ctx.device, deadline, max_repeats=ctx.plan.max_repeats)
    finally:
        restore_blocks(rig.model, eager)
        dynamo_log.setLevel(level)
        breaks = dict(counters["graph_break"])
        torch._dynamo.reset()
    section.checks["graph_breaks"] = sum(breaks.values())
    section.checks["graph_break_reasons"] = sorted(reason.splitlines()[0][:120] for reason in breaks)
    note = f"backend {backend}; first call {timing.first_s:.1f} s (compiles)"
    if ctx.reference_step is not None:
        error = relative_error(out, ctx.reference_step)
        section.checks["compiled_vs_eager_rel_error"] = f"{error:.2e}"
        note += f"; rel. diff vs eager: {error:.1e}"
    section.add(step_measurement(ctx, f"step, {n} passes batched, blocks compiled", timing, note))
    eager_step = ctx.figures.get("bf16_step_s")
    if eager_step:
        section.checks["compiled_speedup_vs_eager"] = round(eager_step / timing.seconds, 3)
