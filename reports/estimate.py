"""THE estimator of a run's numbers, used by results.json (reports.aggregate), tables, `compare` and
`check`: per-item means, set-level statistics, bootstrap CIs, seeds, coverage, and the one rule for a
stale score.

- A score counts only when it was computed on the unit's current output: the bytes on disk now, which
  must be the ones samples.jsonl recorded (`is_current`). results.json and the per-sample tables
  apply this same rule (reports.per_sample reads the current outputs through nava_eval.rundir).
- Units are taken in item order (`sample_order_key`), so a bootstrap draw depends only on the
  per-unit values: anyone holding them (a table, a leaderboard validating a bundle) gets the same CI.
- Multi-seed runs: the value is the mean over seeds of each seed's value, with the between-seed sd and
  an item bootstrap (items resampled with all their seeds; reports.stats.seed_estimate).
- Coverage is judged per item and per run seed, never in (item, seed) units: extra seeds must not
  hide missing items.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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
from nava_eval.rundir.records import MetricResult, SetResult
from nava_eval.rundir.unit import Unit


def sample_order_key(sample_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then the rest by name: the order the estimator takes units in."""
    return (0, int(sample_id), sample_id) if sample_id.isdigit() else (1, 0, sample_id)


def finite(value: object) -> float | None:
    """A finite number as float; None for anything else (bool, NaN, ±inf, text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def is_current(score_sha256: str | None, output_sha256: str | None) -> bool:
    """Whether a score belongs to the unit's current output (None: the unit has no usable output now).

    A score line without a hash (written by a tool that records none) is taken for the current output.
    """
    return output_sha256 is not None and score_sha256 in (None, output_sha256)


@dataclass(frozen=True)
class Estimate:
    """One field's numbers: value, 95 % CI, n (units), per set; seeds, seed sd and per seed in a multi-seed run."""

    value: float | None
    ci95: list[float] | None
    n: int
    per_set: dict[str, SetResult] = field(default_factory=dict)
    seeds: list[int] | None = None
    seed_sd: float | None = None
    per_seed: dict[str, float | None] = field(default_factory=dict)


UnitValue = tuple[Unit, str, Any]  # (unit, set, the unit's value: a number, or the values a reducer reads)


def _in_item_order(values: Sequence[UnitValue]) -> list[UnitValue]:
    return sorted(values, key=lambda v: sample_order_key(v[0].item))


def item_estimate(
    values: Sequence[UnitValue],
    aggregation: str,
    seed: int,
    n_resamples: int,
    seeds: Sequence[int] | None = None,
) -> Estimate:
    """A per-item field from its current, finite per-unit values.

    `seeds`: a multi-seed run's seeds in the run's order (None or empty: a single-seed run).
    "mean of per-set means" resamples within each set; anything else is the plain per-item mean.
    """
    values = _in_item_order(values)
    if seeds:
        return _item_estimate_seeds(values, list(seeds), aggregation, seed, n_resamples)
    by_set: dict[str, list[float]] = {}
    flat: list[float] = []
    for _, set_name, value in values:
        by_set.setdefault(set_name, []).append(value)
        flat.append(value)
    per_set = {
        name: SetResult(
            value=float(sum(vs) / len(vs)),
            n=len(vs),
            ci95=list(bootstrap_ci(vs, seed, n_resamples)) if vs else None,
        )
        for name, vs in sorted(by_set.items())
    }
    if not flat:
        return Estimate(None, None, 0, per_set)
    if aggregation == PER_SET_MEANS:
        value, ci = mean_of_set_means(by_set), list(bootstrap_ci_grouped(by_set, seed, n_resamples))
    else:
        value, ci = float(sum(flat) / len(flat)), list(bootstrap_ci(flat, seed, n_resamples))
    return Estimate(value, ci, len(flat), per_set)


def _matrix(cells: Mapping[str, Mapping[int, float]], items: Sequence[str], seeds: Sequence[int]) -> list:
    return [[cells[i].get(s, math.nan) for s in seeds] for i in items]


