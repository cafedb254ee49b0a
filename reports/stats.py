"""Bootstrap confidence intervals for per-sample metric values, seeded so tables are reproducible.

Percentile bootstrap of the mean: draw `n_resamples` samples of size n with replacement, take each
mean, report the 2.5th and 97.5th percentiles. A benchmark that aggregates as the "mean of per-set
means" is resampled within each set (sets keep their sizes), so the interval describes the number
that is actually reported. The paired variant resamples sample *ids* and applies the same draw to
both runs, which is what makes a delta between two runs on the same prompts tight.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
# Bounds the index matrix to ~64 MB of int64 whatever the sample count.
_MAX_CELLS = 8_000_000

PER_SET_MEANS = "mean of per-set means"


def _as_array(values: Sequence[float] | np.ndarray, what: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"bootstrap needs at least one value in {what}; got none")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(
            f"{what} contains {bad} non-finite value(s); only status-ok scores may be bootstrapped"
        )
    return arr


def _resampled_means(arr: np.ndarray, rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    """Means of `n_resamples` resamples of `arr` with replacement, drawn in row chunks."""
    n = arr.size
    rows = max(1, _MAX_CELLS // n)
    out = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, rows):
        stop = min(n_resamples, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = arr[idx].mean(axis=1)
    return out


def _percentiles(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(stats, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return float(lo), float(hi)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of `values` (default: 95 %, 1000 resamples, seed 0).

    Equivalent to `rng = np.random.default_rng(seed)`, `idx = rng.integers(0, n, (n_resamples, n))`,
    `np.percentile(values[idx].mean(1), [2.5, 97.5])`.
    """
    arr = _as_array(values)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    return _percentiles(_resampled_means(arr, rng, n_resamples), confidence)


def grouped_resampled_means(
    groups: Mapping[str, Sequence[float] | np.ndarray], rng: np.random.Generator, n_resamples: int
) -> np.ndarray:
    """Bootstrap distribution of the mean of per-set means, resampling inside each set (sorted set order)."""
    if not groups:
        raise ValueError("bootstrap needs at least one set; got none")
    per_set = [
        _resampled_means(_as_array(groups[name], f"set {name!r}"), rng, n_resamples)
        for name in sorted(groups)
    ]
    return np.mean(np.stack(per_set), axis=0)


def bootstrap_ci_grouped(
    groups: Mapping[str, Sequence[float] | np.ndarray],
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """CI of the mean of per-set means; each set is resampled with its own size, in sorted set order."""
    rng = np.random.default_rng(seed)
    return _percentiles(grouped_resampled_means(groups, rng, n_resamples), confidence)


def mean_of_set_means(groups: Mapping[str, Sequence[float] | np.ndarray]) -> float:
    """The point estimate that `bootstrap_ci_grouped` brackets."""
    return float(np.mean([_as_array(groups[name], f"set {name!r}").mean() for name in sorted(groups)]))


def bootstrap_ci_statistic(
    items: Sequence[object],
    statistic: Callable[[Sequence[object]], float],
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    around: float | None = None,
) -> tuple[float, float] | None:
    """Bootstrap CI of a statistic of a whole set of items (e.g. a Fréchet distance).

    Items are resampled with replacement, `statistic` is evaluated on each resample. Resamples on
    which the statistic is undefined (it raises ValueError or returns a non-finite number) are
    dropped; None when fewer than half remain, since such an interval would describe another number.
    Percentile interval by default; with `around` (the point estimate), the normal interval
    `around ± z·sd` of the resampled statistics — for statistics whose resamples are biased, as a
    Fréchet distance is (duplicated items shrink the covariance cross term), so the percentile
    interval can miss the estimate altogether.
    """
    if not items:
        raise ValueError("bootstrap needs at least one item; got none")
    return bootstrap_ci_indices(
        len(items), lambda idx: statistic([items[i] for i in idx]), seed, n_resamples, confidence, around
    )


def bootstrap_ci_indices(
    n_items: int,
    statistic_of_indices: Callable[[np.ndarray], float],
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    around: float | None = None,
) -> tuple[float, float] | None:
    """`bootstrap_ci_statistic` with the statistic given the resampled row indices (same draws)."""
    if n_items < 1:
        raise ValueError("bootstrap needs at least one item; got none")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n_items, size=n_items)
        try:
            value = float(statistic_of_indices(idx))
        except ValueError:
            continue
        if np.isfinite(value):
            stats.append(value)
    if len(stats) < n_resamples / 2:
        return None
    if around is None:
        return _percentiles(np.asarray(stats), confidence)
    from scipy.stats import norm

    half = float(norm.ppf(0.5 + confidence / 2.0)) * float(np.std(stats, ddof=1)) if len(stats) > 1 else 0.0
    return around - half, around + half


@dataclass(frozen=True)
class PairedDelta:
    """B − A on the samples both runs scored; significant when the CI excludes 0."""

    delta: float
    ci95: tuple[float, float]
    n: int
    significant: bool
    p_value: float
    value_a: float | None = None  # set-level statistics: each run's value on the paired items
    value_b: float | None = None


