"""Derived metrics: Verse-Bench's Overall against the toolkit's own functions, its refusals, user-defined ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nava_eval.reports.derived import DerivedMetric, Input, derived_metric, load_derived
from nava_eval.reports.derived_versebench import BOUNDS, HIGHER_IS_BETTER, INPUTS, WEIGHTS, overall
from nava_eval.reports.report_text import render_report_text
from nava_eval.reports.rows import build_rows
from nava_eval.rundir.records import MetricResult, Results

REFERENCE = json.loads((Path(__file__).parent / "data" / "versebench_overall.json").read_text())
SMOKE = "+smoke-random-weights"

#: One model's numbers in our units (WER in %), every input of the Overall; LSE-C by syncnet_python.
NUMBERS = {
    ("video_quality", "video-quality/versebench-as-v2"): 0.61,
    ("id", "id/versebench-dinov3-vitl16-v1"): 0.82,
    ("fd", "fd/versebench-clap-perclip-v1"): 0.92,
    ("kl", "kl/versebench-passt-v1"): 1.7,
    ("cs", "cs/versebench-clap-v1"): 0.31,
    ("ce", "audiobox/versebench-aesthetics-v1"): 5.9,
    ("cu", "audiobox/versebench-aesthetics-v1"): 6.4,
    ("pc", "audiobox/versebench-aesthetics-v1"): 3.2,
    ("pq", "audiobox/versebench-aesthetics-v1"): 7.23,
    ("wer", "wer/versebench-sensevoice-v1"): 12.6,
    ("sync_c", "sync/syncnet-lse-v1"): 6.28,
    ("av_a", "av-a/versebench-synchformer-v1"): 0.48,
}


def _results(
    numbers: dict[tuple[str, str], float], name: str = "r", suffix: str = "", smoke: bool = False
) -> Results:
    metrics = {
        f"{field}@{protocol}": MetricResult(
            name=f"{field}@{protocol}", protocol=protocol + suffix, direction="higher", value=value, n=3,
            quantity=field,
        )
        for (field, protocol), value in numbers.items()
    }  # fmt: skip
    return Results(run_name=name, benchmark="versebench", model="NAVA", metrics=metrics, smoke=smoke)


def test_constants_are_the_toolkits() -> None:
    assert {k: {"best": b, "worst": w} for k, (b, w) in BOUNDS.items()} == REFERENCE["bounds"]
    assert sorted(HIGHER_IS_BETTER) == REFERENCE["higher_is_better"]
    assert WEIGHTS == REFERENCE["weights"]
    assert {i.symbol for i in INPUTS} == set(REFERENCE["bounds"])


@pytest.mark.parametrize("case", sorted(REFERENCE["cases"]))
def test_formula_matches_the_toolkit(case: str) -> None:
    ref = REFERENCE["cases"][case]
    ours = overall(ref["inputs"])
    names = {"Overall Score": "versebench_overall", "S_joint": "versebench_s_joint", "S_video": "versebench_s_video",
             "S_audio": "versebench_s_audio", "S_other": "versebench_s_other"}  # fmt: skip
    for theirs, mine in names.items():
        assert ours[mine] == pytest.approx(ref["outputs"][theirs], abs=1e-12), (case, theirs)


def test_all_inputs_give_the_overall_with_the_lse_c_stand_in_named() -> None:
    value = derived_metric("versebench_overall").evaluate({f: {p: v} for (f, p), v in NUMBERS.items()})
    assert value.reason == ""
    assert value.protocol == "overall/versebench-v1+lse-c-syncnet-python"
    symbols = {i.field: i.symbol for i in INPUTS}
    toolkit = {symbols[f]: (v / 100 if f == "wer" else v) for (f, _), v in NUMBERS.items()}
    assert value.values["versebench_overall"] == pytest.approx(
        overall(toolkit)["versebench_overall"], abs=1e-15
    )
    assert value.inputs["WER"] == pytest.approx(0.126)  # % → the toolkit's fraction


def test_missing_input_or_other_protocol_gives_a_reason_not_a_number() -> None:
    metric = derived_metric("versebench_overall")
    measured = {f: {p: v} for (f, p), v in NUMBERS.items() if f != "kl"}
    measured["sync_c"] = {"sync/mova-lse-v1": 6.0}
    value = metric.evaluate(measured)
    assert value.protocol is None and value.values == {}
    assert "not measured: KL" in value.reason
    assert "LSE-C only under sync/mova-lse-v1" in value.reason


def test_variants_carry_over_and_do_not_mix() -> None:
    metric = derived_metric("versebench_overall")
    smoke = metric.evaluate({f: {p + SMOKE: v} for (f, p), v in NUMBERS.items()})
    assert smoke.protocol == "overall/versebench-v1+lse-c-syncnet-python" + SMOKE
    mixed = {f: {p + (SMOKE if f == "kl" else ""): v} for (f, p), v in NUMBERS.items()}
    refused = metric.evaluate(mixed)
    assert refused.protocol is None and "different protocol variants" in refused.reason


def test_toolkit_sentinel_is_a_named_option() -> None:
    sentinel = derived_metric("versebench_overall_sentinel")
    assert not sentinel.default
    measured = {f: {p: v} for (f, p), v in NUMBERS.items() if f not in ("fd", "kl")}
    value = sentinel.evaluate(measured)
    assert value.protocol == "overall/versebench-v1+missing-as--999+lse-c-syncnet-python"
    assert "FD, KL" in value.note
    symbols = {i.field: i.symbol for i in INPUTS}
    toolkit = {symbols[f]: (v / 100 if f == "wer" else v) for (f, _), v in NUMBERS.items()} | {
        "FD": -999,
        "KL": -999,
    }
    assert value.values["versebench_overall"] == pytest.approx(overall(toolkit)["versebench_overall"])


def test_rows_and_report_carry_the_overall_or_its_reason() -> None:
    full = _results(NUMBERS, "full")
    partial = _results({k: v for k, v in NUMBERS.items() if k[0] != "av_a"}, "partial")
    rowset = build_rows([full, partial])
    rows = rowset.frame[rowset.frame["field"] == "versebench_overall"]
    assert list(rows["run"]) == ["full"] and rows["set"].tolist() == ["all"]
    assert rows["protocol"].tolist() == ["overall/versebench-v1+lse-c-syncnet-python"]
    text = render_report_text(rowset, "md")
    assert "Verse-Bench Overall (versebench)" in text
    assert f"{rows['value'].iloc[0]:.4f}" in text
    assert "NAVA (partial): missing; not measured: AV-A." in text


def test_smoke_run_fills_the_overall_under_the_smoke_protocol() -> None:
    rowset = build_rows([_results(NUMBERS, "smoke", SMOKE, smoke=True)])
    rows = rowset.frame[rowset.frame["field"].str.startswith("versebench_")]
    assert len(rows) == 5 and set(rows["protocol"]) == {"overall/versebench-v1+lse-c-syncnet-python" + SMOKE}
    assert set(rows["banner"]) == {"smoke: random weights, numbers are not meaningful"}


#: A user's own derived metric, in a few lines (the docs' example).
MY_TOTAL = DerivedMetric(
    name="my_total",
    label="My total",
    protocol="total/my-total-v1",
    benchmark="versebench",
    inputs=(
        Input("AS", "video_quality", "video-quality/versebench-as-v2"),
        Input("PQ", "pq", "audiobox/versebench-aesthetics-v1"),
    ),
    formula=lambda v: 0.5 * v["AS"] + 0.5 * v["PQ"] / 10,
)


def test_a_user_defined_derived_metric_in_a_few_lines(tmp_path: Path) -> None:
    rowset = build_rows([_results(NUMBERS)], derived=[MY_TOTAL])
    row = rowset.frame[rowset.frame["field"] == "my_total"]
    assert row["value"].tolist() == [pytest.approx(0.5 * 0.61 + 0.5 * 0.723)]
    assert "versebench_overall" not in set(rowset.frame["field"])  # only what was asked for

    from nava_eval.rundir.records import write_results
    from nava_eval.runners.cli.main import cli

    path = tmp_path / "results.json"
    write_results(path, _results(NUMBERS))
    out = CliRunner().invoke(
        cli, ["report", str(path), "--derived", f"{__name__}:MY_TOTAL", "--format", "csv"]
    )
    assert out.exit_code == 0, out.output
    assert "my_total,total/my-total-v1" in out.output
    bad = CliRunner().invoke(cli, ["report", str(path), "--derived", "no_such_module:X"])
    assert bad.exit_code != 0 and "cannot import it" in bad.output and "Traceback" not in bad.output
    assert load_derived("versebench_overall").name == "versebench_overall"


def test_a_broken_formula_is_a_clear_error_naming_the_metric() -> None:
    from nava_eval.errors import InvalidValue

    broken = DerivedMetric(
        name="broken", label="Broken", protocol="total/broken-v1", benchmark="versebench",
        inputs=(Input("AS", "video_quality", "video-quality/versebench-as-v2"),),
        formula=lambda v: v["PQ"],  # a symbol no input declares
    )  # fmt: skip
    with pytest.raises(InvalidValue, match="derived metric 'broken': its formula failed.*KeyError"):
        broken.evaluate({"video_quality": {"video-quality/versebench-as-v2": 0.5}})
