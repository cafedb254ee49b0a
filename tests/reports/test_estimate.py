"""One estimator (reports/estimate.py): results.json and the per-sample tables, compare and check
compute the same numbers under the same staleness rule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nava_eval.metrics.base import metric_entries
from nava_eval.reports.aggregate import aggregate_metric
from nava_eval.reports.estimate import field_estimate, item_estimate
from nava_eval.reports.per_sample import load_run, set_field_rows
from nava_eval.reports.stats import PER_SET_MEANS
from nava_eval.rundir.layout import RunDir
from nava_eval.rundir.records import SampleRecord
from nava_eval.rundir.unit import Unit
from tests.reports.seed_runs import write_seed_run

SYNC_C = [f for f in metric_entries()["sync"].fields if f.name == "sync_c"]
VALUES = {"set1": [7.0, 6.5, 8.25, 5.0], "set3": [6.0, 7.5, 6.75]}


def _units(run: Path, seeds=(None,)) -> tuple[list[Unit], dict[str, str]]:
    sets = {f"{s}-{i:03d}": s for s, vals in VALUES.items() for i in range(len(vals))}
    return [Unit(item, seed) for item in sets for seed in seeds], sets


def _results_json(run: Path, units: list[Unit], sets: dict[str, str], aggregation: str):
    planned = RunDir(run).planned(units, sets)
    return aggregate_metric(run / "scores/sync.jsonl", "sync", SYNC_C, planned, aggregation)["sync_c"]


@pytest.mark.parametrize("aggregation", ["per-item mean", PER_SET_MEANS])
def test_a_score_of_an_output_that_changed_counts_nowhere(make_run, aggregation: str) -> None:
    """The staleness rule is one: a unit whose output is not the recorded bytes (or whose latest record
    failed) has no current score, for results.json and for the tables, compare and check alike."""
    run = make_run("r", {"sync_c": VALUES})
    (run / "outputs/set1/set1-001.mp4").write_bytes(b"replaced by hand")
    rundir = RunDir(run)
    failed = SampleRecord(id="set3-002", set="set3", status="failed", error="RuntimeError: boom")
    rundir.append_sample(failed)
    units, sets = _units(run)
    stored = _results_json(run, units, sets, aggregation)
    assert stored.n == 5 and stored.n_missing == 2
    data = load_run(run)
    estimate = field_estimate(data.scores, "sync_c", aggregation)
    assert estimate is not None
    value, ci, n = estimate
    assert (value, list(ci), n) == (stored.value, stored.ci95, stored.n)  # the same numbers, to the bit
    stale = set(data.issues[data.issues["status"] == "stale"]["id"])
    assert stale == {"set1-001", "set3-002"}


def test_multi_seed_tables_and_results_json_agree_to_the_bit(tmp_path: Path) -> None:
    seeds = (101, 100)  # the run's order, not sorted
    run = write_seed_run(
        tmp_path / "ms",
        {101: VALUES, 100: {"set1": [6.0, math.nan, 8.0, 5.5], "set3": [6.5, 7.0, 6.0]}},
    )
    units, sets = _units(run, seeds)
    for aggregation in ("per-item mean", PER_SET_MEANS):
        stored = _results_json(run, units, sets, aggregation)
        value, ci, n = field_estimate(load_run(run).scores, "sync_c", aggregation)  # type: ignore[misc]
        assert (value, list(ci), n) == (stored.value, stored.ci95, stored.n)
        assert stored.seeds == [101, 100] and n == 13


def test_item_order_decides_the_draw_not_the_file_order() -> None:
    """Units are taken in item order, so the CI depends only on the values (a leaderboard recomputes it)."""
    values = [(Unit(str(i)), "s", float(v)) for i, v in enumerate([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])]
    forward = item_estimate(values, "per-item mean", 0, 500)
    backward = item_estimate(values[::-1], "per-item mean", 0, 500)
    assert forward == backward


def test_single_seed_set_rows_have_no_sentinel_seed(make_run) -> None:
    run = make_run("one", {"sync_c": {"set1": [1.0]}})
    rows = set_field_rows(load_run(run), "sync_c")
    assert all(set(by_seed) <= {None} for by_seed in rows.values())  # None: the run's only seed, never -1
