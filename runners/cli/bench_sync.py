"""`nava-eval bench sync`: seconds per clip for Sync-C/D, batched vs syncnet-python's per-clip path."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from nava_eval.runners.cli.options import UserPath


@click.command(name="sync")
@click.argument("clips", nargs=-1, type=UserPath(exists=True, path_type=Path))
@click.option(
    "--clips-synthetic",
    "n_clips",
    type=click.IntRange(1, 1_000_000),
    default=4,
    show_default=True,
    help="Synthetic clips when none are given.",
)
@click.option("--device", default=None, help="cpu or cuda (default: cuda when present).")
@click.option("--no-package", is_flag=True, help="Time only our path (skip syncnet-python's).")
@click.option(
    "--rounds",
    type=click.IntRange(1, 1_000_000),
    default=2,
    show_default=True,
    help="Alternating timed rounds; each side's best is kept.",
)
@click.option(
    "-o", "--output", type=UserPath(path_type=Path), default=None, help="Also write the result as JSON."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def command(
    clips: tuple[Path, ...],
    n_clips: int,
    device: str | None,
    no_package: bool,
    rounds: int,
    output: Path | None,
    as_json: bool,
) -> None:
    """Time Sync-C/D scoring: networks loaded once + batched, vs `SyncNetPipeline.inference` per clip."""
    from nava_eval.runners.perf.sync import run_bench

    result = run_bench(
        list(clips),
        n_clips=n_clips,
        device=device,
        with_package=not no_package,
        out_json=output,
        rounds=rounds,
    )
    if as_json:
        click.echo(json.dumps(asdict(result)))
        return
    click.echo(f"sync on {result.device}, {result.clips} clips, weights: {result.weights}")
    click.echo(
        f"  ours (batched, loaded once): {result.ours_s_per_clip:8.2f} s/clip (setup {result.ours_setup_s:.1f} s)"
    )
    if result.package_s_per_clip is not None:
        click.echo(
            f"  syncnet-python per clip:     {result.package_s_per_clip:8.2f} s/clip (setup {result.package_setup_s:.1f} s)"
        )
        click.echo(f"  speedup: {result.speedup:.2f}x (target ≥ 3x)")
    click.echo(f"  {result.note}")
