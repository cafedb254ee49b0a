"""`nava-eval compare RUN_A RUN_B`: paired bootstrap of B − A per metric on the samples both runs scored."""

from __future__ import annotations

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import SEED, UserPath


@click.command("compare")
@click.argument("run_a", type=UserPath(exists=True, file_okay=False))
@click.argument("run_b", type=UserPath(exists=True, file_okay=False))
@click.option("--metric", "fields", multiple=True, help="Only these fields (e.g. sync_c); repeatable.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Bootstrap seed.")
@click.option(
    "--resamples",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="Bootstrap resamples.",
)
def command(run_a: str, run_b: str, fields: tuple[str, ...], fmt: str, seed: int, resamples: int) -> None:
    """Compare two run directories of one benchmark: delta, 95 % CI and significance per metric."""
    from nava_eval.reports.compare import compare_runs, render_comparison

    try:
        comparison = compare_runs(run_a, run_b, fields=fields or None, seed=seed, n_resamples=resamples)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(render_comparison(comparison, fmt), nl=False)
