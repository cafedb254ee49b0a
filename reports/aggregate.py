"""Per-sample scores → results.json aggregates with bootstrap CIs and coverage counts.

Coverage is explicit: a sample planned for a metric is counted once as ok (n), skipped (the
metric's rules exclude it, e.g. no face track), failed (scorer error), or missing (never
generated or never scored). Nothing is dropped silently and nothing is counted as 0.

In a multi-seed run every (sample, seed) is planned and counted; the value is the mean over seeds of
each seed's value, with the between-seed standard deviation and an item bootstrap CI
(reports.stats.seed_estimate / seed_statistic_estimate).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nava_eval.benchmarks.base import FieldRule
from nava_eval.errors import InvalidValue
from nava_eval.metrics.base import MetricField
from nava_eval.reports.stats import (
    PER_SET_MEANS,
    bootstrap_ci,
    bootstrap_ci_grouped,
    bootstrap_ci_indices,
    bootstrap_ci_statistic,
    mean_of_set_means,
    seed_estimate,
    seed_statistic_estimate,
)
from nava_eval.rundir.records import (
    MetricResult,
    Provenance,
    Results,
    ScoreRecord,
    SetResult,
    latest_by_id,
    load_score_records,
    sample_key,
)

#: results.json `aggregation` of a set-level field.
SET_STATISTIC = "set statistic"


@dataclass(frozen=True)
class PlannedSample:
    """A sample a metric was meant to score, with the sha256 of its current output (None: not generated)."""

    id: str
    set: str
    output_sha256: str | None
    run_seed: int | None = None  # which seed of a multi-seed run

    @property
    def key(self) -> str:
        return sample_key(self.id, self.run_seed)


def sample_order_key(sample_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then the rest by name: the order aggregates see samples in."""
    return (0, int(sample_id), sample_id) if sample_id.isdigit() else (1, 0, sample_id)


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _current(record: ScoreRecord | None, sample: PlannedSample) -> bool:
    """A score counts only if it was made on the sample's current output."""
    return (
        record is not None
        and sample.output_sha256 is not None
        and record.output_sha256 in (None, sample.output_sha256)
    )


def aggregate_field(
    records: Mapping[str, ScoreRecord],
    planned: Sequence[PlannedSample],
    field: MetricField,
    protocol: str,
    aggregation: str,
    seed: int = 0,
    n_resamples: int = 1000,
    sets: Sequence[str] | None = None,
) -> MetricResult:
    """One results.json entry from the latest score record of every planned sample.

    `protocol` is the metric pass's protocol (the field may name its own); `sets` restricts the
    population to the sets the benchmark's protocol aggregates over.
    """
    # In sample-id order, not the plan's: the bootstrap draw then depends only on the per-sample
    # scores, so anyone holding them (a leaderboard validating a submission) gets the same CI.
    planned = sorted(planned, key=lambda p: sample_order_key(p.id))
    if sets is not None:
        planned = [p for p in planned if p.set in sets]
    if any(p.run_seed is not None for p in planned):
        if field.kind == "set":
            return _aggregate_set_field_seeds(records, planned, field, protocol, seed, n_resamples, sets)
        return _aggregate_field_seeds(records, planned, field, protocol, aggregation, seed, n_resamples, sets)
    if field.kind == "set":
        return _aggregate_set_field(records, planned, field, protocol, seed, n_resamples, sets)
    values: dict[str, list[float]] = {}
    flat: list[float] = []
    counts: Counter[str] = Counter()
    for sample in planned:
        record = records.get(sample.key)
        if not _current(record, sample):
            counts["missing"] += 1
            continue
        if record.status != "ok":
            counts[record.status] += 1
            continue
        value = _finite(record.values.get(field.name, record.value if field.name == record.metric else None))
        if value is None:
            counts["skipped"] += 1
            continue
        values.setdefault(sample.set, []).append(value)
        flat.append(value)
    per_set = {
        name: SetResult(
            value=float(sum(vs) / len(vs)),
            n=len(vs),
            ci95=list(bootstrap_ci(vs, seed, n_resamples)) if vs else None,
        )
        for name, vs in sorted(values.items())
    }
    if not flat:
        value, ci = None, None
    elif aggregation == PER_SET_MEANS:
        value, ci = mean_of_set_means(values), list(bootstrap_ci_grouped(values, seed, n_resamples))
    else:
        value, ci = float(sum(flat) / len(flat)), list(bootstrap_ci(flat, seed, n_resamples))
    return MetricResult(
        name=field.name,
        protocol=field.protocol_for(protocol),
        direction=field.direction,
        value=value,
        n=len(flat),
        n_skipped=counts["skipped"],
        n_failed=counts["failed"],
        n_missing=counts["missing"],
        ci95=ci,
        unit=field.unit,
        aggregation=aggregation,
        per_set=per_set,
        quantity=field.quantity,
        sets=list(sets) if sets is not None else None,
    )


