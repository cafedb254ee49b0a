"""`nava-eval run BENCH`: generate → score → results.json → report, each stage resuming."""

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
from nava_eval.runners.config_file import config_option, resolved_config


def echo_generation(summary) -> None:
    if isinstance(summary, dict):  # per-rank returns of --nproc workers; rank 0 holds the totals
        summary = summary.get(0, {})
        done, failed, timings = summary.get("done", 0), summary.get("failed", 0), summary.get("timings", {})
    else:
        done, failed, timings = summary.done, summary.failed, summary.timings
    click.echo(f"generate: {done} generated, {failed} failed")
    if timings:
        click.echo(
            "  stage timings: "
            + ", ".join(f"{k} {v['total_s']:.1f}s ({v['share']:.0%})" for k, v in timings.items())
        )


def echo_dry_run(request) -> None:
    """The resolved plan as one JSON object on stdout (see runners.dry_run)."""
    import json

    from nava_eval.runners.dry_run import dry_run_plan

    click.echo(json.dumps(dry_run_plan(request), indent=2, ensure_ascii=False))


def echo_scoring(summaries, advice: str) -> None:
    """One line per metric; `advice` (RunSpec.remake_advice) says how to bring back changed outputs."""
    for s in summaries:
        line = f"score {s.metric} [{s.protocol}]: {s.scored} scored, {s.cached} cached, {s.skipped} skipped, {s.failed} failed"
        if s.not_generated:
            line += f", {len(s.not_generated)} not generated"
        if s.changed:
            line += (
                f", {len(s.changed)} output(s) missing or changed since recorded, not scored "
                f"({', '.join(s.changed[:5])}{', ...' if len(s.changed) > 5 else ''}; {advice})"
            )
        click.echo(line)


@click.command(name="run")
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
@click.option(
    "--log-to",
    "log_to",
    type=click.Choice(["wandb", "tensorboard"]),
    multiple=True,
    help="Also log settings, per-metric aggregates with CIs and per-sample scores to W&B (extra `wandb`; "
    "WANDB_MODE=offline works) or TensorBoard (extra `tensorboard`, event files in RUN/tensorboard). Repeatable.",
)
@click.pass_context
def command(ctx: click.Context, benchmark: str, dry_run: bool, **kwargs) -> None:
    """Generate, score and report BENCHMARK (versebench, seedtts or jsonl:PATH) in a run directory.

    Rerunning the same command resumes: finished samples and cached scores are kept. Every option
    (and BENCHMARK) can come from a YAML file, `--config run.yaml`; flags given here win. The
    resolved settings go to RUN/run.json, and `--config RUN/run.json` replays them.

    Each benchmark runs its own preset unless --preset says otherwise (nava-eval ls presets).

    \b
    Examples:
      nava-eval run versebench --preset smoke
      nava-eval run versebench --dry-run --sets set3
      nava-eval run versebench --nproc 8 --sp 8 --sets set3
      nava-eval run versebench --preset smoke --seeds 100,101,102
      torchrun --nproc-per-node 8 -m nava_eval.runners.cli run seedtts --sp 8
      nava-eval run --config run.yaml --steps 10
      nava-eval run --config runs/versebench-versebench/run.json
    """
    from nava_eval.rundir.lock import command_lock
    from nava_eval.runners.launch import GenerationFailed, run_generation
    from nava_eval.runners.run import prepare_run
    from nava_eval.runners.score_parallel import ScoringFailed
    from nava_eval.runners.scoring import score_prepared

    try:
        request = build_request(benchmark, kwargs, resolved_config(ctx))
        if dry_run:
            echo_dry_run(request)
            return
        with command_lock(request.resolved_run_dir(), f"nava-eval run {benchmark}"):
            main = is_main_process()
            prepared = prepare_run(request, write=main)
            seeds = f" × {len(prepared.spec.seeds)} seeds" if prepared.spec.seeds else ""
            click.echo(
                f"run {prepared.run_dir.root}: {len(prepared.samples)} samples{seeds} of {benchmark}, "
                f"preset {prepared.preset.name}"
            )
            # Under torchrun the same processes score next, on the generation's process group.
            # (Imported here: the dry run above must not import torch.)
            from nava_eval.runners.distributed import release_process_group

            try:
                summary = run_generation(prepared, keep_process_group=True)
                if main:
                    echo_generation(summary)
                # Every torchrun rank scores its share; rank 0 folds, aggregates and reports.
                scored = score_prepared(prepared, request.metrics)
            finally:
                release_process_group()
            if not main:
                return
            echo_scoring(scored.summaries, prepared.spec.remake_advice(prepared.run_dir.root))
            for path in scored.written:
                click.echo(f"wrote {path}")
            failures = scored.failures
        click.echo((prepared.run_dir.root / "report.md").read_text(encoding="utf-8"))
        if kwargs.get("log_to"):
            from nava_eval.runners.tracking import TrackerMissingError, log_run

            try:
                where = log_run(kwargs["log_to"], prepared.run_dir.root, request.config)
            except TrackerMissingError as exc:
                raise click.ClickException(str(exc)) from None
            for backend, place in where.items():
                click.echo(f"logged to {backend}: {place}")
        fail_unless_allowed(failures, request.allow_failures)
    except (GenerationFailed, ScoringFailed) as exc:
        raise click.ClickException(str(exc)) from None
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
