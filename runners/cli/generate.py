"""`nava-eval generate BENCH`: only the generate stage (resumable)."""

from __future__ import annotations

import click

from nava_eval.errors import UserError
from nava_eval.ranks import is_main_process
from nava_eval.runners.cli.options import (
    build_request,
    fail_unless_allowed,
    run_options,
    selection_options,
)
from nava_eval.runners.cli.run import echo_dry_run, echo_generation
from nava_eval.runners.config_file import config_option, resolved_config


@click.command(name="generate")
@click.argument("benchmark")
@config_option
@selection_options
@run_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the resolved settings (preset, guidance, steps, weights, audio timing, each sample's id "
    "and seed) as one JSON object and stop: no weights, nothing written.",
)
@click.pass_context
def command(ctx: click.Context, benchmark: str, dry_run: bool, **kwargs) -> None:
    """Generate BENCHMARK's outputs into the run directory; done samples are skipped.

    Options can come from `--config FILE` (YAML, or a run.json to replay), as for `run`.
    """
    from nava_eval.rundir.lock import command_lock
    from nava_eval.runners.launch import GenerationFailed, run_generation
    from nava_eval.runners.run import generation_failures, prepare_run

    try:
        request = build_request(benchmark, kwargs, resolved_config(ctx))
        if dry_run:
            echo_dry_run(request)
            return
        with command_lock(request.resolved_run_dir(), f"nava-eval generate {benchmark}"):
            prepared = prepare_run(request, write=is_main_process())
            summary = run_generation(prepared)
        if is_main_process():
            echo_generation(summary)
            fail_unless_allowed(generation_failures(prepared), request.allow_failures)
    except GenerationFailed as exc:
        raise click.ClickException(str(exc)) from None
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