def set_statistic(field: MetricField) -> Callable[[Sequence[Mapping[str, Any]]], float]:
    """The reducer of a set-level field (numpy only: imported without torch)."""
    from nava_eval.lazy import load

    if field.reducer is None:
        raise ValueError(f"metric field {field.name!r} is not a set-level field")
    return load(field.reducer)


def _set_statistic_with_ci(
    statistic: Callable[[Sequence[Mapping[str, Any]]], float], seed: int, n_resamples: int
) -> Callable[[Sequence[Mapping[str, Any]]], tuple[float | None, tuple[float, float] | None]]:
    """items → (statistic, 95 % CI from resampling items), using the reducer's index form when it has one."""

    def compute(items: Sequence[Mapping[str, Any]]) -> tuple[float | None, tuple[float, float] | None]:
        point = _reduce(statistic, items)
        if point is None:
            return None, None
        of_indices = getattr(statistic, "of_indices", None)
        # Normal interval around the estimate: resampling duplicates items, which biases set statistics
        # such as FD upwards, so a percentile interval can lie entirely above the estimate.
        if of_indices is None:
            return point, bootstrap_ci_statistic(items, statistic, seed, n_resamples, around=point)
        return point, bootstrap_ci_indices(len(items), of_indices(items), seed, n_resamples, around=point)

    return compute


def _reduce(statistic: Callable[[Sequence[Mapping[str, Any]]], float], items: Sequence[Any]) -> float | None:
    try:
        value = float(statistic(items))
    except ValueError:  # too few items for the statistic (e.g. a covariance of one embedding)
        return None
    return value if math.isfinite(value) else None


def _aggregate_set_field(
    records: Mapping[str, ScoreRecord],
    planned: Sequence[PlannedSample],
    field: MetricField,
    protocol: str,
    seed: int,
    n_resamples: int,
    sets: Sequence[str] | None,
) -> MetricResult:
    """A statistic of the whole population (e.g. FD between embedding sets), CI by resampling items."""
    statistic = set_statistic(field)
    needed = tuple(getattr(statistic, "requires", ()))  # the per-item keys the reducer reads
    items: list[Mapping[str, Any]] = []
    by_set: dict[str, list[Mapping[str, Any]]] = {}
    counts: Counter[str] = Counter()
    for sample in planned:
        record = records.get(sample.key)
        if not _current(record, sample):
            counts["missing"] += 1
        elif record.status != "ok":
            counts[record.status] += 1
        elif any(key not in record.values for key in needed):
            counts["skipped"] += 1  # scored, but without this statistic's inputs (e.g. no ground truth)
        else:
            items.append(record.values)
            by_set.setdefault(sample.set, []).append(record.values)
    point_and_ci = _set_statistic_with_ci(statistic, seed, n_resamples)
    value, ci = point_and_ci(items) if items else (None, None)
    per_set = {}
    for name, group in sorted(by_set.items()):
        # A population of one set is that set: the same statistic, not computed twice.
        point, set_ci = (value, ci) if len(by_set) == 1 else point_and_ci(group)
        per_set[name] = SetResult(value=point, n=len(group), ci95=list(set_ci) if set_ci else None)
    return MetricResult(
        name=field.name,
        protocol=field.protocol_for(protocol),
        direction=field.direction,
        value=value,
        n=len(items),
        n_skipped=counts["skipped"],
        n_failed=counts["failed"],
        n_missing=counts["missing"],
        ci95=list(ci) if ci else None,
        unit=field.unit,
        aggregation=SET_STATISTIC,
        per_set=per_set,
        quantity=field.quantity,
        kind="set",
        sets=list(sets) if sets is not None else None,
    )


