"""`nava-eval doctor`: is this machine ready to generate and score?"""

from __future__ import annotations

import click


@click.command(name="doctor")
@click.option("--no-weights", is_flag=True, help="Skip the weight-file checks.")
@click.option(
    "--memory/--no-memory",
    default=True,
    show_default=True,
    help="Estimate each preset's peak GPU memory on the GPUs found and the switches that make it fit.",
)
def command(no_weights: bool, memory: bool) -> None:
    """Check Python, torch, CUDA/GPUs, ffmpeg, PyAV, optional extras, weight files and GPU memory.

    Exit code 1 when a required check fails; optional ones (GPU, extras, weights, memory) only warn.
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
    if memory:
        from nava_eval.runners.doctor import print_memory_table
        from nava_eval.runners.memory import gpu_list

        print_memory_table(gpu_list())
    raise SystemExit(1 if failed else 0)
