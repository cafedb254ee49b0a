"""Section `fp8`: the batched step with fp8 weight-only Linears, as stored today and with a real fp8 GEMM.

The block Linears are quantised in place to the release's fp8 layout (nava.checkpoint); their bf16
originals wait on the CPU, so the peak memory shown is that of the fp8 model alone, and are put
back afterwards. "dequant" is what `--weight-dtype fp8_e4m3fn` runs today (fp8 storage, bf16
GEMMs); "scaled_mm" is the opt-in fp8 × fp8 GEMM. Each is checked against the bf16 step.
"""

from __future__ import annotations

import torch
from torch import nn

from nava_eval.nava.checkpoint import Fp8Linear, quantize_linears_fp8, set_fp8_gemm
from nava_eval.runners.perf.gpu.budget import Deadline
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.model_bench import relative_error, step_measurement
from nava_eval.runners.perf.gpu.report import Measurement, SectionResult
from nava_eval.runners.perf.gpu.timing import measure

GEMMS = ("dequant", "scaled_mm")


def _restore(model: nn.Module, originals: dict[str, nn.Linear], device: torch.device) -> None:
    """Put back every original Linear that is an Fp8Linear now (also after an interrupted quantisation)."""
    for name, linear in originals.items():
        parent_name, _, child = name.rpartition(".")
        if isinstance(model.get_submodule(name), Fp8Linear):
            setattr(model.get_submodule(parent_name), child, linear.to(device))


def run(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> None:
    rig = ctx.rig
    model, n = rig.model, len(rig.passes)
    reference = ctx.reference_step
    bf16_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    originals = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    try:
        replaced = quantize_linears_fp8(model)
        for name, linear in originals.items():
            if isinstance(model.get_submodule(name), Fp8Linear):
                linear.to("cpu")  # so the peak memory below is the fp8 model's
        if ctx.device.type == "cuda":
            torch.cuda.empty_cache()
        fp8_bytes = sum(p.numel() * p.element_size() for p in model.parameters()) + sum(
            b.numel() * b.element_size() for b in model.buffers()
        )
        section.checks.update(
            {"fp8_linears": replaced, "weight_bytes_bf16": bf16_bytes, "weight_bytes_fp8": fp8_bytes}
        )
        for index, gemm in enumerate(GEMMS):
            set_fp8_gemm(model, gemm)
            label = f"step, {n} passes batched, fp8 weights, {gemm}"
            try:
                timing, out = measure(
                    lambda: rig.step(n),
                    ctx.device,
                    deadline.sub(deadline.remaining() / (len(GEMMS) - index)),
                    max_repeats=ctx.plan.max_repeats,
                )
            except (RuntimeError, NotImplementedError, AttributeError, TypeError) as err:
                # One product failing (no fp8 kernel before sm_89) still leaves the other's row.
                text = f"{type(err).__name__}: {str(err).splitlines()[0]}"
                section.add(Measurement(label=label, seconds=None, per="step", note=f"error: {text}"))
                section.status, section.error = "error", f"{gemm}: {text}"
                continue
            note = (
                "" if reference is None else f"rel. error vs bf16 step: {relative_error(out, reference):.1e}"
            )
            if reference is not None:
                section.checks[f"{gemm}_vs_bf16_rel_error"] = f"{relative_error(out, reference):.2e}"
            ctx.figures[f"fp8_{gemm}_step_s"] = timing.seconds
            section.add(step_measurement(ctx, label, timing, note))
    finally:
        _restore(model, originals, ctx.device)
