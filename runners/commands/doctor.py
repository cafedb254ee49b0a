"""`nava-eval doctor`: is this machine ready to generate and score?"""

from __future__ import annotations

import click


@click.command(name="doctor")
@click.option("--no-weights", is_flag=True, help="Skip the weight-file checks.")
def command(no_weights: bool) -> None:
    """Check Python, torch, CUDA/GPUs, ffmpeg, PyAV, optional extras and weight files.

    Exit code 1 when a required check fails; optional ones (GPU, extras, weights) only warn.
    """
    from nava_eval.runners.doctor import run_checks

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
    raise SystemExit(1 if failed else 0)
