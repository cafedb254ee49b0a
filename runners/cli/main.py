"""`nava-eval`: a thin, lazy click group.

Subcommands live in `runners/cli/<name>.py` and are imported only when invoked, so
`nava-eval --help` answers without importing torch. Help lines come from the table below for
the same reason.
"""

from __future__ import annotations

import logging
import os
import warnings

import click

from nava_eval.lazy import load, unknown_name_error


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nava-eval")
    except PackageNotFoundError:
        return "0+unknown"


class LazyGroup(click.Group):
    """A click group whose subcommands are "module:attr" strings imported on first use."""

    def __init__(self, *args, lazy_commands: dict[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            target, _ = self.lazy_commands[cmd_name]
            command = load(target)
            if not isinstance(command, click.Command):
                raise click.ClickException(f"{target} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the table's help lines: asking each command for its help would import it.
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy_commands:
                rows.append((name, self.lazy_commands[name][1]))
            else:
                command = super().get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit=formatter.width - 6)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        # click turns Ctrl-C into "Aborted!" and exit 1, indistinguishable from a failure; an
        # interrupted command says so and exits 130, as shells expect.
        from nava_eval.errors import UserError
        from nava_eval.interrupts import EXIT_INTERRUPTED, as_interrupt, is_interrupt

        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            # The last guard against an unbounded message (a value quoted from a hostile file).
            from nava_eval.user_files import cut

            exc.message = cut(exc.message, 4000)
            _show_traceback_if_verbose(ctx, exc.__cause__ or exc.__context__)
            raise
        except UserError as exc:
            # The user's to fix: one line. Anything else is not reworded: it ends in a traceback.
            from nava_eval.user_files import cut

            _show_traceback_if_verbose(ctx, exc)
            raise click.ClickException(cut(str(exc), 4000)) from exc
        except EOFError as exc:
            # click would report an EOFError as "Aborted!", as if the user had typed Ctrl-D.
            logging.getLogger(__name__).debug("end of input", exc_info=True)
            raise click.ClickException(
                f"a file ended before it was complete ({exc or 'EOFError'}); rerun with -vv to see which"
            ) from None
        except (KeyboardInterrupt, Exception) as exc:
            from nava_eval.rundir.files import as_write_failure

            failure = as_write_failure(exc)
            if failure is not None:  # a full or read-only disk, from any command: no traceback
                raise click.ClickException(str(failure)) from None
            if not is_interrupt(exc):
                raise
            if isinstance(as_interrupt(exc), SystemExit):  # SIGTERM and the like: exit 128 + signal
                raise as_interrupt(exc) from None
            click.echo(
                "\ninterrupted: finished samples and scores are kept, nothing half-done is recorded; "
                "rerun the same command to resume",
                err=True,
            )
            ctx.exit(EXIT_INTERRUPTED)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else None
        if name is not None and name not in self.list_commands(ctx) and not name.startswith("-"):
            raise click.UsageError(str(unknown_name_error("command", [name], self.list_commands(ctx))), ctx)
        return super().resolve_command(ctx, args)


def _show_traceback_if_verbose(ctx: click.Context, exc: BaseException | None) -> None:
    """With -v, print the traceback behind a user error (its one-line message follows)."""
    if exc is None or not ctx.find_root().params.get("verbose"):
        return
    import traceback

    click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)


COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "nava_eval.runners.cli.run:command",
        "Generate, score and report a benchmark end to end (resumable).",
    ),
    "generate": (
        "nava_eval.runners.cli.generate:command",
        "Generate a benchmark's outputs with NAVA (multi-GPU).",
    ),
    "rewrite": (
        "nava_eval.runners.cli.rewrite:command",
        "Rewrite a prompt file with NAVA's Qwen3 rewriter (<S>…<E> spans kept verbatim).",
    ),
    "score": (
        "nava_eval.runners.cli.score:command",
        "Score a run directory's outputs with the benchmark's metrics (--nproc N).",
    ),
    "import": (
        "nava_eval.runners.cli.import_outputs:command",
        "Import another model's outputs folder as a run directory.",
    ),
    "report": (
        "nava_eval.runners.cli.report:command",
        "Comparison tables of runs and published baselines.",
    ),
    "compare": ("nava_eval.runners.cli.compare:command", "Paired bootstrap comparison of two runs."),
    "check": (
        "nava_eval.runners.cli.check:command",
        "Regression gate: fail when a run is worse than a baseline.",
    ),
    "submit": ("nava_eval.runners.cli.submit:command", "Bundle a run as a leaderboard submission zip."),
    "validate": ("nava_eval.runners.cli.validate:command", "Check a data folder or a submission zip."),
    "leaderboard": (
        "nava_eval.runners.cli.leaderboard:command",
        "Validate submission zips and write a static leaderboard page.",
    ),
    "ls": (
        "nava_eval.runners.cli.ls:command",
        "List benchmarks, metrics (protocols, directions) and presets.",
    ),
    "doctor": (
        "nava_eval.runners.cli.doctor:command",
        "Check Python, torch, CUDA, ffmpeg, flash-attn and weights.",
    ),
    "data": ("nava_eval.runners.cli.data:command", "Download or import benchmark data."),
    "weights": (
        "nava_eval.runners.cli.weights:command",
        "List, download and verify model and scorer weights.",
    ),
    "score-files": (
        "nava_eval.runners.cli.score_files:command",
        "Score arbitrary files with one metric (JSON lines).",
    ),
    "verify-model": (
        "nava_eval.runners.cli.verify_model:command",
        "Check NavaModel against reference vectors or a key list.",
    ),
    "bench": (
        "nava_eval.runners.cli.bench:command",
        "Speed benchmarks (model, sampler, sync, ib, speech, parallel, gpu).",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(_version(), prog_name="nava-eval")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log output (-v info, -vv debug); -v also shows the traceback of an error.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Never touch the network: weights, hub models and data come from the local caches only.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, offline: bool) -> None:
    """nava-eval: generate, score and compare NAVA on VerseBench and Seed-TTS-eval.

    \b
    Quick start (CPU, tiny random weights, about a minute):
      nava-eval run versebench --preset smoke
    Published comparison table:
      nava-eval report --published --benchmark versebench
    """
    if offline:
        from nava_eval.offline import offline_environment

        _set_env_for_command(ctx, offline_environment())
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose == 0:
        # Third-party chatter (transformers generation notices, zhconv's pkg_resources import) is
        # noise to a user reading progress bars; -v brings it back.
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.nn\.functional")


def _set_env_for_command(ctx: click.Context, values: dict[str, str]) -> None:
    # Environment, not a flag threaded through every call, because huggingface_hub and transformers
    # read it too; restored when the command ends so in-process callers (tests) see no leftover.
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)

    def restore() -> None:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old

    ctx.call_on_close(restore)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="nava-eval")


if __name__ == "__main__":  # pragma: no cover
    main()
