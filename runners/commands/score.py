"""`nava-eval score RUN_DIR`: score a run directory's outputs and write results.json."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.runners.commands._options import (
    allow_failures_option,
    fail_unless_allowed,
    parse_weights,
    user_errors,
)
from nava_eval.runners.commands.run import echo_scoring, error_text


@click.command(name="score")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--metrics", help="Comma-separated metrics instead of the benchmark's defaults.")
@click.option(
    "--weights", "scorer_weights", multiple=True, metavar="NAME=PATH", help="Own scorer weight file."
)
@click.option("--device", help="cpu, cuda or cuda:N (default: cuda when available).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--no-progress", is_flag=True)
@allow_failures_option
def command(
    run_dir: Path,
    metrics: str | None,
    scorer_weights: tuple[str, ...],
    device: str | None,
    batch_size: int,
    no_progress: bool,
    allow_failures: bool,
) -> None:
    """Score RUN_DIR (made by `generate`, or any model's outputs laid out as outputs/<set>/<id>.<ext>
    with a samples.jsonl) and write results.json + report.md. Cached scores are reused."""
    from nava_eval.runners.run import aggregate_run, failure_summary, load_prepared, score_run, write_reports
    from nava_eval.runners.run_lock import command_lock

    chosen = tuple(m.strip() for m in metrics.split(",")) if metrics else None
    try:
        with command_lock(run_dir, "nava-eval score"):
            prepared = load_prepared(
                run_dir,
                {
                    "metrics": chosen,
                    "scorer_weights": parse_weights(scorer_weights),
                    "device": device,
                    "batch_size": batch_size,
                    "progress": not no_progress,
                },
            )
            scored = score_run(prepared, chosen)
            echo_scoring(scored)
            results = aggregate_run(prepared, chosen)
            for path in write_reports(prepared):
                click.echo(f"wrote {path}")
            failures = failure_summary(prepared, results, [i for s in scored for i in s.changed])
        fail_unless_allowed(failures, allow_failures)
    except user_errors() as exc:
        raise click.ClickException(error_text(exc)) from None
