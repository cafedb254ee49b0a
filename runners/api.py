"""The Python entry point for notebooks and other harnesses; the CLI's `import` and `score` call these.

    from nava_eval import evaluate
    results = evaluate("versebench", outputs_dir="ovi_outputs/", model="Ovi 1.1", run_dir="runs/ovi")
    results.metrics["sync_c"].value, results.metrics["sync_c"].ci95

`evaluate` imports a folder of any model's outputs into a run directory (runners.importing) and scores
it; `score` (re)scores an existing run directory; both return the Results object written to
results.json, so a notebook sees exactly the numbers `nava-eval report` shows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.benchmarks.base import SampleSelection
from nava_eval.rundir.records import Results
from nava_eval.runners.importing import ImportReport, ImportRequest, Transfer, import_outputs


@dataclass(frozen=True)
class ScoredRun:
    """What `score` did: results.json's object (None on torchrun ranks other than 0), per-metric summaries, files."""

    results: Results | None
    summaries: list[Any] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    #: What failed (generation, scoring, outputs changed on disk) as a sentence; None when nothing did.
    failures: str | None = None


def _selection(
    sets: Sequence[str] | str | None, ids: Iterable[str] | Path | str | None, limit: int | None
) -> SampleSelection:
    if isinstance(sets, str):
        sets = [s.strip() for s in sets.split(",") if s.strip()]
    chosen_ids: frozenset[str] | None = None
    if isinstance(ids, str | Path):
        from nava_eval.benchmarks.selection import read_ids_file

        chosen_ids = read_ids_file(Path(ids))
    elif ids is not None:
        chosen_ids = frozenset(ids)
    return SampleSelection(sets=tuple(sets) if sets else None, ids=chosen_ids, limit=limit)


def import_run(
    benchmark: str,
    outputs_dir: str | Path,
    *,
    model: str,
    run_dir: str | Path | None = None,
    mapping: str | Path | None = None,
    params_b: float | None = None,
    data_dir: str | Path | None = None,
    sets: Sequence[str] | str | None = None,
    ids: Iterable[str] | Path | str | None = None,
    limit: int | None = None,
    preset: str | None = None,
    strict: bool = False,
    transfer: Transfer = "auto",
) -> ImportReport:
    """Turn `outputs_dir` (another model's outputs) into a run directory; returns the import report.

    Raises runners.importing.ImportRefused when nothing can be imported (or `strict` and a problem).
    """
    return import_outputs(
        ImportRequest(
            benchmark=benchmark,
            source_dir=Path(outputs_dir),
            model=model,
            run_dir=Path(run_dir) if run_dir is not None else None,
            mapping=Path(mapping) if mapping is not None else None,
            params_b=params_b,
            data_dir=Path(data_dir) if data_dir is not None else None,
            selection=_selection(sets, ids, limit),
            preset=preset,
            strict=strict,
            transfer=transfer,
        )
    )


def score_prepared(prepared: Any, metrics: Sequence[str] | None = None, *, reports: bool = True) -> ScoredRun:
    """Score a prepared run (every rank under torchrun), then on rank 0 write results.json and the reports."""
    from nava_eval.runners.run import aggregate_run, failure_summary, score_run, write_reports

    summaries = score_run(prepared, metrics)
    if int(os.environ.get("RANK", "0")) != 0:
        return ScoredRun(None, [], [])
    results = aggregate_run(prepared, metrics)
    written = [prepared.run_dir.results_json]
    if reports:
        written += write_reports(prepared)
    changed = [key for s in summaries for key in s.changed]
    return ScoredRun(results, summaries, written, failure_summary(prepared, results, changed))


def score(
    run_dir: str | Path,
    *,
    metrics: Sequence[str] | None = None,
    nproc: int = 1,
    device: str | None = None,
    batch_size: int = 8,
    weights: dict[str, str] | None = None,
    progress: bool = True,
    timeout_s: float = 1800.0,
    reports: bool = True,
) -> ScoredRun:
    """Score a run directory (generated or imported): cached scores are reused, `nproc` processes share the work."""
    from nava_eval.rundir.lock import command_lock
    from nava_eval.runners.run import load_prepared
    from nava_eval.user_files import user_path

    run_dir = user_path(run_dir)
    chosen = tuple(metrics) if metrics else None
    if not Path(run_dir).is_dir():  # checked first: taking the lock would create the folder
        raise FileNotFoundError(
            f"{run_dir}: no such run directory (make one with `nava-eval run`, `generate` or `import`)"
        )
    with command_lock(Path(run_dir), "nava-eval score"):
        prepared = load_prepared(
            Path(run_dir),
            {
                "metrics": chosen,
                "scorer_weights": dict(weights or {}),
                "device": device,
                "batch_size": batch_size,
                "progress": progress,
                "nproc": nproc,
                "timeout_s": timeout_s,
            },
        )
        return score_prepared(prepared, chosen, reports=reports)


def evaluate(
    benchmark: str,
    outputs_dir: str | Path | None = None,
    *,
    model: str | None = None,
    metrics: Sequence[str] | None = None,
    run_dir: str | Path | None = None,
    mapping: str | Path | None = None,
    params_b: float | None = None,
    data_dir: str | Path | None = None,
    sets: Sequence[str] | str | None = None,
    ids: Iterable[str] | Path | str | None = None,
    preset: str | None = None,
    strict: bool = False,
    nproc: int = 1,
    device: str | None = None,
    batch_size: int = 8,
    progress: bool = True,
) -> Results | None:
    """Score a model's outputs on `benchmark` with the official protocols and return results.json's object.

    With `outputs_dir` (and `model`, its name in tables): import the folder into `run_dir` (default
    runs/<benchmark>-<model>) and score it. Without it: score the existing `run_dir`. `metrics`
    replaces the benchmark's default metrics; `preset="smoke"` uses tiny random scorers (CPU, fast,
    meaningless numbers). Re-running reuses every cached score. `nproc` > 1 scores in that many local
    processes (one GPU each when there are GPUs); under torchrun, ranks other than 0 return None.
    """
    if outputs_dir is not None:
        if not model:
            raise ValueError("evaluate(outputs_dir=...) needs model=NAME: the name the tables show for it")
        report = import_run(
            benchmark,
            outputs_dir,
            model=model,
            run_dir=run_dir,
            mapping=mapping,
            params_b=params_b,
            data_dir=data_dir,
            sets=sets,
            ids=ids,
            preset=preset,
            strict=strict,
        )
        run_dir = report.run_dir
    elif run_dir is None:
        raise ValueError("evaluate needs outputs_dir (a model's outputs folder) or run_dir (a run directory)")
    scored = score(
        run_dir, metrics=metrics, nproc=nproc, device=device, batch_size=batch_size, progress=progress
    )
    return scored.results
