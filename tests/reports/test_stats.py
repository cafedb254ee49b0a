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
        "import nava_eval.reports.stats, nava_eval.reports.results, nava_eval.reports.fileio\n"
        "import importlib.util\n"
        "for name in ('nava_eval.reports.tables', 'nava_eval.reports.regression', 'nava_eval.reports.render', 'nava_eval.reports.leaderboard',"
        " 'nava_eval.reports.compare', 'nava_eval.reports.per_sample', 'nava_eval.runners.commands.check', 'nava_eval.runners.commands.compare',"
        " 'nava_eval.runners.commands.submit', 'nava_eval.runners.commands.validate_submission'):\n"
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