def _item_estimate_seeds(
    values: Sequence[UnitValue], seeds: list[int], aggregation: str, seed: int, n_resamples: int
) -> Estimate:
    cells: dict[str, dict[int | None, float]] = {}
    item_set: dict[str, str] = {}
    for unit, set_name, value in values:
        item_set.setdefault(unit.item, set_name)
        cells.setdefault(unit.item, {})[unit.seed] = value
    items = list(cells)
    per_set: dict[str, SetResult] = {}
    for name in sorted(set(item_set.values())):
        mine = [i for i in items if item_set[i] == name]
        est = seed_estimate(_matrix(cells, mine, seeds), seeds, seed=seed, n_resamples=n_resamples)
        per_set[name] = SetResult(value=est.value, n=est.n, ci95=list(est.ci95), seed_sd=est.seed_sd)
    if not items:
        return Estimate(None, None, 0, per_set, seeds, None, {str(s): None for s in seeds})
    labels = [item_set[i] for i in items] if aggregation == PER_SET_MEANS else None
    est = seed_estimate(_matrix(cells, items, seeds), seeds, labels, seed, n_resamples)
    per_seed = {str(s): v for s, v in est.per_seed.items()}
    return Estimate(est.value, list(est.ci95), est.n, per_set, seeds, est.seed_sd, per_seed)


def _reduce(statistic: Callable[[Sequence[Mapping[str, Any]]], float], items: Sequence[Any]) -> float | None:
    try:
        value = float(statistic(items))
    except ValueError:  # too few items for the statistic (e.g. a covariance of one embedding)
        return None
    return value if math.isfinite(value) else None


