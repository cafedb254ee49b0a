"""Run the sections in order inside one global budget; each is time-boxed and fail-soft.

A section's box is its share of the time still left (shares of the sections still to run), so time
one section does not use flows to the next. A section that raises or runs past its box records
`error` / `timeout` with what it measured so far, and the next one runs; sections that need the
model are skipped when the model could not be built. The JSON and markdown files are rewritten
after every section, so even a killed run leaves its figures.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nava_eval.errors import InvalidValue
from nava_eval.runners.perf.gpu import (
    attention_bench,
    ceiling,
    compile_bench,
    decode_bench,
    fp8_bench,
    model_bench,
    projection,
    scoring_bench,
)
from nava_eval.runners.perf.gpu.budget import Deadline, SectionTimeout, time_box
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.machine import collect_machine
from nava_eval.runners.perf.gpu.plan import BenchPlan
from nava_eval.runners.perf.gpu.report import BenchReport, SectionResult, write_report

logger = logging.getLogger(__name__)

SectionFn = Callable[[BenchContext, SectionResult, Deadline], Any]


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    run: SectionFn
    share: float  # relative share of the remaining budget
    requires: str | None = None  # a section that must have succeeded first


SECTIONS: tuple[Section, ...] = (
    Section("ceiling", "Ceilings: GEMM rate and copy bandwidth", ceiling.run, 0.3),
    Section("model", "Model: meta init, seeded random weights on the device", model_bench.run_model, 0.5),
    Section(
        "step", "Denoising step: guidance passes batched vs sequential", model_bench.run_step, 1.5, "model"
    ),
    Section("attention", "Attention backends: kernel, then whole steps", attention_bench.run, 1.2, "model"),
    Section(
        "fp8", "fp8 weights: as stored today (dequant) and fp8 GEMM (scaled_mm)", fp8_bench.run, 1.0, "model"
    ),
    Section("video_vae", "Video VAE decode (Wan2.2, tiled)", decode_bench.run_video, 1.5),
    Section("audio_vae", "Audio VAE + vocoder decode (LTX-2.3)", decode_bench.run_audio, 0.3),
    Section("clips", "Synthetic talking-face clips for the scoring sections", scoring_bench.run_clips, 0.6),
    Section("sync", "Scoring: Sync-C/D (S3FD + SyncNet)", scoring_bench.run_sync, 1.5, "clips"),
    Section(
        "video_quality",
        "Scoring: video quality (Verse-Bench AS path)",
        scoring_bench.run_video_quality,
        0.8,
        "clips",
    ),
    Section("compile", "torch.compile of the blocks", compile_bench.run, 2.0, "model"),
    Section("projection", "Projection", projection.run, 0.01),
)
SECTION_NAMES = tuple(s.name for s in SECTIONS)


def select_sections(names: Sequence[str] | None) -> tuple[Section, ...]:
    """The sections to run, in their fixed order; unknown names are an error listing the valid ones."""
    if not names:
        return SECTIONS
    unknown = sorted(set(names) - set(SECTION_NAMES))
    if unknown:
        raise InvalidValue(f"unknown section(s) {', '.join(unknown)}; valid: {', '.join(SECTION_NAMES)}")
    wanted = set(names)
    wanted |= {s.requires for s in SECTIONS if s.name in wanted and s.requires}
    return tuple(s for s in SECTIONS if s.name in wanted)


def _recover(device: torch.device) -> None:
    """After a failure: let queued kernels finish and give cached memory back."""
    gc.collect()
    if device.type == "cuda":
        try:
            torch.cuda.synchronize(device)
        except RuntimeError:  # a broken context reports itself in the next section too
            logger.exception("CUDA synchronize after a failed section")
        torch.cuda.empty_cache()


def _is_timeout(err: BaseException) -> bool:
    """The box's SectionTimeout, also when a library (torch.compile) re-raised it wrapped."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, SectionTimeout):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _error_text(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    return text.splitlines()[0][:500] if text else type(err).__name__


def run_section(ctx: BenchContext, section: Section, result: SectionResult, box_s: float) -> Any:
    """One section under its box; fills `result` (status, error, seconds) and returns its value."""
    result.box_s = box_s
    start = time.monotonic()
    value = None
    try:
        with time_box(box_s):
            value = section.run(ctx, result, Deadline(box_s * 0.95))
    except SectionTimeout:
        result.status, result.error = "timeout", f"ran past its {box_s:.0f} s box; figures so far are kept"
        _recover(ctx.device)
    except Exception as err:  # noqa: BLE001 (fail-soft: one section's failure is recorded)
        logger.debug("section %s failed:\n%s", section.name, traceback.format_exc())
        if _is_timeout(err):
            result.status, result.error = (
                "timeout",
                f"ran past its {box_s:.0f} s box; figures so far are kept",
            )
        elif result.status != "error":
            result.status, result.error = "error", _error_text(err)
        else:  # the section already recorded a failed row; keep both
            result.error = f"{result.error}; then {_error_text(err)}"
        _recover(ctx.device)
    result.seconds = time.monotonic() - start
    return value


def run_gpu_bench(
    plan: BenchPlan,
    out_dir: Path,
    *,
    sections: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Run the plan's sections within plan.budget_s seconds; writes the JSON + markdown into out_dir."""
    say = progress or (lambda message: logger.info("%s", message))
    device = torch.device(plan.device)
    budget = Deadline(plan.budget_s)
    chosen = select_sections(sections)
    machine = collect_machine(device)
    plan_record = dataclasses.asdict(plan)
    plan_record["config"] = plan.config.to_dict()
    report = BenchReport(machine=dataclasses.asdict(machine), plan=plan_record, budget_s=plan.budget_s)
    workdir = Path(tempfile.mkdtemp(prefix="nava-bench-gpu-"))
    ctx = BenchContext(plan=plan, device=device, workdir=workdir)
    try:
        for index, section in enumerate(chosen):
            result = SectionResult(name=section.name, title=section.title)
            report.sections.append(result)
            shares_left = sum(s.share for s in chosen[index:])
            box_s = budget.remaining() * section.share / shares_left
            required = report.section(section.requires) if section.requires else None
            if required is not None and required.status != "ok":
                result.status = "skipped"
                result.error = f"needs the {required.name} section, which did not succeed"
            elif box_s < 1.0:
                result.status, result.error = "skipped", "the global budget is spent"
            else:
                say(f"[{budget.elapsed():6.1f} s] {section.name}: up to {box_s:.0f} s")
                value = run_section(ctx, section, result, box_s)
                if section.name == "projection":
                    report.projection = value
                say(
                    f"[{budget.elapsed():6.1f} s] {section.name}: {result.status}"
                    + (f" ({result.error})" if result.error else "")
                )
            report.elapsed_s = budget.elapsed()
            write_report(report, out_dir)
    finally:
        ctx.rig = None
        _recover(device)
        shutil.rmtree(workdir, ignore_errors=True)
        report.elapsed_s = budget.elapsed()
        write_report(report, out_dir)
    return report
