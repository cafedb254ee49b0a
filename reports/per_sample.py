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

from nava_eval.rundir.records import (
    Results,
    ScoreRecord,
    latest_by_id,
    load_results,
    load_sample_records,
    load_score_records,
)

log = logging.getLogger(__name__)

#: `id` is the unit (reports.results.sample_key: the item id, or `id@seed` in a multi-seed run);
#: `item` the benchmark item and `seed` the run seed (None in a single-seed run).
COLUMNS = ["id", "set", "metric", "field", "value", "protocol", "item", "seed"]
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

    ok values: one row per (unit, field), columns id (the unit: item id, or id@seed in a multi-seed run),
    set, metric (scores file), field (results.json column, e.g. sync_c), value, protocol, item, seed.
    issues: one row per unit a metric did not score, columns id, set, metric, status (skipped | failed |
    stale), reason.
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
        for key, record in latest_by_id(load_score_records(path)).items():
            if record.status != "ok":
                issues.append([key, record.set, record.metric, record.status, record.reason or ""])
                continue
            known = current_sha.get(key)
            if known and record.output_sha256 and known != record.output_sha256:
                log.info("%s: score of %s is for an older output (sha256 differs); ignored", path, key)
                issues.append([key, record.set, record.metric, "stale", "scored an older output; rescore"])
                continue
            for name, value in record_field_values(record).items():
                rows.append(
                    [key, record.set, record.metric, name, value, record.protocol, record.id, record.run_seed]
                )
    return pd.DataFrame(rows, columns=COLUMNS), pd.DataFrame(issues, columns=ISSUE_COLUMNS)


def load_sample_scores(run_dir: str | Path) -> pd.DataFrame:
    """Every status-ok, current per-sample value of `run_dir/scores/*.jsonl` (see `scan_scores`)."""
    return scan_scores(run_dir)[0]


def field_values(scores: pd.DataFrame, field: str) -> pd.DataFrame:
    """The rows of one field, indexed by unit (columns set, value, protocol, item, seed)."""
    sub = scores[scores["field"] == field]
    for column, default in (("item", None), ("seed", None)):
        if column not in sub.columns:  # a frame built by hand with the older columns
            sub = sub.assign(**{column: sub["id"] if column == "item" else default})
    return sub.drop_duplicates("id", keep="last").set_index("id")[
        ["set", "value", "protocol", "item", "seed"]
    ]


def is_multi_seed(values: pd.DataFrame) -> bool:
    """Whether `field_values` rows come from a multi-seed run (units carry a run seed)."""
    return "seed" in values.columns and bool(values["seed"].notna().any())


def item_means(values: pd.DataFrame) -> pd.DataFrame:
    """Per item: the mean over its seeds (columns set, value), in first-seen order; a single-seed run as is."""
    if not is_multi_seed(values):
        return values[["set", "value"]]
    grouped = values.groupby("item", sort=False)
    return pd.DataFrame({"set": grouped["set"].first(), "value": grouped["value"].mean()})


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
    from nava_eval.reports.stats import (
        PER_SET_MEANS,
        bootstrap_ci,
        bootstrap_ci_grouped,
        mean_of_set_means,
        seed_estimate,
    )

    sub = field_values(scores, field)
    if sub.empty:
        return None
    if is_multi_seed(sub):
        seeds = sorted({int(s) for s in sub["seed"].dropna()})
        matrix = sub.pivot_table(index="item", columns="seed", values="value", aggfunc="last", sort=False)
        matrix = matrix.reindex(columns=seeds)
        sets = sub.groupby("item", sort=False)["set"].first().reindex(matrix.index)
        labels = [str(s) for s in sets] if aggregation == PER_SET_MEANS else None
        est = seed_estimate(matrix.to_numpy(dtype=float), seeds, labels, seed, n_resamples)
        return est.value, est.ci95, est.n
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

    @property
    def coverage(self) -> str:
        """ "598/600 samples with an output" (× seeds in a multi-seed run); "" when results.json does not say."""
        res = self.results
        if res.n_outputs is None or not res.n_samples:
            return ""
        seeds = f" ({len(res.seeds)} seeds)" if res.seeds else ""
        return f"{res.n_outputs}/{res.n_samples} samples with an output{seeds}"

    @property
    def described(self) -> str:
        """The label with its coverage, for the headers of compare and check."""
        return f"{self.label}, {self.coverage}" if self.coverage else self.label

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


@dataclass(frozen=True)
class PairedItems:
    """Two runs' values of one field, paired per item: columns set, a, b (index: item id, sorted)."""

    frame: pd.DataFrame
    by_seed: bool  # paired on (item, seed) units; False: on items (seed means when a run has seeds)
    units: int  # (item, seed) pairs used when by_seed, else items
    complete: bool  # every value of both runs entered a pair
    note: str = ""
    left_out: int = 0  # units (or items, when paired by item) of the larger run that found no partner


