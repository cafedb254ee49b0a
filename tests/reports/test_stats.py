"""Bootstrap CIs agree with a direct numpy computation under the same seed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nava_eval.reports.stats import (
    bootstrap_ci,
    bootstrap_ci_grouped,
    mean_of_set_means,
    paired_bootstrap,
    seed_estimate,
    seed_statistic_estimate,
)


def _direct_ci(values: np.ndarray, seed: int, n_resamples: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(n_resamples, values.size))
    lo, hi = np.percentile(values[idx].mean(axis=1), [2.5, 97.5])
    return float(lo), float(hi)


def test_bootstrap_ci_matches_direct_numpy() -> None:
    values = np.random.default_rng(42).normal(5.0, 2.0, size=137)
    lo, hi = bootstrap_ci(values, seed=0, n_resamples=1000)
    assert (lo, hi) == pytest.approx(_direct_ci(values, 0, 1000), abs=1e-12)
    assert lo < values.mean() < hi
    # The normal approximation says the half-width is about 1.96 * sd / sqrt(n).
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)


def test_bootstrap_ci_is_seeded() -> None:
    values = list(np.linspace(0.0, 1.0, 50) ** 2)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_bootstrap_ci_chunked_draws_equal_one_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    import nava_eval.reports.stats as stats

    values = np.arange(40, dtype=float)
    whole = bootstrap_ci(values, seed=1, n_resamples=300)
    monkeypatch.setattr(stats, "_MAX_CELLS", 40 * 7)  # 7 rows per chunk
    assert bootstrap_ci(values, seed=1, n_resamples=300) == pytest.approx(whole, abs=1e-12)


def test_bootstrap_ci_edge_cases() -> None:
    assert bootstrap_ci([2.5]) == (2.5, 2.5)
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="at least one value"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="non-finite"):
        bootstrap_ci([1.0, float("nan")])


def test_grouped_ci_resamples_within_sets() -> None:
    groups = {"set1": np.array([1.0, 2.0, 3.0, 4.0]), "set2": np.array([10.0, 10.5, 11.0])}
    rng = np.random.default_rng(7)
    per_set = []
    for name in sorted(groups):
        arr = groups[name]
        per_set.append(arr[rng.integers(0, arr.size, size=(500, arr.size))].mean(axis=1))
    expected = np.percentile(np.mean(per_set, axis=0), [2.5, 97.5])
    assert bootstrap_ci_grouped(groups, seed=7, n_resamples=500) == pytest.approx(tuple(expected), abs=1e-12)
    assert mean_of_set_means(groups) == pytest.approx((2.5 + 10.5) / 2)


def test_paired_bootstrap_matches_direct_numpy_and_flags_significance() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(0.0, 1.0, size=80)
    b = a + 0.5 + rng.normal(0.0, 0.1, size=80)  # same prompts, B clearly better
    result = paired_bootstrap(a, b, seed=0, n_resamples=1000)
    diff = b - a
    assert result.delta == pytest.approx(diff.mean())
    assert result.ci95 == pytest.approx(_direct_ci(diff, 0, 1000), abs=1e-12)
    assert result.significant and result.n == 80
    assert result.p_value == pytest.approx(1e-3)

    noise = paired_bootstrap(a, a + rng.normal(0.0, 1.0, size=80), seed=0)
    assert noise.ci95[0] < 0 < noise.ci95[1]
    assert not noise.significant
    assert noise.p_value > 0.05


def test_paired_bootstrap_grouped_and_length_mismatch() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    b = a + np.array([1.0, 1.0, 3.0, 3.0, 3.0])
    result = paired_bootstrap(a, b, sets=["x", "x", "y", "y", "y"])
    assert result.delta == pytest.approx((1.0 + 3.0) / 2)  # mean of per-set mean deltas
    assert result.ci95 == pytest.approx((2.0, 2.0))
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([1.0, 2.0], [1.0])


def test_reports_never_import_torch() -> None:
    code = (
        "import sys\n"
        "import nava_eval.reports.stats, nava_eval.rundir.records, nava_eval.rundir.files\n"
        "import importlib.util\n"
        "for name in ('nava_eval.reports.tables', 'nava_eval.reports.regression', 'nava_eval.reports.render', 'nava_eval.reports.leaderboard',"
        " 'nava_eval.reports.compare', 'nava_eval.reports.per_sample', 'nava_eval.runners.cli.check', 'nava_eval.runners.cli.compare',"
        " 'nava_eval.runners.cli.submit', 'nava_eval.runners.cli.validate_submission'):\n"
        "    if importlib.util.find_spec(name) is not None:\n"
        "        __import__(name)\n"
        "assert 'torch' not in sys.modules, 'torch was imported by reports'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr


def test_statistic_bootstrap_draws_like_the_mean_bootstrap() -> None:
    from nava_eval.reports.stats import bootstrap_ci_statistic

    values = [0.3, 1.2, 2.2, 0.9, 4.0, 1.1]
    # Same generator, one row of indices per resample: for the mean it is the same interval.
    assert bootstrap_ci_statistic(
        values, lambda xs: float(np.mean(xs)), seed=3, n_resamples=200
    ) == pytest.approx(bootstrap_ci(values, seed=3, n_resamples=200), abs=1e-12)


def test_statistic_bootstrap_gives_up_when_the_statistic_is_mostly_undefined() -> None:
    from nava_eval.reports.stats import bootstrap_ci_statistic

    def needs_distinct(xs):
        if len(set(xs)) < 3:
            raise ValueError("too few distinct items")
        return float(np.mean(xs))

    assert bootstrap_ci_statistic([1.0, 2.0], needs_distinct) is None
    with pytest.raises(ValueError, match="at least one item"):
        bootstrap_ci_statistic([], needs_distinct)


# --- multi-seed estimates ---------------------------------------------------------------------------


def _direct_seed_ci(matrix: np.ndarray, seed: int, n_resamples: int) -> tuple[float, float]:
    """Items resampled with all their seeds: per resample, each seed's mean over its present values, then the mean."""
    rng = np.random.default_rng(seed)
    n = matrix.shape[0]
    stats = []
    idx_all = rng.integers(0, n, size=(n_resamples, n))
    for idx in idx_all:
        sample = matrix[idx]
        per_seed = [
            np.nanmean(sample[:, s]) for s in range(matrix.shape[1]) if np.isfinite(sample[:, s]).any()
        ]
        stats.append(np.mean(per_seed))
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def test_seed_estimate_with_one_seed_is_the_ordinary_bootstrap() -> None:
    values = np.random.default_rng(1).normal(7.0, 1.5, size=53)
    est = seed_estimate(values[:, None], [100], seed=0, n_resamples=1000)
    assert est.value == pytest.approx(values.mean()) and est.seed_sd is None and est.n == 53
    assert est.ci95 == bootstrap_ci(values, seed=0, n_resamples=1000)  # identical draws, not just close
    sets = ["a"] * 20 + ["b"] * 33
    grouped = seed_estimate(values[:, None], [100], sets, seed=2, n_resamples=500)
    groups = {"a": values[:20], "b": values[20:]}
    assert grouped.ci95 == bootstrap_ci_grouped(groups, seed=2, n_resamples=500)
    assert grouped.value == pytest.approx(mean_of_set_means(groups))


