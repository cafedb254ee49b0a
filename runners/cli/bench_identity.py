"""`nava-eval bench identity`: the cost of checking outputs on disk, hashed vs stat-gated."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from nava_eval.runners.cli.options import FiniteFloatRange


@click.command(name="identity")
@click.option(
    "--files", type=click.IntRange(1, 1_000_000), default=200, show_default=True, help="Synthetic outputs."
)
@click.option(
    "--file-mb",
    type=FiniteFloatRange(min=0.001, max=1e6),
    default=2.0,
    show_default=True,
    help="Size of each, MB.",
)
@click.option(
    "--rounds", type=click.IntRange(1, 1_000_000), default=3, show_default=True, help="Best of N passes."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def command(files: int, file_mb: float, rounds: int, as_json: bool) -> None:
    """Seconds to verify N outputs: sha256 of each (cold) vs the stat gate of .file-identity.json (warm)."""
    from nava_eval.runners.perf.identity import bench_identity

    result = bench_identity(files, file_mb, rounds)
    if as_json:
        click.echo(json.dumps(asdict(result)))
        return
    m = result.machine
    click.echo(f"machine: {m.cpu}, {m.cpu_threads} threads, torch {m.torch_version}")
    click.echo(
        f"{result.files} outputs of {result.file_mb:g} MB: cold {result.cold_s:.3f} s "
        f"({result.cold_hashed} hashed), warm {result.warm_s:.4f} s ({result.warm_hashed} hashed) "
        f"→ warm is {result.speedup:g}× faster"
    )
