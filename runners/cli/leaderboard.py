"""`nava-eval leaderboard SUBMISSION.zip… -o DIR`: validate submissions and write a static leaderboard page."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.runners.cli.options import UserPath


@click.command(name="leaderboard")
@click.argument("zips", nargs=-1, required=True, type=UserPath(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", required=True, type=UserPath(file_okay=False, path_type=Path),
              help="Folder for index.html and provenance/*.json.")  # fmt: skip
def command(zips: tuple[Path, ...], out_dir: Path) -> None:
    """Validate each SUBMISSION.zip (as `nava-eval validate`: every aggregate recomputed) and write DIR/index.html.

    The page has one tab per benchmark and set, sortable columns, and a provenance link per row.
    Exits 1 when a submission is rejected (its errors are listed on the page and here).
    """
    from nava_eval.reports.leaderboard_site import build_site

    result = build_site(list(zips), out_dir)
    for name, errors in result.rejected:
        for error in errors:
            click.echo(f"rejected {name}: {error}", err=True)
    click.echo(f"wrote {result.index} ({len(result.accepted)} accepted, {len(result.rejected)} rejected)")
    if result.rejected:
        raise SystemExit(1)
