"""Bootstrap confidence intervals for per-sample metric values, seeded so tables are reproducible.

Percentile bootstrap of the mean: draw `n_resamples` samples of size n with replacement, take each
mean, report the 2.5th and 97.5th percentiles. A benchmark that aggregates as the "mean of per-set
means" is resampled within each set (sets keep their sizes), so the interval describes the number
that is actually reported. The paired variant resamples sample *ids* and applies the same draw to
both runs, which is what makes a delta between two runs on the same prompts tight.
"""

from __future__ import annotations

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
