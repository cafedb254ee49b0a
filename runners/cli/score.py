"""`nava-eval score RUN_DIR`: score a run directory's outputs and write results.json."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import (
    MAX_BATCH,
    MAX_PROCS,
    MAX_TIMEOUT_S,
    FiniteFloatRange,
    UserPath,
    allow_failures_option,
    channel_option,
    fail_unless_allowed,
    parse_weights,
)
from nava_eval.runners.cli.run import echo_scoring


@click.command(name="score")
@click.argument("run_dir", type=UserPath(exists=True, file_okay=False, path_type=Path))
@click.option("--metrics", help="Comma-separated metrics instead of the benchmark's defaults.")
@click.option(
    "--weights", "scorer_weights", multiple=True, metavar="NAME=PATH", help="Own scorer weight file."
)
@click.option("--device", help="cpu, cuda or cuda:N (default: cuda when available; one GPU per process).")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH), default=8, show_default=True)
@click.option(
    "--nproc",
    type=click.IntRange(1, MAX_PROCS),
    default=1,
    show_default=True,
    help="Score in N local processes (one GPU each, or CPU processes); under torchrun leave at 1.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=FiniteFloatRange(min=0, max=MAX_TIMEOUT_S, min_open=True),
    default=1800.0,
    show_default=True,
    help="Seconds a rank may wait for the others at the end of scoring.",
)
@click.option("--no-progress", is_flag=True)
@channel_option
@allow_failures_option
def command(
    run_dir: Path,
    metrics: str | None,
    scorer_weights: tuple[str, ...],
    device: str | None,
    batch_size: int,
    nproc: int,
    timeout_s: float,
    no_progress: bool,
    channel: str | None,
    allow_failures: bool,
) -> None:
    """Score RUN_DIR (made by `run`/`generate`, or by `import` from any model's outputs) and write
    results.json + report.md. Cached scores are reused; a killed scorer resumes where it stopped.

    \b
    Data-parallel: each process loads the scorers once and scores its share into its own shard;
    rank 0 folds the shards into scores/<metric>.jsonl (the same file one process writes).
      nava-eval score runs/ovi --nproc 8
      torchrun --nproc-per-node 8 -m nava_eval.runners.cli score runs/ovi
    """
    from nava_eval.runners.score_parallel import ScoringFailed
    from nava_eval.runners.scoring import score_run_dir

    chosen = tuple(m.strip() for m in metrics.split(",")) if metrics else None
    try:
        scored = score_run_dir(
            run_dir,
            metrics=chosen,
            nproc=nproc,
            device=device,
            batch_size=batch_size,
            weights=parse_weights(scorer_weights),
            progress=not no_progress,
            timeout_s=timeout_s,
            channel=channel,
        )
    except ScoringFailed as exc:
        raise click.ClickException(str(exc)) from None
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    if scored.results is None:
        return  # a torchrun rank other than 0: rank 0 reports
    from nava_eval.rundir.run_file import load_run_file
    from nava_eval.user_files import user_path

    echo_scoring(scored.summaries, load_run_file(user_path(run_dir)).spec.remake_advice(user_path(run_dir)))
    for path in scored.written:
        click.echo(f"wrote {path}")
    fail_unless_allowed(scored.failures, allow_failures)
