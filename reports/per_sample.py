"""Per-sample metric values of a run directory, as one long table: the input of every CI and paired test.

scores/<metric>.jsonl is an append log; the last line of an id is its current state. Only status
"ok" lines count (skipped and failed samples are reported apart, never as 0). A score whose output
sha256 no longer matches samples.jsonl was computed on an older output and is dropped.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

import pandas as pd

from nava_eval.reports.results import (
    Results,
    ScoreRecord,
    latest_by_id,
    load_results,
    load_sample_records,
    load_score_records,
)

log = logging.getLogger(__name__)

COLUMNS = ["id", "set", "metric", "field", "value", "protocol"]
ISSUE_COLUMNS = ["id", "set", "metric", "status", "reason"]


def _field_names(metric: str) -> list[str]:
    from nava_eval.metrics.base import metric_entries  # imports no torch: the registry holds strings only

    entry = metric_entries().get(metric)
    return [f.name for f in entry.fields] if entry is not None else [metric]


def record_field_values(record: ScoreRecord) -> dict[str, float]:
    """The finite numeric field values of one score line.

    Same rule as results.json's aggregation (reports.aggregate): a field is read from `values`;
    `value` stands in only for a field named like the metric itself.
    """
    out: dict[str, float] = {}
    for name in _field_names(record.metric):
        value = record.values.get(name)
        if value is None and name == record.metric:
            value = record.value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        out[name] = float(value)
    return out


def scan_scores(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ok values, issues) of `run_dir/scores/*.jsonl` in one pass.

    ok values: one row per (id, field), columns id, set, metric (scores file), field (results.json
    column, e.g. sync_c), value, protocol. issues: one row per sample a metric did not score, columns
    id, set, metric, status (skipped | failed | stale), reason.
    """
    run_dir = Path(run_dir)
    current_sha: dict[str, str | None] = {}
    samples_file = run_dir / "samples.jsonl"
    if samples_file.exists():
        current_sha = {
            sid: rec.output_sha256 for sid, rec in latest_by_id(load_sample_records(samples_file)).items()
        }
    rows = []
    issues = []
    for path in sorted((run_dir / "scores").glob("*.jsonl")):
        for record in latest_by_id(load_score_records(path)).values():
            if record.status != "ok":
                issues.append([record.id, record.set, record.metric, record.status, record.reason or ""])
                continue
            known = current_sha.get(record.id)
            if known and record.output_sha256 and known != record.output_sha256:
                log.info("%s: score of %s is for an older output (sha256 differs); ignored", path, record.id)
                issues.append(
                    [record.id, record.set, record.metric, "stale", "scored an older output; rescore"]
                )
                continue
            for name, value in record_field_values(record).items():
                rows.append([record.id, record.set, record.metric, name, value, record.protocol])
    return pd.DataFrame(rows, columns=COLUMNS), pd.DataFrame(issues, columns=ISSUE_COLUMNS)


def load_sample_scores(run_dir: str | Path) -> pd.DataFrame:
    """Every status-ok, current per-sample value of `run_dir/scores/*.jsonl` (see `scan_scores`)."""
    return scan_scores(run_dir)[0]


def field_values(scores: pd.DataFrame, field: str) -> pd.DataFrame:
    """The rows of one field, indexed by sample id (columns set, value, protocol)."""
    sub = scores[scores["field"] == field]
    return sub.drop_duplicates("id", keep="last").set_index("id")[["set", "value", "protocol"]]


def field_estimate(
    scores: pd.DataFrame,
    field: str,
    aggregation: str = "per-item mean",
    seed: int = 0,
    n_resamples: int = 1000,
) -> tuple[float, tuple[float, float], int] | None:
    """(value, 95 % CI, n) of one field from per-sample values, honouring the benchmark's aggregation.

    "mean of per-set means" resamples within each set; anything else is the plain per-item mean.
    None when the run has no ok value for the field.
    """
    from nava_eval.reports.stats import PER_SET_MEANS, bootstrap_ci, bootstrap_ci_grouped, mean_of_set_means

    sub = field_values(scores, field)
    if sub.empty:
        return None
    if aggregation == PER_SET_MEANS:
        groups = {str(name): grp["value"].to_numpy() for name, grp in sub.groupby("set")}
        return mean_of_set_means(groups), bootstrap_ci_grouped(groups, seed, n_resamples), len(sub)
    values = sub["value"].to_numpy()
    return float(values.mean()), bootstrap_ci(values, seed, n_resamples), len(sub)


@dataclass(frozen=True)
class RunData:
    """A run's results.json plus, when its run directory is at hand, its per-sample scores."""

    results: Results
    run_dir: Path | None
    scores: pd.DataFrame
    issues: pd.DataFrame = dataclass_field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))

    @property
    def label(self) -> str:
        return f"{self.results.model} ({self.results.run_name})"

    def sets(self) -> list[str]:
        """The benchmark sets this run covers."""
        found: set[str] = set()
        for metric in self.results.metrics.values():
            found.update(metric.per_set)
        if not found and not self.scores.empty:
            found.update(str(s) for s in self.scores["set"].unique())
        return sorted(found)


def load_run(source: str | Path | Results | RunData) -> RunData:
    """A run directory, a results.json path or an already loaded Results → RunData."""
    if isinstance(source, RunData):
        return source
    if isinstance(source, Results):
        return RunData(source, None, pd.DataFrame(columns=COLUMNS))
    path = Path(source)
    results = load_results(path)
    run_dir = path if path.is_dir() else path.parent
    has_scores = (run_dir / "scores").is_dir()
    if has_scores:
        scores, issues = scan_scores(run_dir)
    else:
        scores, issues = pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=ISSUE_COLUMNS)
    return RunData(results, run_dir if has_scores or path.is_dir() else None, scores, issues)
