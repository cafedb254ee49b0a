"""`nava-eval submit RUN -o submission.zip [--with-media]`: bundle a scored run for a leaderboard."""

from __future__ import annotations

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import UserPath


@click.command("submit")
@click.argument("run", type=UserPath(exists=True, file_okay=False))
@click.option("-o", "--output", "out", required=True, type=UserPath(dir_okay=False), help="Zip to write.")
@click.option(
    "--with-media", is_flag=True, help="Also include every mp4/wav (large); by default only their sha256."
)
def command(run: str, out: str, with_media: bool) -> None:
    """Write results.json, run.json, per-sample scores and a sha256 manifest of the outputs into a zip."""
    from nava_eval.reports.leaderboard import SubmissionRefused, render_validation, submit_validated

    # The bundle is checked with the same validator a leaderboard runs before it gets its name, so a
    # refused bundle fails here and leaves no file behind.
    try:
        path, report = submit_validated(run, out, with_media=with_media)
    except SubmissionRefused as exc:
        click.echo(render_validation(exc.report), nl=False)
        raise click.ClickException(
            f"{out} does not validate (see the errors above); nothing was written"
        ) from None
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(render_validation(report), nl=False)
