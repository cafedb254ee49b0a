"""A neutral level (MOVA's loudness): never ranked in tables, compare, the gate, per-sample pages or ls."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from nava_eval.errors import InvalidValue
from nava_eval.metrics.base import metric_entry
from nava_eval.reports.compare import compare_runs, render_comparison
from nava_eval.reports.per_sample import load_run
from nava_eval.reports.published import load_published
from nava_eval.reports.regression import EXIT_OK, EXIT_REGRESSION, check
from nava_eval.reports.render import sample_table
from nava_eval.reports.tables import build_table
from nava_eval.runners.cli.main import cli

LOUD = {"set1": [-20.0, -21.0, -19.5, -20.5, -20.2, -19.8]}


def _shift(by: float) -> dict[str, list[float]]:
    return {s: [v + by for v in vals] for s, vals in LOUD.items()}


def test_amplitude_fields_are_declared_neutral() -> None:
    fields = {f.name: f.direction for f in metric_entry("audio_amplitude").fields}
    assert fields == {"amplitude_rms": "neutral", "loudness_lufs": "neutral"}


def test_table_marks_no_best_loudness_but_still_ranks_sync(make_run) -> None:
    a = make_run("a", {"loudness_lufs": LOUD, "sync_c": {"set1": [7.0] * 6}})
    b = make_run("b", {"loudness_lufs": _shift(-3.0), "sync_c": {"set1": [8.0] * 6}})
    table = build_table([a, b], published=False)
    loud = next(c for c in table.columns if c.field == "loudness_lufs")
    sync = next(c for c in table.columns if c.field == "sync_c")
    assert loud.direction == "neutral" and "↕" in loud.header
    assert loud.key not in table.best and table.best[sync.key] == {"NAVA (b)"}


def test_compare_names_no_winner_for_a_level(make_run) -> None:
    a = make_run("a", {"loudness_lufs": LOUD})
    b = make_run("b", {"loudness_lufs": _shift(-3.0)})
    comparison = compare_runs(a, b)
    (row,) = comparison.metrics
    assert row.significant and row.better is None
    assert "differs (a level: no better side)" in render_comparison(comparison)


def test_gate_flags_a_loudness_drift_either_way(make_run) -> None:
    base = make_run("base", {"loudness_lufs": LOUD})
    for name, by in (("louder", +2.0), ("quieter", -2.0)):
        result = check(make_run(name, {"loudness_lufs": _shift(by)}), base, ["loudness_lufs=1"])
        assert result.exit_code == EXIT_REGRESSION, name
        assert result.rows[0].worse_by == pytest.approx(2.0)
    same = check(make_run("same", {"loudness_lufs": _shift(0.5)}), base, ["loudness_lufs=1"])
    assert same.exit_code == EXIT_OK and "within tolerance" in same.rows[0].message


def test_worst_sample_rank_ignores_levels(make_run) -> None:
    # sync_c ranks set1-000 worst; loudness alone would rank set1-005 or set1-000 first either way round.
    run = make_run(
        "r",
        {
            "sync_c": {"set1": [1.0, 5.0, 6.0, 7.0, 8.0, 9.0]},
            "loudness_lufs": {"set1": [0, -1, -2, -3, -4, -60]},
        },
    )
    frame = sample_table(load_run(run))
    assert frame["id"].iloc[0] == "set1-000"
    ranks_without = frame.set_index("id")["worst_rank"]
    assert ranks_without["set1-000"] == 1.0  # only sync_c counted: the lowest Sync-C is rank 1.0


def test_ls_says_a_level_has_no_better_end() -> None:
    out = CliRunner().invoke(cli, ["ls"]).output
    line = next(x for x in out.splitlines() if x.strip().startswith("loudness_lufs"))
    assert "↕" in line and "neither higher nor lower is better" in line and "higher is better;" not in line


def test_published_csv_may_say_neutral_and_nothing_else(tmp_path: Path) -> None:
    from nava_eval.reports.published import published_csv_path

    frame = pd.read_csv(published_csv_path(), dtype=str)
    row = frame.iloc[[0]].copy()
    row["higher_is_better"] = "neutral"
    path = tmp_path / "published.csv"
    row.to_csv(path, index=False)
    assert load_published(path=path)["direction"].tolist() == ["neutral"]
    row["higher_is_better"] = "maybe"
    row.to_csv(path, index=False)
    with pytest.raises(InvalidValue, match="write true, false or neutral") as caught:
        load_published(path=path)
    assert str(path) in str(caught.value)