def test_seed_estimate_mean_over_seeds_sd_between_seeds_and_item_bootstrap() -> None:
    rng = np.random.default_rng(7)
    item_effect = rng.normal(0.0, 1.0, size=(40, 1))
    seed_effect = np.array([[0.0, 0.3, -0.2]])
    matrix = 5.0 + item_effect + seed_effect + rng.normal(0.0, 0.1, size=(40, 3))
    matrix[3, 1] = np.nan  # (item 3, seed 101) failed to generate
    est = seed_estimate(matrix, [100, 101, 102], seed=0, n_resamples=400)
    per_seed = [np.nanmean(matrix[:, s]) for s in range(3)]
    assert est.per_seed == pytest.approx(dict(zip([100, 101, 102], per_seed, strict=True)))
    assert est.value == pytest.approx(np.mean(per_seed))
    assert est.seed_sd == pytest.approx(np.std(per_seed, ddof=1))
    assert est.n == 119
    assert est.ci95 == pytest.approx(_direct_seed_ci(matrix, 0, 400), abs=1e-12)
    # Resampling items (not item-seed cells) keeps the item effect in the CI: as wide as the item spread says.
    half = 1.96 * item_effect.std(ddof=1) / np.sqrt(40)
    assert (est.ci95[1] - est.ci95[0]) / 2 == pytest.approx(half, rel=0.3)


def test_seed_statistic_estimate_per_seed_statistic_then_mean() -> None:
    rows = [{100: {"v": float(i)}, 101: {"v": float(i) * 2}} for i in range(12)]
    rows[0] = {100: {"v": 0.0}}  # item 0 has no seed-101 output

    def variance(items):
        if len(items) < 2:
            raise ValueError("too few")
        return float(np.var([x["v"] for x in items]))

    value, ci, per_seed, sd = seed_statistic_estimate(rows, [100, 101], variance, seed=0, n_resamples=200)
    v100 = np.var(np.arange(12.0))
    v101 = np.var(np.arange(1, 12) * 2.0)
    assert per_seed == pytest.approx({100: v100, 101: v101})
    assert value == pytest.approx((v100 + v101) / 2) and sd == pytest.approx(np.std([v100, v101], ddof=1))
    assert ci is not None and ci[0] < value < ci[1]
    with pytest.raises(ValueError, match="at least one item"):
        seed_statistic_estimate([], [100], variance)
