"""The regression gate: exit codes on improving / regressing / mismatched runs, tolerances, JUnit, baselines."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from nava_eval.reports.regression import (
    DEFAULT_TOLERANCES,
    EXIT_OK,
    EXIT_REGRESSION,
    EXIT_UNUSABLE,
    Tolerance,
    check,
    parse_tolerance,
    render_check,
)
from nava_eval.runners.cli.check import command

BASE = {"sync_c": {"set3": [7.0, 7.5, 8.0, 7.5]}, "sync_d": {"set3": [7.5, 7.0, 7.2, 7.3]}}


def _shift(values: dict, field: str, by: float) -> dict:
    out = {k: {s: list(v) for s, v in per.items()} for k, per in values.items()}
    out[field] = {s: [x + by for x in v] for s, v in out[field].items()}
    return out


def test_parse_tolerance() -> None:
    assert parse_tolerance("wer=0.5") == ("wer", Tolerance(0.5))
    assert parse_tolerance("sync_c=2%") == ("sync_c", Tolerance(2.0, relative=True))
    assert Tolerance(2.0, relative=True).allowed(7.5) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="METRIC=ABS or METRIC=REL%"):
        parse_tolerance("wer")


def test_improving_run_passes_and_regressing_run_fails(make_run) -> None:
    base = make_run("base", BASE)
    better = make_run("better", _shift(_shift(BASE, "sync_c", +0.5), "sync_d", -0.5))
    result = check(better, base)
    assert result.exit_code == EXIT_OK, render_check(result)
    assert {r.field: r.status for r in result.rows} == {"sync_c": "pass", "sync_d": "pass"}
    row = next(r for r in result.rows if r.field == "sync_d")
    assert row.delta == pytest.approx(-0.5) and row.worse_by == pytest.approx(-0.5)
    assert row.ci95 == pytest.approx((-0.5, -0.5))  # paired on the same ids: a constant shift

    # Sync-D rising (lower is better) by 0.3 > default 0.1 fails; Sync-C unchanged passes.
    worse = make_run("worse", _shift(BASE, "sync_d", +0.3))
    result = check(worse, base)
    assert result.exit_code == EXIT_REGRESSION
    statuses = {r.field: r.status for r in result.rows}
    assert statuses == {"sync_c": "pass", "sync_d": "fail"}
    assert "worse by 0.3" in render_check(result)


def test_within_default_tolerance_and_override(make_run) -> None:
    base = make_run("base", BASE)
    slightly = make_run("slightly", _shift(BASE, "sync_c", -0.05))  # default sync_c tolerance is 0.1
    assert DEFAULT_TOLERANCES["sync_c"] == Tolerance(0.1)
    assert check(slightly, base).exit_code == EXIT_OK
    assert check(slightly, base, ["sync_c=0.01"]).exit_code == EXIT_REGRESSION
    assert check(slightly, base, ["sync_c=1%"]).exit_code == EXIT_OK  # 1 % of 7.5 = 0.075 > 0.05
    unknown = check(slightly, base, ["wer=1"])
    assert unknown.exit_code == EXIT_UNUSABLE and "not in this check" in unknown.errors[0]


def test_mismatched_inputs_exit_2(make_run, tmp_path) -> None:
    base = make_run("base", BASE)
    other_protocol = make_run("proto", BASE, protocols={"sync_c": "sync/other-v9", "sync_d": "sync/other-v9"})
    result = check(other_protocol, base)
    assert result.exit_code == EXIT_UNUSABLE and "different protocols" in result.errors[0]

    tts = make_run("tts", {"wer": {"en": [1.0, 2.0]}}, benchmark="seedtts")
    tts_base = make_run("tts-base", {"wer": {"en": [1.0, 2.0]}}, benchmark="seedtts")
    result = check(tts, base)
    assert result.exit_code == EXIT_UNUSABLE and any("different benchmarks" in e for e in result.errors)
    assert check(tts, tts_base).exit_code == EXIT_OK

    missing = check(tmp_path / "nope", base)
    assert missing.exit_code == EXIT_UNUSABLE and "no such file" in missing.errors[0]
    bad = tmp_path / "bad" / "results.json"
    bad.parent.mkdir()
    bad.write_text('{"schema": "nava-eval/results/v1", "run_name": 3}')
    assert check(bad.parent, base).exit_code == EXIT_UNUSABLE


def test_missing_metric_in_run_fails(make_run) -> None:
    base = make_run("base", BASE)
    partial = make_run("partial", {"sync_c": BASE["sync_c"]})
    result = check(partial, base)
    assert result.exit_code == EXIT_REGRESSION
    row = next(r for r in result.rows if r.field == "sync_d")
    assert row.status == "fail" and "missing in run" in row.message


MOVA_SYNC = {"sync_c": "sync/mova-lse-v1", "sync_d": "sync/mova-lse-v1"}


def test_published_model_baseline(make_run) -> None:
    # Published NAVA on VerseBench: Sync-C 7.7914, Sync-D 7.5655, protocol sync/mova-lse-v1 (inferred).
    good = make_run(
        "good", {"sync_c": {"set1": [7.9, 7.8]}, "sync_d": {"set1": [7.5, 7.4]}}, protocols=MOVA_SYNC
    )
    result = check(good, "nava")
    assert result.exit_code == EXIT_OK, render_check(result)
    assert result.baseline.startswith("NAVA (published, all)")
    row = next(r for r in result.rows if r.field == "sync_c")
    assert row.baseline == pytest.approx(7.7914) and row.delta == pytest.approx(7.85 - 7.7914)

    bad = make_run("bad", {"sync_c": {"set1": [7.0, 7.2]}}, protocols=MOVA_SYNC)
    assert check(bad, "NAVA").exit_code == EXIT_REGRESSION
    # Same numbers under plain syncnet_python's protocol: not comparable with the published column.
    other = make_run("other", {"sync_c": {"set1": [7.9, 7.8]}})
    clash = check(other, "NAVA")
    assert clash.exit_code == EXIT_UNUSABLE
    assert any("different protocols" in e and "sync/mova-lse-v1" in e for e in clash.errors)
    unknown = check(bad, "GPT-9")
    assert unknown.exit_code == EXIT_UNUSABLE and "published models" in unknown.errors[0]


def test_cli_exit_codes_and_junit(make_run, tmp_path) -> None:
    base = make_run("base", BASE)
    worse = make_run("worse", _shift(BASE, "sync_c", -1.0), smoke=True)
    junit = tmp_path / "check.xml"
    out = CliRunner().invoke(command, [str(worse), "--against", str(base), "--junit", str(junit)])
    assert out.exit_code == 1, out.output
    assert "FAIL" in out.output and "smoke: random weights" in out.output
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "2" and suite.get("failures") == "1"
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["sync_c"]

    out = CliRunner().invoke(command, [str(base), "--against", str(base)])
    assert out.exit_code == 0 and "PASS" in out.output
    out = CliRunner().invoke(command, [str(base), "--against", str(base), "--tolerance", "bogus"])
    assert out.exit_code == 2 and "METRIC=ABS" in out.output
    out = CliRunner().invoke(
        command, [str(base), "--against", str(tmp_path / "missing"), "--junit", str(junit)]
    )
    assert out.exit_code == 2
    assert ET.parse(junit).getroot().find("testcase/error") is not None


def _edit_results(run_dir, edit) -> None:
    import json

    path = run_dir / "results.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))  # json.dumps writes NaN / Infinity as bare words, as a bad writer would


def test_non_finite_numbers_are_unusable_never_a_pass(make_run) -> None:
    base = make_run("base", BASE)
    nan_run = make_run("nan", BASE)

    def all_nan(data):
        for metric in data["metrics"].values():
            metric["value"] = float("nan")

    _edit_results(nan_run, all_nan)
    result = check(nan_run, base)
    assert result.exit_code == EXIT_UNUSABLE, render_check(result)
    assert any("sync_c" in e and "not a finite number" in e for e in result.errors)

    inf_run = make_run("inf", BASE)
    _edit_results(inf_run, lambda d: d["metrics"]["sync_d"].__setitem__("value", float("-inf")))
    assert check(inf_run, base).exit_code == EXIT_UNUSABLE
    # A non-finite baseline is as unusable as a non-finite run.
    assert check(base, inf_run).exit_code == EXIT_UNUSABLE


def test_direction_comes_from_the_registry_not_the_candidate(make_run) -> None:
    base = make_run("base", BASE)
    worse = make_run("worse", _shift(BASE, "sync_d", +1.0))  # Sync-D is lower-is-better: this is worse
    _edit_results(worse, lambda d: d["metrics"]["sync_d"].__setitem__("direction", "higher"))
    result = check(worse, base)
    assert result.exit_code == EXIT_UNUSABLE, render_check(result)
    assert any("sync_d" in e and "direction" in e and "lower" in e for e in result.errors)


def test_lost_coverage_fails_beyond_its_tolerance(make_run) -> None:
    base = make_run("base", BASE)  # 4 scored samples per field
    shrunk = make_run("shrunk", {"sync_c": {"set3": [7.0]}, "sync_d": {"set3": [7.5]}})
    result = check(shrunk, base, ["sync_c=10", "sync_d=10"])  # the values alone would pass
    assert result.exit_code == EXIT_REGRESSION, render_check(result)
    row = next(r for r in result.rows if r.field == "sync_c")
    assert row.status == "fail" and "coverage" in row.message and "1 of the baseline's 4" in row.message
    assert check(base, base).exit_code == EXIT_OK
    # Stated tolerance: a fraction of the baseline's scored samples that may go missing.
    assert check(shrunk, base, ["sync_c=10", "sync_d=10"], coverage_tolerance=0.8).exit_code == EXIT_OK


def test_cli_states_and_takes_the_coverage_tolerance(make_run) -> None:
    base = make_run("base", BASE)
    shrunk = make_run("shrunk", {"sync_c": {"set3": [7.0, 7.5, 8.0]}, "sync_d": {"set3": [7.5, 7.0, 7.2]}})
    out = CliRunner().invoke(command, [str(shrunk), "--against", str(base)])
    assert out.exit_code == 1 and "coverage" in out.output
    out = CliRunner().invoke(command, [str(shrunk), "--against", str(base), "--coverage-tolerance", "30%"])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(command, [str(shrunk), "--against", str(base), "--coverage-tolerance", "-1%"])
    assert out.exit_code == 2
