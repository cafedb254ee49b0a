"""`nava-eval report`: the paper view of runs (results.json) and published baselines, tidy rows, plots."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import SEED, UserPath

FORMATS = ("md", "html", "csv", "parquet", "jsonl", "latex", "json")
ROW_FORMATS = ("csv", "parquet", "jsonl")


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="md",
    show_default=True,
    help="md/html/latex/json: the paper view; csv/parquet/jsonl: tidy rows (one number per row).",
)
@click.option(
    "--view",
    type=click.Choice(["paper", "full"]),
    default="paper",
    show_default=True,
    help="paper: the benchmark's headline metrics (at most 12 columns); full: every field.",
)
@click.option(
    "--per-set", is_flag=True, help="Add one table per set (with --wide: one column per (metric, set))."
)
@click.option("--wide", is_flag=True, help="The old wide pivot: one column per (metric, protocol[, set]).")
@click.option("--metrics", help="Comma-separated metric fields to show (default: the view's).")
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Bootstrap seed for the ± CIs of --wide (other views show results.json's CIs).",
)
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    metavar="RUN_MODEL=PUBLISHED",
    help="Say which published model a run's model is (repeatable), e.g. 'mova-720p=MOVA-720p (dual CFG)'. "
    "Without it a run matches the published model of the same name (and nava-6b is NAVA).",
)
@click.option(
    "--plot", "plot", type=UserPath(path_type=Path), help="Also write the metric plots (PNG/SVG/PDF)."
)
@click.option(
    "--gpu-bench",
    type=UserPath(path_type=Path),
    help="A bench_gpu.json (`nava-eval bench gpu`) to list beside NAVA's published speed/memory table.",
)
@click.option(
    "--html-report", is_flag=True, help="Also write RUN/report.html (plots, per-sample table) for each run."
)
@click.option(
    "--derived",
    "derived_specs",
    multiple=True,
    metavar="NAME|module:ATTR",
    help="Evaluate this derived metric (repeatable): a built-in name (`nava-eval ls` lists them, e.g. "
    "versebench_overall_sentinel, the toolkit's −999 for a missing input) or module:ATTR of your own "
    "DerivedMetric. Default: the built-in ones (Verse-Bench Overall).",
)
@click.option("-o", "--output", type=UserPath(path_type=Path), default=None, help="Write to a file (atomic).")
def command(
    runs: tuple[Path, ...],
    published: bool,
    benchmark: str | None,
    fmt: str,
    view: str,
    per_set: bool,
    wide: bool,
    metrics: str | None,
    seed: int,
    aliases: tuple[str, ...],
    plot: Path | None,
    gpu_bench: Path | None,
    html_report: bool,
    derived_specs: tuple[str, ...],
    output: Path | None,
) -> None:
    """Print the paper view: RUNS (run directories or results.json files) and/or --published rows.

    One row per model, one column per metric (short header, protocol as a footnote number). A measured
    number shares a published column only when the protocols are equal; otherwise its column is starred.
    Best per column in bold; ± is half the 95 % CI, (sd) the spread between seeds. With --published:
    the paper-vs-harness comparison, NAVA's user study (GSB votes) and NAVA's speed/memory table.
    --format csv|parquet|jsonl writes the tidy rows every view is made from (pandas.read_csv reads the
    CSV with no options).

    \b
    Examples:
      nava-eval report --published --benchmark versebench
      nava-eval report runs/nava runs/ovi --published --alias "MOVA=MOVA-720p (dual CFG)"
      nava-eval report runs/smoke --published --format html -o table.html
      nava-eval report runs/smoke --published --format csv -o rows.csv
    """
    from nava_eval.reports.model_names import check_aliases, parse_alias
    from nava_eval.rundir.files import atomic_write_bytes, atomic_write_text

    if not runs and not published:
        raise click.UsageError("give at least one run directory / results.json, or --published")
    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet is binary: give -o FILE.parquet")
    if wide and fmt in ("parquet", "jsonl"):
        raise click.UsageError(
            "--wide is the pivot table (md, csv, html, latex, json); tidy rows are not wide"
        )
    chosen = [m.strip() for m in metrics.split(",")] if metrics else None
    try:
        alias_map = dict(parse_alias(a) for a in aliases)
        if alias_map:
            from nava_eval.reports.published import load_published

            check_aliases(alias_map, load_published()["model"].unique(), "any benchmark")
    except UserError as exc:
        raise click.BadParameter(str(exc), param_hint="--alias") from None
    try:
        if wide:
            data: str | bytes = _wide(runs, published, benchmark, fmt, per_set, chosen, seed, alias_map)
        else:
            from nava_eval.reports.derived import load_derived
            from nava_eval.reports.report_text import render_report_text
            from nava_eval.reports.rows import build_rows, write_rows

            benchmarks = None if runs else [benchmark or "versebench"]
            derived = [load_derived(d) for d in derived_specs] if derived_specs else None
            rowset = build_rows(list(runs), published=published, benchmarks=benchmarks, derived=derived)
            if fmt in ROW_FORMATS:
                data = write_rows(rowset.frame, fmt)
            else:
                data = render_report_text(
                    rowset, fmt, view=view, per_set=per_set, metrics=chosen, aliases=alias_map,
                    published=published, gpu_bench=gpu_bench,
                )  # fmt: skip
            if plot is not None:
                from nava_eval.reports.plots import write_plots

                click.echo(f"wrote {write_plots(rowset, plot, aliases=alias_map)}", err=True)
        if html_report:
            from nava_eval.reports.render import write_report

            for run in runs:
                click.echo(f"wrote {write_report(run)}", err=True)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    if output is not None:
        if isinstance(data, bytes):
            atomic_write_bytes(output, data)
        else:
            atomic_write_text(output, data)
        click.echo(f"wrote {output}")
    elif isinstance(data, bytes):
        click.echo(data.decode("utf-8"), nl=False)
    else:
        click.echo(data)


def _wide(runs, published, benchmark, fmt, per_set, metrics, seed, aliases) -> str:  # noqa: ANN001
    """Today's pivot (reports.tables): one column per (metric, protocol[, set])."""
    from nava_eval.reports.tables import build_table, build_tables, render_table

    options = {
        "published": published,
        "per_set": per_set,
        "metrics": metrics,
        "seed": seed,
        "aliases": aliases,
    }
    if runs:
        tables = build_tables(list(runs), **options)
    else:
        tables = [build_table([], benchmark or "versebench", **options)]
    return "\n\n".join(render_table(t, fmt) for t in tables)  # type: ignore[arg-type]
