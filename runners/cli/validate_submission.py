"""Validation of a leaderboard submission zip; `nava-eval validate` sends `*.zip` arguments here.

`run(path)` prints the verdict and returns the exit code (0 valid, 1 invalid); `command` is the same as
a standalone click command.
"""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.runners.cli.options import UserPath


def run(path: str | Path) -> int:
    """Validate one submission zip, echo the report, return 0 when valid else 1."""
    from nava_eval.reports.leaderboard import render_validation, validate_submission

    report = validate_submission(path)
    click.echo(render_validation(report), nl=False)
    return 0 if report.ok else 1


@click.command("validate-submission")
@click.argument("zip_path", type=UserPath(exists=True, dir_okay=False))
def command(zip_path: str) -> None:
    """Check a submission zip: safety, schema, manifest hashes, protocol ids, counts per set."""
    raise SystemExit(run(zip_path))
