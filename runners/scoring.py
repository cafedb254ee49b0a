"""The score stage of a run directory: every rank scores its share, then rank 0 writes results.json and the reports.

`nava-eval score`, the score step of `nava-eval run` and the Python API (`nava_eval.evaluate`,
runners/api.py) all call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.errors import MissingFile
from nava_eval.ranks import is_main_process
from nava_eval.rundir.records import Results


@dataclass(frozen=True)
class ScoredRun:
    """What `score` did: results.json's object (None on torchrun ranks other than 0), per-metric summaries, files."""

    results: Results | None
    summaries: list[Any] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    #: What failed (generation, scoring, outputs changed on disk) as a sentence; None when nothing did.
    failures: str | None = None


def score_prepared(prepared: Any, metrics: Sequence[str] | None = None, *, reports: bool = True) -> ScoredRun:
    """Score a prepared run (every rank under torchrun), then on rank 0 write results.json and the reports."""
    from nava_eval.runners.run import aggregate_run, failure_summary, write_reports
    from nava_eval.runners.score_parallel import score_run

    summaries = score_run(prepared, metrics)
    if not is_main_process():
        return ScoredRun(None, [], [])
    results = aggregate_run(prepared, metrics)
    written = [prepared.run_dir.results_json]
    if reports:
        written += write_reports(prepared)
    changed = [key for s in summaries for key in s.changed]
    return ScoredRun(results, summaries, written, failure_summary(prepared, results, changed))


def score_run_dir(
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
    """Score a run directory (generated or imported): cached scores are reused, `nproc` processes share the work."""
    from nava_eval.rundir.lock import command_lock
    from nava_eval.runners.run import load_prepared
    from nava_eval.user_files import user_path

    run_dir = user_path(run_dir)
    chosen = tuple(metrics) if metrics else None
    if not Path(run_dir).is_dir():  # checked first: taking the lock would create the folder
        raise MissingFile(
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
                "channel": channel,
            },
        )
        return score_prepared(prepared, chosen, reports=reports)
