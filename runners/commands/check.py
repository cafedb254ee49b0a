"""`nava-eval check RUN --against BASELINE`: the CI regression gate (exit 0 pass, 1 regression, 2 unusable inputs)."""

from __future__ import annotations

import sys

import click


@click.command("check")
@click.argument("run", type=click.Path())
@click.option(
    "--against",
    required=True,
    help="Baseline: a run directory, a results.json, or a published model name of the same benchmark.",
)
@click.option(
    "--tolerance",
    "tolerances",
    multiple=True,
    metavar="METRIC=ABS|REL%",
    help="Override a metric's tolerance, e.g. wer=0.5 or sync_c=2%; repeatable. Defaults: docs/regression.md.",
)
@click.option("--junit", "junit", type=click.Path(dir_okay=False), help="Also write JUnit XML here.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed for the CIs.")
def command(run: str, against: str, tolerances: tuple[str, ...], junit: str | None, seed: int) -> None:
    """Fail (exit 1) when RUN is worse than the baseline on any metric beyond its tolerance."""
    from nava_eval.reports.regression import check, render_check, write_junit

    result = check(run, against, list(tolerances), seed=seed)
    click.echo(render_check(result), nl=False)
    if junit:
        write_junit(result, junit)
        click.echo(f"JUnit XML written to {junit}")
    sys.exit(result.exit_code)
