"""`nava-eval submit RUN -o submission.zip [--with-media]`: bundle a scored run for a leaderboard."""

from __future__ import annotations

import click

from nava_eval.errors import UserError


@click.command("submit")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="Zip to write.")
@click.option(
    "--with-media", is_flag=True, help="Also include every mp4/wav (large); by default only their sha256."
)
def command(run: str, out: str, with_media: bool) -> None:
    """Write results.json, run.json, per-sample scores and a sha256 manifest of the outputs into a zip."""
    from nava_eval.reports.leaderboard import render_validation, submit, validate_submission

    try:
        path = submit(run, out, with_media=with_media)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    # Check what we wrote with the same validator a leaderboard runs, so a bad bundle fails here.
    report = validate_submission(path)
    click.echo(render_validation(report), nl=False)
    if not report.ok:
        raise click.ClickException(f"{path} does not validate; see the errors above")
