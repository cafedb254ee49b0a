"""`nava-eval check RUN --against BASELINE`: the CI regression gate (exit 0 pass, 1 regression, 2 unusable inputs)."""

from __future__ import annotations

import sys

import click

from nava_eval.runners.cli.options import SEED, UserPath
from nava_eval.user_files import brief


class Percent(click.ParamType):
    """ "30%" or "30" → 0.30, within 0-100 %."""

    name = "PCT"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        text = str(value).strip().removesuffix("%")
        try:
            number = float(text)
        except ValueError:
            self.fail(f"{brief(value)} is not a percentage such as 2% or 10", param, ctx)
        if not 0.0 <= number <= 100.0:
            self.fail(f"{brief(value)} is outside 0-100 %", param, ctx)
        return number / 100.0


@click.command("check")
@click.argument("run", type=UserPath())
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
@click.option("--junit", "junit", type=UserPath(dir_okay=False), help="Also write JUnit XML here.")
@click.option(
    "--coverage-tolerance",
    type=Percent(),
    default="2%",
    show_default=True,
    help="Share of the baseline's scored samples (per metric) the run may lack before it fails.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Bootstrap seed for the CIs.")
def command(
    run: str,
    against: str,
    tolerances: tuple[str, ...],
    junit: str | None,
    coverage_tolerance: float,
    seed: int,
) -> None:
    """Fail (exit 1) when RUN is worse than the baseline on any metric beyond its tolerance.

    Exit 1 also when RUN scored fewer samples than the baseline beyond --coverage-tolerance; exit 2
    when the inputs cannot be compared (other benchmark or protocol, a NaN or infinite value, a
    results.json whose direction contradicts the metric registry).
    """
    from nava_eval.reports.regression import check, render_check, write_junit

    result = check(run, against, list(tolerances), seed=seed, coverage_tolerance=coverage_tolerance)
    click.echo(render_check(result), nl=False)
    if junit:
        write_junit(result, junit)
        click.echo(f"JUnit XML written to {junit}")
    sys.exit(result.exit_code)
