"""THE estimator of a run's numbers: coverage per item and per seed (and, with it, what results.json,
tables, `compare` and `check` count as scored).

Coverage is judged per item and per run seed, never in (item, seed) units: extra seeds must not hide
missing items (a 1-item × 2-seed run covers one item, not two samples of a 2-item benchmark).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from nava_eval.rundir.records import MetricResult


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
