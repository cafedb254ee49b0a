"""`nava-eval validate BENCH --data-dir DIR`: check a benchmark data folder without running anything."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.errors import UnknownName, UserError
from nava_eval.runners.cli.options import UserPath


@click.command(name="validate")
@click.argument("benchmark")
@click.option(
    "--data-dir",
    type=UserPath(file_okay=False, path_type=Path),
    default=None,
    help="Benchmark data folder (default: the one registered by `nava-eval data download/import`).",
)
@click.option("--sets", default=None, help="Comma-separated sets to check (default: all).")
@click.option(
    "--nava-prompts",
    type=UserPath(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="versebench: folder with NAVA's set1/2/3.jsonl to check against the official items.",
)
def command(benchmark: str, data_dir: Path | None, sets: str | None, nava_prompts: Path | None) -> None:
    """Check a benchmark data folder, or a leaderboard submission zip.

    BENCH is versebench, seedtts or jsonl:PATH: every missing or unreadable file is listed and item
    counts are compared with the expected ones. BENCH may instead be a SUBMISSION.zip (from
    `nava-eval submit`): safety, schema, manifest hashes, protocol ids and counts are checked.
    Exit status 1 when anything is wrong.
    """
    if benchmark.endswith(".zip"):
        from nava_eval.runners.cli.validate_submission import run as validate_zip
        from nava_eval.user_files import file_problem, user_path

        benchmark = str(user_path(benchmark))  # `validate ~/sub.zip` from a quoted or `=` argument
        problem = file_problem(Path(benchmark))
        if problem == "no such file":
            raise click.UsageError(f"no such submission file: {benchmark}")
        if problem is not None:  # a FIFO would block the reader for ever
            raise click.UsageError(f"{benchmark}: is {problem}, not a regular file; give the submission zip")
        raise SystemExit(validate_zip(benchmark))
    from nava_eval.benchmarks.validate import validate_data

    options = {"prompts_dir": nava_prompts} if nava_prompts is not None else {}
    if options and benchmark != "versebench":
        raise click.UsageError("--nava-prompts only applies to versebench")
    chosen = tuple(s.strip() for s in sets.split(",") if s.strip()) if sets else None
    try:
        report = validate_data(benchmark, data_dir, sets=chosen, **options)
    except UnknownName as exc:
        raise click.UsageError(str(exc)) from exc
    except UserError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from exc
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)