def paired_bootstrap(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    sets: Sequence[str] | None = None,
) -> PairedDelta:
    """Paired bootstrap of mean(b) − mean(a); `a[i]` and `b[i]` are the same sample.

    With `sets` (one set name per pair), the statistic is the mean of per-set mean differences,
    resampled within each set. The p-value is the two-sided bootstrap share of resampled deltas on
    the other side of 0 (clipped at 1/n_resamples: a bootstrap cannot claim more precision).
    """
    arr_a, arr_b = _as_array(a, "run A values"), _as_array(b, "run B values")
    if arr_a.shape != arr_b.shape:
        raise ValueError(f"paired bootstrap needs equal lengths, got {arr_a.size} and {arr_b.size}")
    diff = arr_b - arr_a
    rng = np.random.default_rng(seed)
    if sets is None:
        delta = float(diff.mean())
        dist = _resampled_means(diff, rng, n_resamples)
    else:
        if len(sets) != diff.size:
            raise ValueError(f"sets has {len(sets)} entries for {diff.size} pairs")
        labels = np.asarray(list(sets))
        groups = {str(name): diff[labels == name] for name in np.unique(labels)}
        delta = mean_of_set_means(groups)
        dist = grouped_resampled_means(groups, rng, n_resamples)
    lo, hi = _percentiles(dist, confidence)
    below, above = float(np.mean(dist <= 0.0)), float(np.mean(dist >= 0.0))
    p_value = max(min(1.0, 2.0 * min(below, above)), 1.0 / n_resamples)
    return PairedDelta(
        delta=delta, ci95=(lo, hi), n=int(diff.size), significant=bool(lo > 0.0 or hi < 0.0), p_value=p_value
    )


# --- multi-seed runs ---------------------------------------------------------------------------------
#
# A multi-seed run holds one value per (item, seed). The reported number is the mean over seeds of each
# seed's value (the benchmark's own aggregation over items); its CI resamples *items*, each with all of
# its seeds, since an item's seeds share its prompt and are not independent draws. The between-seed
# standard deviation of the per-seed values is reported next to it. With one seed and no gaps these
# reduce exactly (same random draws) to `bootstrap_ci` / `bootstrap_ci_grouped`.


@dataclass(frozen=True)
class SeedEstimate:
    """Mean over seeds, its item-bootstrap CI, the per-seed values and their standard deviation."""

    value: float
    ci95: tuple[float, float]
    per_seed: dict[int, float | None]
    seed_sd: float | None  # ddof 1; None with fewer than two seeds that have a value
    n: int  # (item, seed) cells with a value