def _statistic_with_ci(
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


def set_estimate(
    rows: Sequence[UnitValue],
    statistic: Callable[[Sequence[Mapping[str, Any]]], float],
    seed: int,
    n_resamples: int,
    seeds: Sequence[int] | None = None,
) -> Estimate:
    """A statistic of the whole population (e.g. FD between embedding sets) from each unit's per-item
    values, CI by resampling items; in a multi-seed run per seed over its items, mean over seeds."""
    rows = _in_item_order(rows)
    if seeds:
        return _set_estimate_seeds(rows, list(seeds), statistic, seed, n_resamples)
    items = [values for _, _, values in rows]
    by_set: dict[str, list[Mapping[str, Any]]] = {}
    for _, set_name, values in rows:
        by_set.setdefault(set_name, []).append(values)
    point_and_ci = _statistic_with_ci(statistic, seed, n_resamples)
    value, ci = point_and_ci(items) if items else (None, None)
    per_set = {}
    for name, group in sorted(by_set.items()):
        # A population of one set is that set: the same statistic, not computed twice.
        point, set_ci = (value, ci) if len(by_set) == 1 else point_and_ci(group)
        per_set[name] = SetResult(value=point, n=len(group), ci95=list(set_ci) if set_ci else None)
    return Estimate(value, list(ci) if ci else None, len(items), per_set)


def _set_estimate_seeds(
    rows: Sequence[UnitValue],
    seeds: list[int],
    statistic: Callable[[Sequence[Mapping[str, Any]]], float],
    seed: int,
    n_resamples: int,
) -> Estimate:
    by_item: dict[str, dict[int | None, Mapping[str, Any]]] = {}
    item_set: dict[str, str] = {}
    for unit, set_name, values in rows:
        item_set.setdefault(unit.item, set_name)
        by_item.setdefault(unit.item, {})[unit.seed] = values
    n = sum(len(r) for r in by_item.values())
    per_set = {}
    for name in sorted(set(item_set.values())):
        group = [by_item[i] for i in by_item if item_set[i] == name]
        v, ci, _, sd = seed_statistic_estimate(group, seeds, statistic, seed, n_resamples)
        per_set[name] = SetResult(
            value=v, n=sum(len(r) for r in group), ci95=list(ci) if ci else None, seed_sd=sd
        )
    if not by_item:
        return Estimate(None, None, n, per_set, seeds, None, {str(s): None for s in seeds})
    value, ci_t, per, sd = seed_statistic_estimate(
        list(by_item.values()), seeds, statistic, seed, n_resamples
    )
    per_seed = {str(s): v for s, v in per.items()}
    return Estimate(value, list(ci_t) if ci_t else None, n, per_set, seeds, sd, per_seed)


def field_estimate(
    scores: pd.DataFrame,
    field: str,
    aggregation: str = "per-item mean",
    seed: int = 0,
    n_resamples: int = 1000,
) -> tuple[float, tuple[float, float], int] | None:
    """(value, 95 % CI, n) of one per-item field from a run's per-sample values (reports.per_sample),
    by `item_estimate`: the numbers results.json holds for the same values. None when none is ok."""
    from nava_eval.reports.per_sample import field_values

    sub = field_values(scores, field)
    if sub.empty:
        return None
    values = [
        (Unit(str(row.item), None if _missing(row.seed) else int(row.seed)), str(row.set), float(row.value))
        for row in sub.itertuples()
    ]
    seeds = sorted({u.seed for u, _, _ in values if u.seed is not None})
    est = item_estimate(values, aggregation, seed, n_resamples, seeds or None)
    if est.value is None or est.ci95 is None:
        return None
    return est.value, (est.ci95[0], est.ci95[1]), est.n


@dataclass(frozen=True)
class Coverage:
    """What one field's values cover: distinct items, and the items scored under each run seed.

    `per_seed` is keyed by the run seed (None: the one seed of a single-seed run). `exact` is False
    when a multi-seed run's counts come from results.json alone (units split evenly over its seeds).
    """

    items: int
    per_seed: dict[int | None, int]
    exact: bool = True

    @property
    def multi_seed(self) -> bool:
        return any(seed is not None for seed in self.per_seed)


def values_coverage(values: pd.DataFrame) -> Coverage:
    """Coverage of `reports.per_sample.field_values` rows (columns item, seed)."""
    per_seed: dict[int | None, int] = {}
    for seed, group in values.groupby(
        values["seed"].map(lambda s: None if _missing(s) else int(s)), dropna=False
    ):
        per_seed[None if _missing(seed) else int(seed)] = int(group["item"].nunique())
    return Coverage(int(values["item"].nunique()), per_seed)


def result_coverage(metric: MetricResult) -> Coverage:
    """Coverage from results.json alone: exact for a single-seed run, an even split of units otherwise."""
    if not metric.seeds:
        return Coverage(metric.n, {None: metric.n})
    share = metric.n // len(metric.seeds)
    return Coverage(math.ceil(metric.n / len(metric.seeds)), {s: share for s in metric.seeds}, exact=False)


def coverage_shortfall(run: Coverage, baseline: Coverage, tolerance: float) -> list[str]:
    """What the run lacks against the baseline beyond `tolerance` (a fraction of the baseline's count).

    Items: the run's distinct items against the baseline's. Seeds: each run seed's items against the
    baseline's items under the same seed, or all its items when the baseline lacks that seed.
    """
    unit = "items" if run.multi_seed or baseline.multi_seed else "samples"
    out = []
    if _short(run.items, baseline.items, tolerance):
        out.append(f"{run.items} of the baseline's {baseline.items} {unit} scored")
    for seed, count in sorted(run.per_seed.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        if seed is None:
            continue  # a single-seed run's one seed is its items
        reference = baseline.per_seed.get(seed, baseline.items)
        if _short(count, reference, tolerance):
            out.append(f"seed {seed}: {count} of the baseline's {reference} items scored")
    if out and not (run.exact and baseline.exact):
        out[-1] += " (estimated from results.json: no per-sample scores)"
    return out


def _short(count: int, reference: int, tolerance: float) -> bool:
    return count < reference * (1.0 - tolerance) - 1e-9


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
