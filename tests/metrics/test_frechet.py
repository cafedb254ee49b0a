"""The fast Fréchet distance equals the textbook sqrtm formula; degenerate inputs are errors, not numbers."""

from __future__ import annotations

import numpy as np
import pytest

from nava_eval.metrics.frechet import embedding_set_fd, frechet_distance, frechet_distance_sqrtm


@pytest.mark.parametrize(("n_a", "n_b", "dims"), [(40, 30, 8), (12, 9, 64), (300, 295, 32)])
def test_nuclear_norm_path_equals_sqrtm(n_a: int, n_b: int, dims: int) -> None:
    rng = np.random.default_rng(n_a + dims)
    a = rng.normal(size=(n_a, dims))
    b = rng.normal(loc=0.3, scale=1.5, size=(n_b, dims)) @ rng.normal(size=(dims, dims)) / np.sqrt(dims)
    expected = frechet_distance_sqrtm(a, b)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-7, abs=1e-9)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_identical_and_shifted_sets() -> None:
    a = np.random.default_rng(1).normal(size=(50, 6))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # Shifting every embedding by v moves only the mean term: FD = ‖v‖².
    v = np.arange(6, dtype=float)
    assert frechet_distance(a, a + v) == pytest.approx(float(v @ v), rel=1e-9)


def test_one_embedding_has_no_covariance() -> None:
    # The Verse-Bench toolkit's per-clip FD takes np.cov of one row (all NaN); we refuse instead.
    with pytest.raises(ValueError, match="at least 2 embeddings"):
        frechet_distance(np.ones((1, 4)), np.ones((5, 4)))
    with pytest.raises(ValueError, match="sizes differ"):
        frechet_distance(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="non-finite"):
        frechet_distance(np.full((3, 4), np.nan), np.ones((3, 4)))


def test_reducer_reads_both_embeddings_of_each_item() -> None:
    rng = np.random.default_rng(2)
    gen, ref = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
    items = [
        {"embedding": g.tolist(), "reference_embedding": r.tolist()} for g, r in zip(gen, ref, strict=True)
    ]
    assert embedding_set_fd(items) == pytest.approx(frechet_distance(gen, ref))
    with pytest.raises(ValueError, match="missing"):
        embedding_set_fd([{"embedding": [0.0] * 4}, *items])
