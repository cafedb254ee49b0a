"""Paired comparison of two runs: delta, CI against a direct numpy bootstrap, significance, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from nava_eval.reports.compare import compare_runs, render_comparison
from nava_eval.runners.commands.compare import command

RNG = np.random.default_rng(11)
BASE = RNG.normal(7.0, 1.0, size=30)


def _sets(values: np.ndarray) -> dict[str, list[float]]:
    return {"set1": list(values[:20]), "set3": list(values[20:])}


def test_paired_delta_matches_direct_bootstrap(make_run) -> None:
    better = BASE + 0.4 + RNG.normal(0.0, 0.05, size=30)
    a = make_run("a", {"sync_c": _sets(BASE), "sync_d": _sets(BASE)})
    b = make_run("b", {"sync_c": _sets(better), "sync_d": _sets(BASE + RNG.normal(0.0, 0.5, size=30))})
    result = compare_runs(a, b)
    sync_c, sync_d = result.metrics
    assert sync_c.field == "sync_c" and sync_c.n_common == 30
    # Ids are set1-000.. then set3-000..; common ids are sorted, which is this same order.
    diff = better - BASE
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 30, size=(1000, 30))
    expected = np.percentile(diff[idx].mean(axis=1), [2.5, 97.5])
    assert sync_c.delta == pytest.approx(diff.mean())
    assert sync_c.ci95 == pytest.approx(tuple(expected), abs=1e-12)
    assert sync_c.significant and sync_c.better == "B"
    # sync_d noise around the same values: CI straddles 0.
    assert sync_d.ci95[0] < 0 < sync_d.ci95[1] and not sync_d.significant and sync_d.better is None

    text = render_comparison(result)
    assert "B better" in text and "not significant" in text


def test_lower_is_better_direction_and_partial_overlap(make_run) -> None:
    a = make_run("a", {"sync_d": {"set1": [8.0, 8.2, 7.9, 8.1, 8.3]}})
    b = make_run("b", {"sync_d": {"set1": [7.0, 7.1, 6.8, 7.2]}})  # lower distance: B better; one id missing
    (row,) = compare_runs(a, b).metrics
    assert row.n_common == 4 and row.n_a == 5 and row.n_b == 4
    assert row.delta == pytest.approx(np.mean([7.0, 7.1, 6.8, 7.2]) - np.mean([8.0, 8.2, 7.9, 8.1]))
    assert row.better == "B"
    assert "1 sample(s) scored by only one run" in row.note


def test_protocol_mismatch_and_benchmark_mismatch(make_run) -> None:
    a = make_run("a", {"sync_c": {"set1": [1.0, 2.0]}})
    b = make_run("b", {"sync_c": {"set1": [1.0, 2.0]}}, protocols={"sync_c": "sync/other-v2"})
    (row,) = compare_runs(a, b).metrics
    assert row.delta is None and "different protocols" in row.note
    c = make_run("c", {"wer": {"en": [1.0]}}, benchmark="seedtts")
    with pytest.raises(ValueError, match="different benchmarks"):
        compare_runs(a, c)


def test_cli_json_and_smoke_banner(make_run) -> None:
    a = make_run("a", {"sync_c": {"set1": [1.0, 2.0, 3.0]}}, smoke=True)
    b = make_run("b", {"sync_c": {"set1": [2.0, 3.0, 4.0]}}, smoke=True)
    out = CliRunner().invoke(command, [str(a), str(b), "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["banner"] == "smoke: random weights, numbers are not meaningful"
    assert data["metrics"][0]["delta"] == pytest.approx(1.0)
    assert data["metrics"][0]["ci95"] == pytest.approx([1.0, 1.0])
    md = CliRunner().invoke(command, [str(a), str(b)])
    assert "smoke: random weights" in md.output and "B better" in md.output


def test_unknown_field_and_a_flipped_direction(make_run) -> None:
    a = make_run("a", {"sync_d": {"set1": [8.0, 8.2, 7.9]}})
    b = make_run("b", {"sync_d": {"set1": [7.0, 7.1, 6.8]}})
    with pytest.raises(ValueError, match="nosuch: not scored in either run"):
        compare_runs(a, b, fields=["nosuch"])
    results = json.loads((a / "results.json").read_text())
    results["metrics"]["sync_d"]["direction"] = "higher"  # a run's file does not decide which way is better
    (a / "results.json").write_text(json.dumps(results))
    (row,) = compare_runs(a, b).metrics
    assert row.direction == "lower"