def _item_field_value(record: ScoreRecord, field: MetricField) -> float | None:
    return _finite(record.values.get(field.name, record.value if field.name == record.metric else None))


def _seed_cells(
    records: Mapping[str, ScoreRecord], planned: Sequence[PlannedSample], field: MetricField
) -> tuple[dict[str, dict[int, float]], dict[str, str], list[int], Counter[str]]:
    """(item → seed → value, item → set, seeds in planned order, coverage counts) of a multi-seed field."""
    cells: dict[str, dict[int, float]] = {}
    item_set: dict[str, str] = {}
    seeds: list[int] = []
    counts: Counter[str] = Counter()
    for sample in planned:
        if sample.run_seed is not None and sample.run_seed not in seeds:
            seeds.append(sample.run_seed)
        record = records.get(sample.key)
        if not _current(record, sample):
            counts["missing"] += 1
            continue
        if record.status != "ok":
            counts[record.status] += 1
            continue
        value = _item_field_value(record, field)
        if value is None:
            counts["skipped"] += 1
            continue
        item_set.setdefault(sample.id, sample.set)
        cells.setdefault(sample.id, {})[int(sample.run_seed or 0)] = value
    return cells, item_set, seeds, counts


def _matrix(cells: Mapping[str, Mapping[int, float]], items: Sequence[str], seeds: Sequence[int]) -> list:
    return [[cells[i].get(s, math.nan) for s in seeds] for i in items]


def _aggregate_field_seeds(
    records: Mapping[str, ScoreRecord],
    planned: Sequence[PlannedSample],
    field: MetricField,
    protocol: str,
    aggregation: str,
    seed: int,
    n_resamples: int,
    sets: Sequence[str] | None,
) -> MetricResult:
    """A per-item field of a multi-seed run: mean over seeds, item bootstrap CI, between-seed sd."""
    cells, item_set, seeds, counts = _seed_cells(records, planned, field)
    items = list(cells)  # planned (benchmark) order
    per_set: dict[str, SetResult] = {}
    for name in sorted(set(item_set.values())):
        mine = [i for i in items if item_set[i] == name]
        est = seed_estimate(_matrix(cells, mine, seeds), seeds, seed=seed, n_resamples=n_resamples)
        per_set[name] = SetResult(value=est.value, n=est.n, ci95=list(est.ci95), seed_sd=est.seed_sd)
    value = ci = sd = None
    per_seed: dict[str, float | None] = {str(s): None for s in seeds}
    n = 0
    if items:
        labels = [item_set[i] for i in items] if aggregation == PER_SET_MEANS else None
        est = seed_estimate(_matrix(cells, items, seeds), seeds, labels, seed, n_resamples)
        value, ci, sd, n = est.value, list(est.ci95), est.seed_sd, est.n
        per_seed = {str(s): v for s, v in est.per_seed.items()}
    return MetricResult(
        name=field.name,
        protocol=field.protocol_for(protocol),
        direction=field.direction,
        value=value,
        n=n,
        n_skipped=counts["skipped"],
        n_failed=counts["failed"],
        n_missing=counts["missing"],
        ci95=ci,
        unit=field.unit,
        aggregation=aggregation,
        per_set=per_set,
        quantity=field.quantity,
        sets=list(sets) if sets is not None else None,
        seeds=list(seeds),
        seed_sd=sd,
        per_seed=per_seed,
    )


