"""The Python entry point for notebooks and other harnesses: the same functions the CLI calls, as one facade.

    from nava_eval import evaluate
    results = evaluate("versebench", outputs_dir="ovi_outputs/", model="Ovi 1.1", run_dir="runs/ovi")
    results.metrics["sync_c"].value, results.metrics["sync_c"].ci95

`evaluate` imports a folder of any model's outputs into a run directory (runners.importing) and scores
it; `score` (re)scores an existing run directory; both return the Results object written to
results.json, so a notebook sees exactly the numbers `nava-eval report` shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from nava_eval.benchmarks.selection import selection_of
from nava_eval.errors import InvalidValue
from nava_eval.rundir.records import Results
from nava_eval.runners.importing import ImportReport, ImportRequest, Transfer, import_outputs
from nava_eval.runners.scoring import ScoredRun, score_run_dir


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
            selection=selection_of(sets, ids, limit),
            preset=preset,
            strict=strict,
            transfer=transfer,
        )
    )


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
    channel: str | None = None,
) -> ScoredRun:
    """Score a run directory (generated or imported): cached scores are reused, `nproc` processes share the work.

    `channel` ("left", "right", "mean"): audio metrics read that channel, under a variant protocol id.
    """
    from nava_eval.metrics.channels import check_channel

    return score_run_dir(
        run_dir,
        metrics=metrics,
        nproc=nproc,
        device=device,
        batch_size=batch_size,
        weights=weights,
        progress=progress,
        timeout_s=timeout_s,
        reports=reports,
        channel=check_channel(channel),
    )


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
            raise InvalidValue("evaluate(outputs_dir=...) needs model=NAME: the name the tables show for it")
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
        raise InvalidValue(
            "evaluate needs outputs_dir (a model's outputs folder) or run_dir (a run directory)"
        )
    scored = score(
        run_dir, metrics=metrics, nproc=nproc, device=device, batch_size=batch_size, progress=progress
    )
    return scored.results
