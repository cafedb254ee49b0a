"""`nava-eval bench ib`: IB-Score seconds per clip, batched vs one clip at a time."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from nava_eval.runners.cli.options import UserPath


@click.command(name="ib")
@click.argument("clips", nargs=-1, type=UserPath(exists=True, path_type=Path))
@click.option(
    "--clips-synthetic",
    "n_clips",
    type=click.IntRange(1, 1_000_000),
    default=4,
    show_default=True,
    help="Synthetic 6-s clips when none are given.",
)
@click.option("--device", default=None, help="cpu or cuda (default: cuda when present).")
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
    clips: tuple[Path, ...], n_clips: int, device: str | None, rounds: int, output: Path | None, as_json: bool
) -> None:
    """Time IB-Score: ImageBind-huge loaded once, clips batched vs scored one at a time."""
    from nava_eval.runners.perf.ib import run_ib_bench

    result = run_ib_bench(list(clips), n_clips=n_clips, device=device, rounds=rounds, out_json=output)
    if as_json:
        click.echo(json.dumps(asdict(result)))
        return
    click.echo(f"ib on {result.machine}, {result.clips} clips, weights: {result.weights}")
    click.echo(f"  batched:         {result.batched_s_per_clip:8.3f} s/clip (setup {result.setup_s:.1f} s)")
    click.echo(f"  one at a time:   {result.one_at_a_time_s_per_clip:8.3f} s/clip")
    click.echo(f"  speedup: {result.speedup:.2f}x; rounds {result.rounds_batched} vs {result.rounds_single}")
