"""Per-sample scores → results.json: coverage counts per planned unit, numbers from reports.estimate.

Coverage is explicit: a unit (item, run seed) planned for a metric is counted once as ok (n), skipped
(the metric's rules exclude it, e.g. no face track), failed (scorer error), or missing (never
generated, never scored, or scored on other bytes). Nothing is dropped silently and nothing is counted
as 0. The values, CIs and seed statistics are the estimator's (reports/estimate.py), the same that
tables, `compare` and `check` compute from the per-sample scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nava_eval.benchmarks.base import FieldRule
from nava_eval.errors import InvalidValue
from nava_eval.metrics.base import MetricField
from nava_eval.reports.estimate import finite, is_current, item_estimate, sample_order_key, set_estimate
from nava_eval.rundir.records import (
    MetricResult,
    Provenance,
    Results,
    ScoreRecord,
    latest_by_unit,
    load_score_records,
)
from nava_eval.rundir.unit import PlannedUnit, Unit

#: results.json `aggregation` of a set-level field.
SET_STATISTIC = "set statistic"


def _current(record: ScoreRecord | None, planned: PlannedUnit) -> bool:
    """A score counts only if it was made on the unit's current output (reports.estimate.is_current)."""
    return record is not None and is_current(record.output_sha256, planned.output_sha256)


def _field_value(record: ScoreRecord, field: MetricField) -> float | None:
    return finite(record.values.get(field.name, record.value if field.name == record.metric else None))


def aggregate_field(
    records: Mapping[Unit, ScoreRecord],
    planned: Sequence[PlannedUnit],
    field: MetricField,
    protocol: str,
    aggregation: str,
    seed: int = 0,
    n_resamples: int = 1000,
    sets: Sequence[str] | None = None,
) -> MetricResult:
    """One results.json entry from the latest score record of every planned unit.

    Each planned unit is counted once: ok (its value goes to the estimator, reports.estimate), skipped,
    failed, or missing. `protocol` is the metric pass's protocol (the field may name its own); `sets`
    restricts the population to the sets the benchmark's protocol aggregates over.
    """
    if sets is not None:
        planned = [p for p in planned if p.set in sets]
    seeds = list(
        dict.fromkeys(p.unit.seed for p in sorted(planned, key=_item_order) if p.unit.seed is not None)
    )
    reducer = set_statistic(field) if field.kind == "set" else None
    needed = tuple(getattr(reducer, "requires", ())) if reducer is not None and not seeds else ()
    values: list[tuple[Unit, str, Any]] = []
    counts: Counter[str] = Counter()
    for unit in planned:
        record = records.get(unit.unit)
        if not _current(record, unit):
            counts["missing"] += 1
        elif record.status != "ok":
            counts[record.status] += 1
        elif reducer is not None:
            if any(key not in record.values for key in needed):
                counts["skipped"] += 1  # scored, but without this statistic's inputs (e.g. no ground truth)
            else:
                values.append((unit.unit, unit.set, record.values))
        elif (value := _field_value(record, field)) is None:
            counts["skipped"] += 1
        else:
            values.append((unit.unit, unit.set, value))
    if reducer is not None:
        est = set_estimate(values, reducer, seed, n_resamples, seeds)
    else:
        est = item_estimate(values, aggregation, seed, n_resamples, seeds)
    return MetricResult(
        name=field.name,
        protocol=field.protocol_for(protocol),
        direction=field.direction,
        value=est.value,
        n=est.n,
        n_skipped=counts["skipped"],
        n_failed=counts["failed"],
        n_missing=counts["missing"],
        ci95=est.ci95,
        unit=field.unit,
        aggregation=SET_STATISTIC if reducer is not None else aggregation,
        per_set=est.per_set,
        quantity=field.quantity,
        kind="set" if reducer is not None else "item",
        sets=list(sets) if sets is not None else None,
        seeds=est.seeds,
        seed_sd=est.seed_sd,
        per_seed=est.per_seed,
    )


def _item_order(planned: PlannedUnit) -> tuple[int, int, str]:
    return sample_order_key(planned.unit.item)


def set_statistic(field: MetricField) -> Callable[[Sequence[Mapping[str, Any]]], float]:
    """The reducer of a set-level field (numpy only: imported without torch)."""
    from nava_eval.lazy import load

    if field.reducer is None:
        raise ValueError(f"metric field {field.name!r} is not a set-level field")
    return load(field.reducer)


def aggregate_metric(
    scores_path,
    metric: str,
    fields: Sequence[MetricField],
    planned: Sequence[PlannedUnit],
    aggregation: str,
    seed: int = 0,
    rules: Mapping[str, FieldRule] | None = None,
) -> dict[str, MetricResult]:
    """Every field of one metric from its scores file; protocols must agree across the planned samples.

    `rules` (by field name) are the benchmark's per-field population and aggregation (FieldRule).
    """
    records = latest_by_unit(load_score_records(scores_path))
    planned_keys = {p.unit for p in planned}
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
