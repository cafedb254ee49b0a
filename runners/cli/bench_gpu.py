"""`nava-eval bench gpu`: the prepared GPU benchmark (generation and scoring), time-boxed, one JSON + table."""

from __future__ import annotations

import dataclasses
import sys
from datetime import datetime
from pathlib import Path

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import FRAMES_RANGE, SIDE_RANGE, FiniteFloatRange, UserPath

SECTION_HELP = (
    "ceiling, model, step, attention, fp8, video_vae, audio_vae, sync, video_quality, compile, projection"
)


@click.command(name="gpu")
@click.option(
    "--out",
    "out_dir",
    type=UserPath(file_okay=False, path_type=Path),
    default=None,
    help="Folder for bench_gpu.json and bench_gpu.md [default: runs/bench-gpu-<time>].",
)
@click.option("--device", default=None, help="cuda (default when present), cuda:N or cpu.")
@click.option(
    "--small",
    is_flag=True,
    help="Tiny model and components on the smoke preset's shapes (implied by --device cpu): every code "
    "path in a few minutes; the figures then measure the harness, not NAVA.",
)
@click.option(
    "--budget",
    type=FiniteFloatRange(min=10, max=1e6),
    default=None,
    help="Seconds for all sections together [default: 420 on the VerseBench plan, 300 small]. Start-up "
    "(imports, CUDA init) comes on top.",
)
@click.option(
    "--sections", default=None, help=f"Comma-separated subset, run in the fixed order: {SECTION_HELP}."
)
@click.option(
    "--compile-backend",
    default=None,
    help="torch.compile backend of the compile section [default: inductor].",
)
@click.option(
    "--repeats", type=click.IntRange(1, 1_000_000), default=None, help="Most timed repeats per setting."
)
@click.option(
    "--clips",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Synthetic clips for the scoring sections.",
)
@click.option(
    "--width",
    type=SIDE_RANGE,
    default=None,
    help="Clip width of the model/step sections [default: the plan's].",
)
@click.option("--height", type=SIDE_RANGE, default=None, help="Clip height of the model/step sections.")
@click.option("--frames", type=FRAMES_RANGE, default=None, help="Latent frames of the model/step sections.")
def command(
    out_dir: Path | None,
    width: int | None,
    height: int | None,
    frames: int | None,
    device: str | None,
    small: bool,
    budget: float | None,
    sections: str | None,
    compile_backend: str | None,
    repeats: int | None,
    clips: int | None,
) -> None:
    """Time NAVA-6B's sampler step, the VAE decodes and GPU scoring at the VerseBench shape.

    \b
    Sections (each time-boxed; a failing one records its error and the rest run):
      ceiling        bf16 (and fp8) GEMM rate and copy bandwidth measured here: MFU is relative to it
      model          nava-6b built on the meta device, seeded random bf16 weights on the GPU
      step           the C, U, M guidance passes of one step: one batched forward vs three
      attention      SDPA flash / efficient / cuDNN / math and flash-attn: the kernel, then whole steps
      fp8            fp8 weight-only as stored today (dequant) and the fp8 GEMM (torch._scaled_mm)
      video_vae      Wan2.2 VAE decode of 37 latent frames at 1280×704, tiled as the official script
      audio_vae      LTX-2.3 audio VAE + vocoder
      sync           Sync-C/D on synthetic 5 s 720p clips: batched vs one clip at a time
      video_quality  the Verse-Bench AS path (SigLIP so400m encoder), batched vs one clip at a time
      compile        the batched step with the blocks under torch.compile
      projection     a full VerseBench (600 items) on 8 GPUs from these figures
    Writes OUT/bench_gpu.json and OUT/bench_gpu.md after every section; exit code 1 when a section
    failed or timed out. docs/performance.md explains each figure and how to run this on a lent GPU.
    """
    import torch

    from nava_eval.runners.perf.gpu.plan import small_plan, versebench_plan
    from nava_eval.runners.perf.gpu.runner import run_gpu_bench

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise click.UsageError("--device cuda: torch sees no CUDA device here; use --device cpu --small")
    if device == "cpu" and not small:
        click.echo("no GPU: running the small plan (--small) on the CPU", err=True)
        small = True
    plan = small_plan(device) if small else versebench_plan(device)
    changes: dict[str, object] = {}
    if budget is not None:
        changes["budget_s"] = budget
    elif not small:
        changes["budget_s"] = 420.0
    if compile_backend:
        changes["compile_backend"] = compile_backend
    if repeats:
        changes["max_repeats"] = repeats
    if clips:
        changes["clips"] = dataclasses.replace(plan.clips, count=clips)
    if (width, height, frames) != (None, None, None):
        from nava_eval.runners.perf.gpu.flops import clip_step_grid

        t, h, w = plan.step.latent_grid
        try:
            grid, audio = clip_step_grid(width or 16 * w, height or 16 * h, frames or t)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--width/--height/--frames") from None
        changes["step"] = dataclasses.replace(plan.step, latent_grid=grid, audio_tokens=audio)
    plan = plan.replace(**changes)
    names = [s.strip() for s in sections.split(",") if s.strip()] if sections else None
    out_dir = out_dir or Path("runs") / f"bench-gpu-{datetime.now():%Y%m%d-%H%M%S}"
    click.echo(f"bench gpu: {plan.name} plan on {device}, budget {plan.budget_s:.0f} s → {out_dir}")
    try:
        report = run_gpu_bench(plan, out_dir, sections=names, progress=lambda m: click.echo(m, err=True))
    except UserError as err:  # an unknown section name
        raise click.BadParameter(str(err), param_hint="--sections") from err
    _summary(report)
    if report.failed:
        click.echo(
            f"{len(report.failed)} section(s) failed: "
            + ", ".join(f"{s.name} ({s.status}: {s.error})" for s in report.failed),
            err=True,
        )
        sys.exit(1)


def _summary(report) -> None:
    for section in report.sections:
        for m in section.measurements:
            if m.seconds is None:
                continue
            extra = f"  {m.mfu * 100:5.1f} % MFU" if m.mfu is not None else ""
            click.echo(f"  {section.name:<13} {m.label:<60} {m.seconds:10.4f} s/{m.per}{extra}")
    if report.projection:
        p = report.projection
        click.echo(
            f"  projection: {p['items']} items on {p['gpus']} GPUs ≈ {p['wall_hours']:.2f} h "
            f"(target {p['target_hours']} h; missing: {', '.join(p['missing_figures']) or 'none'})"
        )
