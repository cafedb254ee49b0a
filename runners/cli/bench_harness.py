"""`nava-eval bench harness`: the harness's share of a smoke run's time."""

from __future__ import annotations

import json
from dataclasses import asdict

import click


@click.command(name="harness")
@click.option(
    "--benchmark", type=click.Choice(["versebench", "seedtts"]), default="versebench", show_default=True
)
@click.option("--no-score", is_flag=True, help="Time only the generate stage.")
@click.option(
    "--limit", type=click.IntRange(1, 1_000_000), default=None, help="Only the first N smoke samples."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def command(benchmark: str, no_score: bool, limit: int | None, as_json: bool) -> None:
    """Wall time of the smoke preset split into model work (denoise + VAE decode) and everything else."""
    from nava_eval.runners.perf.harness import bench_harness

    result = bench_harness(benchmark, score=not no_score, limit=limit)
    if as_json:
        click.echo(json.dumps(asdict(result)))
        return
    m = result.machine
    click.echo(f"machine: {m.cpu}, {m.cpu_threads} threads, torch {m.torch_version}")
    click.echo(
        f"{result.benchmark} smoke, {result.samples} samples: generate {result.generate_wall_s:.2f} s wall, "
        f"model (denoise + decode) {result.model_s:.2f} s → harness overhead {result.overhead_share:.1%}"
    )
    if result.score_wall_s is not None:
        click.echo(f"score stage: {result.score_wall_s:.2f} s wall (scorer networks included)")