def paired_items(va: pd.DataFrame, vb: pd.DataFrame) -> PairedItems:
    """Pair two runs' `field_values` as compare and check do: same item, same seed.

    Units both runs have (the same item, and the same seed in multi-seed runs) are paired and averaged
    per item, so a bootstrap over the returned rows resamples items with all their seeds. Runs without a
    seed in common are paired by item on each run's mean over its seeds (noted). Single-seed runs pair
    by item id, as before multi-seed runs existed.
    """
    multi = is_multi_seed(va) or is_multi_seed(vb)
    common = va.index.intersection(vb.index)
    if len(common) or not multi:
        a, b = va.loc[common], vb.loc[common]
        frame = pd.DataFrame({"item": a["item"], "set": a["set"], "a": a["value"], "b": b["value"]})
        grouped = frame.groupby("item", sort=True).agg(set=("set", "first"), a=("a", "mean"), b=("b", "mean"))
        complete = len(common) == len(va) == len(vb)
        note = ""
        if multi:
            note = f"paired by (item, seed): {len(common)} pairs over {len(grouped)} items"
        return PairedItems(grouped, True, len(common), complete, note, max(len(va), len(vb)) - len(common))
    ma, mb = item_means(va), item_means(vb)
    items = ma.index.intersection(mb.index).sort_values()
    frame = pd.DataFrame(
        {"set": ma.loc[items, "set"], "a": ma.loc[items, "value"], "b": mb.loc[items, "value"]}
    )
    complete = len(items) == len(ma) == len(mb)
    note = "no seed in common: paired by item on each run's mean over its seeds"
    return PairedItems(frame, False, len(items), complete, note, max(len(ma), len(mb)) - len(items))


def _seed_order(seed: int | None) -> tuple[bool, int]:
    return (seed is not None, seed or 0)


def set_field_source(run: RunData, field: str) -> tuple[Path, str] | None:
    """(scores file, reducer "module:function") of a set-level field as this run scored it, or None.

    Several metrics may name a field alike (two FD protocols): the one whose scores file the run has.
    """
    from nava_eval.metrics.base import metric_entries

    if run.run_dir is None:
        return None
    for name, entry in metric_entries().items():
        for f in entry.fields:
            path = run.run_dir / "scores" / f"{name}.jsonl"
            if f.name == field and f.reducer and path.exists():
                return path, f.reducer
    return None


def set_field_rows(run: RunData, field: str) -> dict[str, dict[int | None, dict]]:
    """item → run seed (None in a single-seed run, never a number a user could pick) → per-item `values` of a set-level field's
    status-ok, current score records (what its reducer reads), from the run directory's scores."""
    source = set_field_source(run, field)
    if source is None or run.run_dir is None:
        return {}
    path = source[0]
    current: dict[str, str | None] = {}
    samples = run.run_dir / "samples.jsonl"
    if samples.exists():
        current = {k: r.output_sha256 for k, r in latest_by_id(load_sample_records(samples)).items()}
    rows: dict[str, dict[int | None, dict]] = {}
    for key, record in latest_by_id(load_score_records(path)).items():
        known = current.get(key)
        if record.status != "ok" or (known and record.output_sha256 and known != record.output_sha256):
            continue
        seed = None if record.run_seed is None else int(record.run_seed)
        rows.setdefault(record.id, {})[seed] = record.values
    return rows


def paired_set_statistic(
    a: RunData, b: RunData, field: str, seed: int, n_resamples: int
) -> tuple[object | None, int, str]:
    """(PairedDelta or None, items paired, note) of a set-level field of two runs, items resampled with the reducer.

    Items are paired as `paired_items` pairs: same item and same seed when the runs share seeds (the
    statistic is computed per common seed), else same item with each run's own seeds.
    """
    from nava_eval.lazy import load
    from nava_eval.reports.stats import paired_statistic_bootstrap

    sources = (set_field_source(a, field), set_field_source(b, field))
    if sources[0] is None or sources[1] is None:
        missing = "A" if sources[0] is None else "B"
        return None, 0, f"run {missing} has no scores file with this set-level field's inputs"
    if sources[0][1] != sources[1][1]:
        return (
            None,
            0,
            f"the runs computed {field} with different reducers ({sources[0][1]}, {sources[1][1]})",
        )
    reducer = sources[0][1]
    rows_a, rows_b = set_field_rows(a, field), set_field_rows(b, field)
    items = sorted(set(rows_a) & set(rows_b))
    if not items:
        return None, 0, "no item scored by both runs"
    seeds_a = sorted({s for i in items for s in rows_a[i]}, key=_seed_order)
    seeds_b = sorted({s for i in items for s in rows_b[i]}, key=_seed_order)
    common = sorted(set(seeds_a) & set(seeds_b), key=_seed_order)
    note = f"set statistic ({reducer.rpartition(':')[2]}) resampled over {len(items)} common items"
    if common:
        ra = [{s: rows_a[i][s] for s in common if s in rows_a[i] and s in rows_b[i]} for i in items]
        rb = [{s: rows_b[i][s] for s in common if s in rows_a[i] and s in rows_b[i]} for i in items]
        seeds_a = seeds_b = common
    else:
        ra, rb = [rows_a[i] for i in items], [rows_b[i] for i in items]
        note += "; no seed in common: each run's statistic over its own seeds"
    paired = paired_statistic_bootstrap(ra, seeds_a, rb, seeds_b, load(reducer), seed, n_resamples)
    return paired, len(items), note
