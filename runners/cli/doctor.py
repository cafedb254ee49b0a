"""`nava-eval doctor`: is this machine ready to generate and score?"""

from __future__ import annotations

import click

from nava_eval.runners.cli.options import FRAMES_RANGE, SIDE_RANGE


@click.command(name="doctor")
@click.option("--no-weights", is_flag=True, help="Skip the weight-file checks.")
@click.option(
    "--memory/--no-memory",
    default=True,
    show_default=True,
    help="Estimate each preset's peak GPU memory on the GPUs found and the switches that make it fit.",
)
@click.option(
    "--width", type=SIDE_RANGE, default=None, help="Estimate memory at this width (default: each preset's)."
)
@click.option("--height", type=SIDE_RANGE, default=None, help="Estimate memory at this height.")
@click.option("--frames", type=FRAMES_RANGE, default=None, help="Estimate memory at this many latent frames.")
def command(
    no_weights: bool, memory: bool, width: int | None, height: int | None, frames: int | None
) -> None:
    """Check Python, torch, CUDA/GPUs, ffmpeg, PyAV, optional extras, weight files and GPU memory.

    Exit code 1 when a required check fails; optional ones (GPU, extras, weights, memory) only warn.
    """
    from nava_eval.runners.doctor import run_checks

    shape = None
    if (width, height, frames) != (None, None, None):
        from nava_eval.nava.shapes import check_shape

        try:
            checked = check_shape(width or 1280, height or 704, frames or 37)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--width/--height/--frames") from None
        shape = (checked.width, checked.height, checked.frames)

    failed = False
    for check in run_checks(with_weights=not no_weights):
        mark = (
            click.style("✓", fg="green")
            if check.ok
            else click.style("✗", fg="red" if check.required else "yellow")
        )
        line = f"{mark} {check.name:<22} {check.detail}"
        if not check.ok and check.fix:
            line += f"\n    → {check.fix}"
        click.echo(line)
        failed |= check.required and not check.ok
    if memory:
        from nava_eval.runners.doctor import print_memory_table
        from nava_eval.runners.memory import gpu_list

        print_memory_table(gpu_list(), shape=shape)
    raise SystemExit(1 if failed else 0)
