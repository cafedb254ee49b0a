"""What a direction means: arrows, words, the best value, improvement and the gate's "worse by"."""

from __future__ import annotations

import pytest

from nava_eval import direction


def test_each_direction_reads_and_ranks_its_own_way() -> None:
    assert [direction.arrow(d) for d in ("higher", "lower", "neutral")] == ["↑", "↓", "↕"]
    assert direction.describe("lower") == "lower is better"
    assert "neither higher nor lower" in direction.describe("neutral")
    assert direction.best([1.0, 3.0, 2.0], "higher") == 3.0
    assert direction.best([1.0, 3.0, 2.0], "lower") == 1.0
    assert direction.best([1.0, 3.0, 2.0], "neutral") is None
    assert direction.best([], "higher") is None


def test_improvement_and_worsening() -> None:
    assert direction.improved(0.5, "higher") is True and direction.improved(0.5, "lower") is False
    assert direction.improved(0.5, "neutral") is None
    assert direction.worsened_by(-0.5, "higher") == 0.5
    assert direction.worsened_by(-0.5, "lower") == -0.5
    # A level moving either way is a change the gate must see.
    assert direction.worsened_by(-0.5, "neutral") == 0.5 == direction.worsened_by(0.5, "neutral")


def test_an_unknown_direction_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: higher, lower, neutral"):
        direction.arrow("up")
