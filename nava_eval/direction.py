"""Which way a metric's value is better: the one home of what a direction means to a reader.

Most fields have a better end ("higher" for a quality score, "lower" for a distance). Some are a
level to read, not to rank: RMS amplitude and LUFS loudness say how loud a clip is, and neither a
louder nor a quieter model is better. Those are "neutral": tables mark no best value, comparisons
name no winner, and a regression gate flags a change beyond the tolerance in either direction.

Every view (tables, paper view, compare, check, ls, plots, per-sample pages, leaderboard) asks here
instead of testing `== "higher"`, so a neutral field is never silently ranked as higher-is-better.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Direction = Literal["higher", "lower", "neutral"]
DIRECTIONS: tuple[str, ...] = ("higher", "lower", "neutral")

_ARROWS = {"higher": "↑", "lower": "↓", "neutral": "↕"}
_WORDS = {
    "higher": "higher is better",
    "lower": "lower is better",
    "neutral": "a level to read: neither higher nor lower is better",
}


def check(direction: str) -> str:
    """`direction` itself, or ValueError naming the valid ones (a programming error in a declaration)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; valid: {', '.join(DIRECTIONS)}")
    return direction


def arrow(direction: str) -> str:
    """↑, ↓, or ↕ for a neutral level."""
    return _ARROWS[check(direction)]


def describe(direction: str) -> str:
    """The direction in words, for `ls`, plot axes and footnotes."""
    return _WORDS[check(direction)]


def ranks(direction: str) -> bool:
    """Whether values of this direction have a best end (tables bold it, compare names a winner)."""
    return check(direction) != "neutral"


def best(values: Iterable[float], direction: str) -> float | None:
    """The best of `values` (None for a neutral field, or no values)."""
    vals = list(values)
    if not vals or not ranks(direction):
        return None
    return max(vals) if direction == "higher" else min(vals)


def improved(delta: float, direction: str) -> bool | None:
    """Whether a change of `delta` (new − old) is an improvement; None for a neutral field."""
    if not ranks(direction):
        return None
    return (delta > 0) == (direction == "higher")


def worsened_by(delta: float, direction: str) -> float:
    """How much worse a change of `delta` (new − old) is; a neutral level counts any change as worse.

    A regression gate compares this with its tolerance: a higher-is-better field got worse by −delta,
    a lower-is-better one by +delta, and a level (loudness) by |delta|, since a drift either way is a
    change the gate must report.
    """
    if check(direction) == "higher":
        return -delta
    if direction == "lower":
        return delta
    return abs(delta)