def _aggregate_set_field_seeds(
    records: Mapping[str, ScoreRecord],
    planned: Sequence[PlannedSample],
    field: MetricField,
    protocol: str,
    seed: int,
    n_resamples: int,
    sets: Sequence[str] | None,
) -> MetricResult:
    """A set-level statistic of a multi-seed run: per seed over its items, mean over seeds, item bootstrap."""
    statistic = set_statistic(field)
    rows: dict[str, dict[int, Mapping[str, Any]]] = {}
    item_set: dict[str, str] = {}
    seeds: list[int] = []
    counts: Counter[str] = Counter()
    for sample in planned:
        if sample.run_seed is not None and sample.run_seed not in seeds:
            seeds.append(sample.run_seed)
        record = records.get(sample.key)
        if not _current(record, sample):
            counts["missing"] += 1
        elif record.status != "ok":
            counts[record.status] += 1
        else:
            item_set.setdefault(sample.id, sample.set)
            rows.setdefault(sample.id, {})[int(sample.run_seed or 0)] = record.values
    n = sum(len(r) for r in rows.values())
    per_set = {}
    for name in sorted(set(item_set.values())):
        group = [rows[i] for i in rows if item_set[i] == name]
        v, ci, _, sd = seed_statistic_estimate(group, seeds, statistic, seed, n_resamples)
        per_set[name] = SetResult(
            value=v, n=sum(len(r) for r in group), ci95=list(ci) if ci else None, seed_sd=sd
        )
    value = ci = sd = None
    per_seed: dict[str, float | None] = {str(s): None for s in seeds}
    if rows:
        value, ci_t, per, sd = seed_statistic_estimate(
            list(rows.values()), seeds, statistic, seed, n_resamples
        )
        ci = list(ci_t) if ci_t else None
        per_seed = {str(s): v for s, v in per.items()}
    return MetricResult(
        name=field.name,
        protocol=field.protocol_for(protocol),
        direction=field.direction,
        value=value,
        n=n,
        n_skipped=counts["skipped"],
        n_failed=counts["failed"],
        n_missing=counts["missing"],
        ci95=ci,
        unit=field.unit,
        aggregation=SET_STATISTIC,
        per_set=per_set,
        quantity=field.quantity,
        kind="set",
        sets=list(sets) if sets is not None else None,
        seeds=list(seeds),
        seed_sd=sd,
        per_seed=per_seed,
    )


def aggregate_metric(
    scores_path,
    metric: str,
    fields: Sequence[MetricField],
    planned: Sequence[PlannedSample],
    aggregation: str,
    seed: int = 0,
    rules: Mapping[str, FieldRule] | None = None,
) -> dict[str, MetricResult]:
    """Every field of one metric from its scores file; protocols must agree across the planned samples.

    `rules` (by field name) are the benchmark's per-field population and aggregation (FieldRule).
    """
    records = latest_by_id(load_score_records(scores_path))
    planned_keys = {p.key for p in planned}
    protocols = Counter(r.protocol for key, r in records.items() if key in planned_keys)
    if len(protocols) > 1:
        raise InvalidValue(
            f"{scores_path}: scores of different protocols are mixed ({dict(protocols)}); "
            f"rescore with one protocol (nava-eval score --metrics {metric}) before aggregating"
        )
    protocol = next(iter(protocols)) if protocols else "unscored"
    out = {}
    for f in fields:
        rule = (rules or {}).get(f.name, FieldRule())
        out[f.name] = aggregate_field(
            records, planned, f, protocol, rule.aggregation or aggregation, seed, sets=rule.sets
        )
    return out


def build_results(
    *,
    run_name: str,
    benchmark: str,
    model: str,
    metrics: dict[str, MetricResult],
    n_samples: int,
    smoke: bool,
    params_b: float | None,
    preset: str | None,
    spec: dict,
    provenance: Provenance | None,
    created_at: str,
    notes: Sequence[str] = (),
    origin: str = "generated",
    n_outputs: int | None = None,
    seeds: Sequence[int] | None = None,
) -> Results:
    """The results.json object (kept as a function so every writer fills the same fields)."""
    all_notes = list(notes)
    if smoke:
        all_notes.insert(0, "smoke: random weights, numbers are not meaningful")
    return Results(
        run_name=run_name,
        benchmark=benchmark,
        model=model,
        metrics=metrics,
        params_b=params_b,
        preset=preset,
        smoke=smoke,
        n_samples=n_samples,
        created_at=created_at,
        notes=all_notes,
        spec=spec,
        provenance=provenance,
        origin=origin,  # type: ignore[arg-type]
        n_outputs=n_outputs,
        seeds=list(seeds) if seeds else None,
    )
