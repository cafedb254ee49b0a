"""`nava-eval report`: comparison tables of runs (results.json) and published baselines."""

from __future__ import annotations

from pathlib import Path

import click

FORMATS = ("md", "csv", "html", "latex", "json")


@click.command(name="report")
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--published", is_flag=True, help="Add the published baselines (reports/published.csv) as rows."
)
@click.option(
    "--benchmark",
    type=click.Choice(["versebench", "seedtts"]),
    default=None,
    help="Which benchmark's table (default: the runs' benchmark, else versebench).",
)
@click.option("--split", default=None, help="Published split (versebench: all; seedtts: en, zh, hard).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True)
@click.option("--per-set", is_flag=True, help="Add one column per (metric, set) for runs.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None, help="Write to a file (atomic)."
)
def command(
    runs: tuple[Path, ...],
    published: bool,
    benchmark: str | None,
    split: str | None,
    fmt: str,
    per_set: bool,
    output: Path | None,
) -> None:
    """Print a comparison table: RUNS (run directories or results.json files) and/or --published rows.

    \b
    Examples:
      nava-eval report --published --benchmark versebench
      nava-eval report runs/nava-smoke --published --format html -o table.html
    """
    from reports.fileio import atomic_write_text
    from reports.report_table import build_report_table
    from reports.schema import SchemaError

    if not runs and not published:
        raise click.UsageError("give at least one run directory / results.json, or --published")
    try:
        text = build_report_table(
            list(runs), published=published, benchmark=benchmark, split=split, fmt=fmt, per_set=per_set
        )
    except (SchemaError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if output is not None:
        atomic_write_text(output, text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text)
