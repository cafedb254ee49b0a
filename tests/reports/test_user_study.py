"""NAVA's GSB user study: stored counts, bootstrap CIs over votes, shown by `report --published`."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from nava_eval.reports.user_study import bootstrap_pair, load_study, study_results
from nava_eval.runners.cli.main import cli


def test_counts_are_per_pair_with_their_source() -> None:
    frame = load_study()
    assert list(frame["baseline_key"]) == ["ovi", "mova", "ltx", "davinci"]
    assert (frame["votes"] == 250).all() and int(frame["votes"].sum()) == 1000
    assert frame.set_index("baseline_key").loc["ltx", ["win", "tie", "lose"]].tolist() == [83, 57, 110]
    assert all("data/votes.jsonl (commit 69599c9" in s for s in frame["source"])


def test_bootstrap_ci_matches_the_binomial_spread() -> None:
    draws, net = bootstrap_pair(119, 56, 75)
    assert draws.shape == (10_000, 3) and abs(draws.sum(axis=1) - 1).max() < 1e-12
    p = 119 / 250
    assert abs(draws[:, 0].std() - math.sqrt(p * (1 - p) / 250)) < 0.002
    assert abs(net.mean() - (119 - 75) / 250) < 0.003
    again, _ = bootstrap_pair(119, 56, 75)
    assert (again == draws).all()  # seeded


def test_results_and_report_rows() -> None:
    ltx = next(r for r in study_results() if r.baseline == "LTX 2.3")
    assert ltx.shares == (83 / 250, 57 / 250, 110 / 250)
    for share, (lo, hi) in zip(ltx.shares, ltx.ci, strict=True):
        assert lo < share < hi and hi - lo < 0.15
    result = CliRunner().invoke(cli, ["report", "--published"])
    assert result.exit_code == 0, result.output
    assert re.search(r"\| LTX 2\.3 +\| 83/57/110 +\| 33 \[\d\d, \d\d\] +\| 23 \[", result.output)
    assert (
        "User study"
        not in CliRunner().invoke(cli, ["report", "--published", "--benchmark", "seedtts"]).output
    )


def test_counts_that_do_not_add_up_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "study.csv"
    bad.write_text("study,baseline,baseline_key,win,tie,lose,votes,source\nx,Ovi 1.1,ovi,1,1,1,4,s\n")
    with pytest.raises(ValueError, match="win \\+ tie \\+ lose != votes for Ovi 1.1"):
        load_study(bad)
