"""NAVA's user study (human GSB votes), shown beside the metric table by `report --published`.

Filled from the per-pair counts in reports/user_study.csv (see that module once counts are stored).
"""

from __future__ import annotations

STUDY_HEADERS = ("pair", "votes", "win", "tie", "lose", "source")


def study_rows() -> list[list[str]]:
    return []


def study_notes() -> list[str]:
    return []
