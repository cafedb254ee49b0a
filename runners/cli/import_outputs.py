"""`nava-eval import BENCH DIR --model NAME`: another model's outputs folder → a run directory."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import FiniteFloatRange, UserPath, read_ids
from nava_eval.runners.importing import MAX_PARAMS_B

#: Exit codes: 0 every selected item imported cleanly, 1 imported with problems (listed), 2 nothing imported.
EXIT_PROBLEMS = 1
EXIT_REFUSED = 2


@click.command(name="import")
@click.argument("benchmark")
@click.argument("outputs_dir", type=UserPath(path_type=Path))
@click.option(
    "--model", required=True, help="The model's name in tables, e.g. 'Ovi 1.1' (see docs/baselines.md)."
)
@click.option(
    "--mapping",
    type=UserPath(dir_okay=False, path_type=Path),
    help="CSV (id,path[,audio]) or JSONL ({id, path[, audio]}) mapping item ids to files, instead of file stems.",
)
@click.option(
    "--params-b",
    type=FiniteFloatRange(min=0, max=MAX_PARAMS_B, min_open=True),
    help="Parameter count in billions, shown in tables.",
)
@click.option(
    "--run-dir", type=UserPath(path_type=Path), help="Run directory (default runs/<benchmark>-<model>)."
)
@click.option(
    "--data-dir", type=UserPath(path_type=Path), help="Benchmark data folder (default: registered)."
)
@click.option("--sets", help="Comma-separated sets to import, e.g. set3.")
@click.option(
    "--ids",
    "ids_file",
    type=UserPath(exists=True, dir_okay=False, path_type=Path),
    help="File with one id per line.",
)
@click.option(
    "--preset",
    help="Scoring configuration: the benchmark's own (default) or `smoke` (tiny random scorers, miniature data).",
)
@click.option("--strict", is_flag=True, help="Import nothing when any problem is found.")
@click.option("--copy", "copy_files", is_flag=True, help="Copy the files instead of hard-linking them.")
def command(
    benchmark: str,
    outputs_dir: Path,
    model: str,
    mapping: Path | None,
    params_b: float | None,
    run_dir: Path | None,
    data_dir: Path | None,
    sets: str | None,
    ids_file: Path | None,
    preset: str | None,
    strict: bool,
    copy_files: bool,
) -> None:
    """Import OUTPUTS_DIR (a model's outputs for BENCHMARK) as a run directory that `score`, `report`,
    `compare`, `check` and `submit` accept.

    Files are matched to items by stem (<id>.mp4, <id>.mp4 + <id>.wav, or <id>.wav for Seed-TTS; any
    subfolder) or by --mapping, and hard-linked (or copied) into RUN/outputs; the folder itself is never
    changed. Every missing, extra, unreadable, duplicate, out-of-folder or wrong-type file is listed in
    RUN/import-report.md with what to do. Exit 0: clean; 1: imported with problems; 2: nothing imported.

    \b
    Examples:
      nava-eval import versebench ~/ovi_outputs --model "Ovi 1.1" --params-b 10 --run-dir runs/ovi
      nava-eval score runs/ovi --nproc 8 && nava-eval report runs/ovi runs/nava --published
      nava-eval import seedtts ~/cosyvoice/en --model CosyVoice --sets en --run-dir runs/cosy-en
    """
    from nava_eval.benchmarks.selection import selection_of
    from nava_eval.runners.importing import ImportRefused, ImportRequest, import_outputs

    try:
        ids = read_ids(ids_file)
        report = import_outputs(
            ImportRequest(
                benchmark=benchmark,
                source_dir=Path(outputs_dir),
                model=model,
                run_dir=Path(run_dir) if run_dir is not None else None,
                mapping=Path(mapping) if mapping is not None else None,
                params_b=params_b,
                data_dir=Path(data_dir) if data_dir is not None else None,
                selection=selection_of(sets, ids, None),
                preset=preset,
                strict=strict,
                transfer="copy" if copy_files else "auto",
            )
        )
    except ImportRefused as exc:
        if exc.report is not None:
            click.echo(exc.report.render_md(), err=True)
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(EXIT_REFUSED) from None
    except UserError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(EXIT_REFUSED) from None
    click.echo(report.render_md())
    click.echo(f"wrote {Path(report.run_dir) / 'import-report.md'}")
    click.echo(f"next: nava-eval score {report.run_dir}")
    if not report.ok:
        raise SystemExit(EXIT_PROBLEMS)
