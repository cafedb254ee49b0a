"""`nava-eval data`: download VerseBench from the Hub, import a hand-downloaded Seed-TTS-eval, list them."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import UserPath

SEEDTTS_HOWTO = (
    "Seed-TTS-eval is distributed outside the Hugging Face Hub: download the test set linked from "
    "https://github.com/BytedanceSpeech/seed-tts-eval (Google Drive), unpack it, then run "
    "`nava-eval data import seedtts PATH` (PATH holds en/meta.lst, zh/meta.lst, zh/hardcase.lst)."
)


def _split_sets(value: str | None) -> tuple[str, ...] | None:
    return tuple(s.strip() for s in value.split(",") if s.strip()) if value else None


def _echo_report(report) -> None:
    for line in report.lines():
        click.echo(line)


@click.group(name="data")
def command() -> None:
    """Download or import benchmark data (registered in $NAVA_EVAL_HOME/data.json)."""


@command.command("download")
@click.argument("benchmark", type=click.Choice(["versebench", "seedtts"]))
@click.option(
    "--cache-dir",
    type=UserPath(file_okay=False, path_type=Path),
    default=None,
    help="Hugging Face cache folder (default: HF_HOME's hub cache).",
)
@click.option(
    "--local-dir",
    type=UserPath(file_okay=False, path_type=Path),
    default=None,
    help="Put the files in this plain folder instead of the cache.",
)
@click.option("--revision", default=None, help="Dataset revision (branch, tag or commit); default main.")
@click.option(
    "--nava-prompts",
    type=UserPath(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder with NAVA's set1/2/3.jsonl (NAVA checkout: infer_cases/verse_bench_rewrite); recorded too.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Use only what is already cached (also: nava-eval --offline, NAVA_EVAL_OFFLINE=1, HF_HUB_OFFLINE=1).",
)
def download(
    benchmark: str,
    cache_dir: Path | None,
    local_dir: Path | None,
    revision: str | None,
    nava_prompts: Path | None,
    offline: bool,
) -> None:
    """Download (or resume) a benchmark's data set and register it; offline, find it in the cache."""
    if benchmark == "seedtts":
        raise click.ClickException(SEEDTTS_HOWTO)
    from nava_eval.benchmarks.download import OfflineError, download_versebench, register_data_dir
    from nava_eval.benchmarks.errors import DataNotFoundError
    from nava_eval.benchmarks.versebench import VerseBench

    try:
        folder = download_versebench(
            cache_dir=cache_dir, local_dir=local_dir, revision=revision, register=False, offline=offline
        )
    except OfflineError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Verse-Bench is in {folder}")
    extra = {"nava_prompts": str(nava_prompts.resolve())} if nava_prompts else {}
    register_data_dir("versebench", folder, f"hf:dorni/Verse-Bench@{revision or 'main'}", **extra)
    try:
        report = VerseBench(prompts_dir=nava_prompts).validate(folder)
    except DataNotFoundError as exc:
        raise click.ClickException(f"downloaded, but the layout is not the expected one: {exc}") from exc
    _echo_report(report)
    if not report.ok:
        raise SystemExit(1)


@command.command("import")
@click.argument("benchmark", type=click.Choice(["seedtts", "versebench"]))
@click.argument("path", type=UserPath(exists=True, file_okay=False, path_type=Path))
@click.option("--sets", default=None, help="Comma-separated sets you have (e.g. en); default all.")
@click.option(
    "--nava-prompts",
    type=UserPath(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="versebench only: folder with NAVA's set1/2/3.jsonl.",
)
@click.option("--force", is_flag=True, help="Register even when validation finds problems.")
def import_(benchmark: str, path: Path, sets: str | None, nava_prompts: Path | None, force: bool) -> None:
    """Check a hand-downloaded copy of a benchmark and register it as the default --data-dir."""
    from nava_eval.benchmarks.download import register_data_dir
    from nava_eval.benchmarks.seedtts import SeedTTSEval
    from nava_eval.benchmarks.versebench import VerseBench

    if nava_prompts is not None and benchmark != "versebench":
        raise click.UsageError("--nava-prompts only applies to versebench")
    bench = VerseBench(prompts_dir=nava_prompts) if benchmark == "versebench" else SeedTTSEval()
    chosen = _split_sets(sets)
    try:
        report = bench.validate(path, sets=chosen)
        root = bench.dataset_root(path)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    _echo_report(report)
    if not report.ok and not force:
        click.echo("not registered: fix the problems above, or pass --force to register anyway", err=True)
        raise SystemExit(1)
    extra: dict[str, str] = {}
    if chosen:
        extra["sets"] = ",".join(chosen)
    if nava_prompts is not None:
        extra["nava_prompts"] = str(nava_prompts.resolve())
    reg = register_data_dir(benchmark, root, f"import:{path.resolve()}", **extra)
    click.echo(f"registered {benchmark} data at {reg.path}")


@command.command("list")
def list_() -> None:
    """Show the registered data folders."""
    from nava_eval.benchmarks.download import data_config_path, load_data_config

    entries = load_data_config()["benchmarks"]
    if not entries:
        click.echo(f"no data registered yet ({data_config_path()})")
        return
    for name, entry in sorted(entries.items()):
        present = "" if Path(entry["path"]).is_dir() else "  [MISSING]"
        click.echo(f"{name:<12} {entry['path']}{present}")
        details = {k: v for k, v in sorted(entry.items()) if k != "path"}
        click.echo("             " + ", ".join(f"{k}={v}" for k, v in details.items()))