def _seed_column_means(matrix: np.ndarray, rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    """(n_resamples, n_seeds): per seed, the mean over resampled rows of that seed's present values."""
    n, n_seeds = matrix.shape
    present = ~np.isnan(matrix)
    filled = np.where(present, matrix, 0.0)
    rows = max(1, _MAX_CELLS // (n * n_seeds))  # = _resampled_means' chunks with one seed: same draws
    out = np.empty((n_resamples, n_seeds), dtype=np.float64)
    for start in range(0, n_resamples, rows):
        stop = min(n_resamples, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:stop] = filled[idx].sum(axis=1) / present[idx].sum(axis=1)
    return out


def _nanmean_last(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN where every entry is NaN (no warning)."""
    present = ~np.isnan(values)
    counts = present.sum(axis=-1)
    sums = np.where(present, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _per_seed_values(matrix: np.ndarray, sets: np.ndarray | None) -> np.ndarray:
    """Each seed's value: the mean over items, or the mean of per-set means (sets without a value left out)."""
    if sets is None:
        return _nanmean_last(matrix.T)
    per_set = [_nanmean_last(matrix[sets == name].T) for name in sorted(set(sets.tolist()))]
    return _nanmean_last(np.stack(per_set, axis=1))


def seed_estimate(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    seeds: Sequence[int],
    sets: Sequence[str] | None = None,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> SeedEstimate:
    """Estimate of a multi-seed run from an (items × seeds) matrix, NaN where an (item, seed) has no value.

    `sets` (one label per item) switches to the mean of per-set means, resampled within each set.
    """
    arr = np.asarray(matrix, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(seeds):
        raise ValueError(f"expected an items × {len(seeds)} seeds matrix, got shape {arr.shape}")
    if np.isinf(arr).any():
        raise ValueError("the seed matrix holds infinite values; only status-ok scores may be bootstrapped")
    arr = arr[~np.isnan(arr).all(axis=1)]  # items with no value for any seed are not in the population
    labels = None
    if sets is not None:
        full = np.asarray(list(sets))
        if full.size != np.asarray(matrix).shape[0]:
            raise ValueError(f"sets has {full.size} labels for {np.asarray(matrix).shape[0]} items")
        labels = full[~np.isnan(np.asarray(matrix, dtype=np.float64)).all(axis=1)]
    if arr.size == 0:
        raise ValueError("bootstrap needs at least one value; got none")
    per_seed = _per_seed_values(arr, labels)
    defined = per_seed[~np.isnan(per_seed)]
    value = float(defined.mean())
    rng = np.random.default_rng(seed)
    if labels is None:
        dist = _nanmean_last(_seed_column_means(arr, rng, n_resamples))
    else:
        per_set = [
            _seed_column_means(arr[labels == name], rng, n_resamples) for name in sorted(set(labels.tolist()))
        ]
        dist = _nanmean_last(_nanmean_last(np.stack(per_set, axis=2)))
    dist = dist[~np.isnan(dist)]
    return SeedEstimate(
        value=value,
        ci95=_percentiles(dist, confidence),
        per_seed={int(s): (None if np.isnan(v) else float(v)) for s, v in zip(seeds, per_seed, strict=True)},
        seed_sd=float(np.std(defined, ddof=1)) if defined.size >= 2 else None,
        n=int((~np.isnan(arr)).sum()),
    )


def mean_seed_statistic(
    rows: Sequence[Mapping[int, object]], seeds: Sequence[int], statistic: Callable[[Sequence[object]], float]
) -> tuple[float | None, dict[int, float | None]]:
    """(mean over seeds of each seed's statistic over its items, per seed); undefined statistics are left out."""
    per: dict[int, float | None] = {}
    for s in seeds:
        items = [row[s] for row in rows if s in row]
        try:
            v = float(statistic(items)) if items else math.nan
        except ValueError:
            v = math.nan
        per[s if s is None else int(s)] = v if math.isfinite(v) else None  # None: a single-seed run's seed
    got = [v for v in per.values() if v is not None]
    return (sum(got) / len(got) if got else None), per


def paired_statistic_bootstrap(
    rows_a: Sequence[Mapping[int, object]],
    seeds_a: Sequence[int],
    rows_b: Sequence[Mapping[int, object]],
    seeds_b: Sequence[int],
    statistic: Callable[[Sequence[object]], float],
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> PairedDelta | None:
    """Paired bootstrap of a set-level statistic (e.g. FD): B − A, resampling the items both runs hold.

    rows_a[i] and rows_b[i] are the same item (run seed → its per-item values); each resample draws the
    same items for both runs, so prompt-to-prompt variation cancels as in `paired_bootstrap`. None when
    the statistic is undefined on the full sets or on more than half the resamples.
    """
    if len(rows_a) != len(rows_b):
        raise ValueError(f"paired rows differ in length: {len(rows_a)} vs {len(rows_b)}")
    if not rows_a:
        raise ValueError("bootstrap needs at least one item; got none")
    value_a, _ = mean_seed_statistic(rows_a, seeds_a, statistic)
    value_b, _ = mean_seed_statistic(rows_b, seeds_b, statistic)
    if value_a is None or value_b is None:
        return None
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(rows_a), size=len(rows_a))
        va, _ = mean_seed_statistic([rows_a[i] for i in idx], seeds_a, statistic)
        vb, _ = mean_seed_statistic([rows_b[i] for i in idx], seeds_b, statistic)
        if va is not None and vb is not None:
            deltas.append(vb - va)
    if len(deltas) < n_resamples / 2:
        return None
    dist = np.asarray(deltas)
    lo, hi = _percentiles(dist, confidence)
    below, above = float(np.mean(dist <= 0.0)), float(np.mean(dist >= 0.0))
    p_value = max(min(1.0, 2.0 * min(below, above)), 1.0 / n_resamples)
    return PairedDelta(
        delta=value_b - value_a,
        ci95=(lo, hi),
        n=len(rows_a),
        significant=bool(lo > 0.0 or hi < 0.0),
        p_value=p_value,
        value_a=value_a,
        value_b=value_b,
    )


def seed_statistic_estimate(
    rows: Sequence[Mapping[int, object]],
    seeds: Sequence[int],
    statistic: Callable[[Sequence[object]], float],
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float | None, tuple[float, float] | None, dict[int, float | None], float | None]:
    """A set-level statistic (e.g. a Fréchet distance) of a multi-seed run: (value, CI, per seed, seed sd).

    `rows` holds one mapping per item: run seed → that (item, seed)'s per-item values. Each seed's
    statistic is computed over its own items; the value is their mean. The CI resamples items with all
    their seeds (None when fewer than half the resamples give a defined value, as
    `bootstrap_ci_statistic`).
    """

    def evaluate(chosen: Sequence[Mapping[int, object]]) -> tuple[float | None, dict[int, float | None]]:
        return mean_seed_statistic(chosen, seeds, statistic)

    if not rows:
        raise ValueError("bootstrap needs at least one item; got none")
    value, per_seed = evaluate(rows)
    got = [v for v in per_seed.values() if v is not None]
    sd = float(np.std(got, ddof=1)) if len(got) >= 2 else None
    if value is None:
        return None, None, per_seed, sd
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(rows), size=len(rows))
        v, _ = evaluate([rows[i] for i in idx])
        if v is not None:
            stats.append(v)
    ci = _percentiles(np.asarray(stats), confidence) if len(stats) >= n_resamples / 2 else None
    return value, ci, per_seed, sd
