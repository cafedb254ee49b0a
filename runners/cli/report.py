"""`nava-eval report`: comparison tables of runs (results.json) and published baselines."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.runners.cli.options import SEED, UserPath

FORMATS = ("md", "csv", "html", "latex", "json")


@click.command(name="report")
@click.argument("runs", nargs=-1, type=UserPath(path_type=Path))
@click.option(
    "--published", is_flag=True, help="Add the published baselines (reports/published.csv) as rows."
)
@click.option(
    "--benchmark",
    type=click.Choice(["versebench", "seedtts"]),
    default=None,
    help="Which benchmark's table for --published alone (default versebench; runs bring their own).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True)
@click.option("--per-set", is_flag=True, help="Add one column per (metric, set).")
@click.option("--metrics", help="Comma-separated metric fields to show (default: all).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Bootstrap seed for the ± CIs.")
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    metavar="RUN_MODEL=PUBLISHED",
    help="Say which published model a run's model is (repeatable), e.g. 'mova-720p=MOVA-720p (dual CFG)'. "
    "Without it a run matches the published model of the same name (and nava-6b is NAVA).",
)
@click.option(
    "--html-report", is_flag=True, help="Also write RUN/report.html (plots, per-sample table) for each run."
)
@click.option("-o", "--output", type=UserPath(path_type=Path), default=None, help="Write to a file (atomic).")
def command(
    runs: tuple[Path, ...],
    published: bool,
    benchmark: str | None,
    fmt: str,
    per_set: bool,
    metrics: str | None,
    seed: int,
    aliases: tuple[str, ...],
    html_report: bool,
    output: Path | None,
) -> None:
    """Print comparison tables: RUNS (run directories or results.json files) and/or --published rows.

    One table per benchmark; each run's row carries its own model name (an imported run's --model),
    its coverage and ± half its 95 % bootstrap CI ([sd s] across seeds for multi-seed runs); the best
    value per column is marked. With --published, a run that is a published model (same name, or
    --alias) is compared with that model's published numbers of the same protocol: ≠ marks a number
    outside the CI, and a paper-vs-harness table lists every pair.

    \b
    Examples:
      nava-eval report --published --benchmark versebench
      nava-eval report runs/nava runs/ovi runs/mova --published --alias "MOVA=MOVA-720p (dual CFG)"
      nava-eval report runs/versebench-smoke --published --format html -o table.html
    """
    from nava_eval.reports.model_names import check_aliases, parse_alias
    from nava_eval.reports.tables import build_table, build_tables, render_table
    from nava_eval.rundir.files import atomic_write_text
    from nava_eval.rundir.schema import SchemaError

    if not runs and not published:
        raise click.UsageError("give at least one run directory / results.json, or --published")
    chosen = [m.strip() for m in metrics.split(",")] if metrics else None
    try:
        alias_map = dict(parse_alias(a) for a in aliases)
        if alias_map:
            from nava_eval.reports.published import load_published

            check_aliases(alias_map, load_published()["model"].unique(), "any benchmark")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--alias") from None
    options = {
        "published": published,
        "per_set": per_set,
        "metrics": chosen,
        "seed": seed,
        "aliases": alias_map,
    }
    try:
        if runs:
            tables = build_tables(list(runs), **options)
        else:
            tables = [build_table([], benchmark or "versebench", **options)]
        text = "\n\n".join(render_table(t, fmt) for t in tables)
        if html_report:
            from nava_eval.reports.render import write_report

            for run in runs:
                click.echo(f"wrote {write_report(run)}", err=True)
    except (SchemaError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    if output is not None:
        atomic_write_text(output, text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text)
