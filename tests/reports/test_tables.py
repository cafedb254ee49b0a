"""Comparison table numbers: values, bootstrap CIs, best marks, protocol footnotes, formats, smoke banner."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nava_eval.reports.per_sample import field_estimate, load_sample_scores, scan_scores
from nava_eval.reports.stats import bootstrap_ci, bootstrap_ci_grouped
from nava_eval.reports.tables import FORMATS, SMOKE_BANNER, build_table, render_table
from nava_eval.rundir.files import append_jsonl
from nava_eval.rundir.records import ScoreRecord
from nava_eval.rundir.schema import to_dict

SC = "sync_c@sync/syncnet-lse-v1"
SD = "sync_d@sync/syncnet-lse-v1"
A_SYNC_C = {"set1": [6.0, 7.0, 8.0, 9.0], "set3": [5.0, 6.5, 7.5]}
A_SYNC_D = {"set1": [8.0, 8.5, 7.0, 7.5], "set3": [9.0, 8.0, 8.5]}
B_SYNC_C = {"set1": [7.0, 8.0, 9.0, 10.0], "set3": [6.0, 7.5, 8.5]}
B_SYNC_D = {"set1": [8.5, 9.0, 7.5, 8.0], "set3": [9.5, 8.5, 9.0]}


def _flat(per_set: dict[str, list[float]]) -> list[float]:
    return [v for name in sorted(per_set) for v in per_set[name]]


@pytest.fixture
def two_runs(make_run) -> tuple[Path, Path]:
    a = make_run("run-a", {"sync_c": A_SYNC_C, "sync_d": A_SYNC_D}, model="NAVA")
    b = make_run("run-b", {"sync_c": B_SYNC_C, "sync_d": B_SYNC_D}, model="NAVA-ft")
    return a, b


def test_run_values_cis_and_best_marks(two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    table = build_table([a, b], published=False)
    assert [r.label for r in table.rows] == ["NAVA (run-a)", "NAVA-ft (run-b)"]
    assert [c.key for c in table.columns] == [SC, SD]

    cell = table.cell("NAVA (run-a)", SC)
    assert cell.value == pytest.approx(np.mean(_flat(A_SYNC_C)))
    assert cell.ci95 == pytest.approx(bootstrap_ci(_flat(A_SYNC_C), seed=0, n_resamples=1000), abs=1e-12)
    assert cell.protocol == "sync/syncnet-lse-v1" and cell.n == 7

    # Sync-C: higher is better → B; Sync-D: lower is better → A.
    assert table.best[SC] == {"NAVA-ft (run-b)"}
    assert table.best[SD] == {"NAVA (run-a)"}
    assert not table.footnotes  # same protocol everywhere, nothing published

    frame = table.frame()
    assert list(frame.columns) == ["Model", "Params (B)", "Sync-C ↑", "Sync-D ↓"]
    lo, hi = bootstrap_ci(_flat(B_SYNC_C))
    expected = f"{np.mean(_flat(B_SYNC_C)):.3f} ± {(hi - lo) / 2:.3f}*"
    assert frame.loc[1, "Sync-C ↑"] == expected
    assert not frame.loc[0, "Sync-C ↑"].endswith("*")


def test_other_seed_draws_from_per_sample_scores(two_runs: tuple[Path, Path]) -> None:
    # Another seed cannot reuse results.json's CI: it is drawn from scores/*.jsonl, overall and per set.
    table = build_table([two_runs[0]], published=False, per_set=True, seed=5, n_resamples=400)
    cell = table.cell("NAVA (run-a)", SC)
    assert cell.ci95 == pytest.approx(bootstrap_ci(_flat(A_SYNC_C), seed=5, n_resamples=400), abs=1e-12)
    assert cell.ci95 != pytest.approx(bootstrap_ci(_flat(A_SYNC_C)), abs=1e-6)
    per_set = table.cell("NAVA (run-a)", SD + "[set1]")
    assert per_set.ci95 == pytest.approx(bootstrap_ci(A_SYNC_D["set1"], seed=5, n_resamples=400), abs=1e-12)
    assert "400 resamples, seed 5" in render_table(table, "md")


def test_per_set_columns(two_runs: tuple[Path, Path]) -> None:
    table = build_table(list(two_runs), published=False, per_set=True)
    keys = [c.key for c in table.columns]
    assert keys == [SC, SD, SC + "[set1]", SC + "[set3]", SD + "[set1]", SD + "[set3]"]
    cell = table.cell("NAVA (run-a)", SC + "[set3]")
    assert cell.value == pytest.approx(np.mean(A_SYNC_C["set3"]))
    assert cell.ci95 == pytest.approx(bootstrap_ci(A_SYNC_C["set3"]), abs=1e-12)
    assert cell.n == 3


def test_mean_of_per_set_means_resamples_within_sets(make_run) -> None:
    run = make_run("r", {"sync_c": A_SYNC_C})
    scores = load_sample_scores(run)
    value, ci, n = field_estimate(scores, "sync_c", "mean of per-set means")
    assert value == pytest.approx((np.mean(A_SYNC_C["set1"]) + np.mean(A_SYNC_C["set3"])) / 2)
    assert ci == pytest.approx(bootstrap_ci_grouped(A_SYNC_C), abs=1e-12)
    assert n == 7


def test_failed_and_stale_scores_are_not_counted(make_run) -> None:
    run = make_run("r", {"sync_c": {"set1": [1.0, 2.0, 3.0]}})
    # A failed line for an id, then a score for an output that no longer exists (wrong sha256).
    failed = ScoreRecord(
        id="set1-000", set="set1", metric="sync", protocol="p", status="failed", reason="corrupt"
    )
    append_jsonl(run / "scores" / "sync.jsonl", to_dict(failed))
    stale = ScoreRecord(
        id="set1-001", set="set1", metric="sync", protocol="p", status="ok", output_sha256="f" * 64,
        value=99.0, values={"sync_c": 99.0},
    )  # fmt: skip
    append_jsonl(run / "scores" / "sync.jsonl", to_dict(stale))
    scores = load_sample_scores(run)
    values = scores[scores["field"] == "sync_c"].set_index("id")["value"].to_dict()
    assert values == {"set1-002": 3.0}
    _, issues = scan_scores(run)
    assert issues[["id", "status"]].values.tolist() == [["set1-000", "failed"], ["set1-001", "stale"]]
    assert issues.loc[0, "reason"] == "corrupt"


MOVA_SC = "sync_c@sync/mova-lse-v1"
VB_WER = "wer@wer/versebench-sensevoice-v1"


def test_published_only_table_uses_our_units() -> None:
    table = build_table([], "versebench")
    labels = [r.label for r in table.rows]
    assert "NAVA (published)" in labels and "Ovi 1.1 (published)" in labels
    assert table.cell("NAVA (published)", MOVA_SC).value == pytest.approx(7.7914)
    # NAVA's Table 1 gives WER as a fraction (0.099); our column is in percent.
    assert table.cell("NAVA (published)", VB_WER).value == pytest.approx(9.9)
    assert table.best[MOVA_SC] == {"NAVA (published)"}
    assert table.best[VB_WER] == {"NAVA (published)"}  # lower is better: 9.9 % beats 10.2 %
    assert any("published as a fraction; shown in %" in note for note in table.footnotes)
    assert table.banner is None
    params = {r.label: r.params_b for r in table.rows}
    assert params["Ovi 1.1 (published)"] == 10.0
    # Every column says which protocol its numbers come from, and why we believe so.
    assert any(n.startswith("Sync-C: protocol sync/mova-lse-v1") and "inferred" in n for n in table.notes)


def test_measured_number_enters_a_published_column_only_under_the_same_protocol(make_run) -> None:
    run = make_run("mine", {"sync_c": A_SYNC_C, "sync_d": A_SYNC_D})  # sync/syncnet-lse-v1
    table = build_table([run])
    # Published Sync-C is sync/mova-lse-v1: ours gets its own column, the headers name both protocols.
    assert [c.key for c in table.columns] == [SC, MOVA_SC, SD, "sync_d@sync/mova-lse-v1"]
    assert table.cell("NAVA (mine)", SC) is not None and table.cell("NAVA (mine)", MOVA_SC) is None
    assert table.cell("NAVA (published)", SC) is None
    assert table.cell("NAVA (published)", MOVA_SC).value == pytest.approx(7.7914)
    header = next(c for c in table.columns if c.key == SC).header
    assert header == "Sync-C [sync/syncnet-lse-v1] ↑"
    # Best is per column: our run is alone (best) in its column, NAVA leads the published one.
    assert table.best[SC] == {"NAVA (mine)"} and table.best[MOVA_SC] == {"NAVA (published)"}

    # Measured under the published protocol (set3 only, as MOVA's toolkit): same column, no extra one.
    mova = make_run("mova", {"sync_c": {"set3": [7.0, 8.0]}}, protocols={"sync_c": "sync/mova-lse-v1"})
    same = build_table([mova], metrics=["sync_c"])
    assert [c.key for c in same.columns] == [MOVA_SC]
    assert same.cell("NAVA (mova)", MOVA_SC).value == pytest.approx(7.5)
    assert same.cell("NAVA (published)", MOVA_SC).value == pytest.approx(7.7914)
    assert not any(c.show_protocol for c in same.columns)


def test_single_set_run_compares_with_single_set_published(make_run) -> None:
    run = make_run(
        "tts", {"wer": {"en": [2.0, 4.0, 6.0]}, "sim": {"en": [60.0, 70.0, 65.0]}}, benchmark="seedtts"
    )
    table = build_table([run])
    wer, sim = "wer@wer/seedtts-v1", "sim@sim/wavlm-large-ecapa-v1"
    # The run covers only "en", so test-en published numbers sit in the overall column.
    assert table.cell("NAVA (published)", wer).value == pytest.approx(5.81)
    assert table.cell("NAVA (tts)", wer).value == pytest.approx(4.0)
    assert table.cell("NAVA (tts)", sim).value == pytest.approx(65.0)


def test_smoke_banner_in_every_format(make_run) -> None:
    run = make_run("smoke", {"sync_c": A_SYNC_C}, smoke=True)
    table = build_table([run])
    assert table.banner == SMOKE_BANNER
    for fmt in FORMATS:
        assert SMOKE_BANNER in render_table(table, fmt), fmt


def test_formats_round_trip(two_runs: tuple[Path, Path]) -> None:
    table = build_table(list(two_runs), published=False)
    md = render_table(table, "md")
    assert "| NAVA-ft (run-b)" in md and "**" in md and "Sync-D ↓" in md

    csv = pd.read_csv(io.StringIO(render_table(table, "csv")))
    assert csv.loc[0, SC] == pytest.approx(np.mean(_flat(A_SYNC_C)))
    assert csv.loc[0, f"{SC}_ci_lo"] == pytest.approx(bootstrap_ci(_flat(A_SYNC_C))[0])
    assert list(csv[f"{SD}_best"]) == [True, False]

    data = json.loads(render_table(table, "json"))
    assert data["columns"][0]["protocol"] == "sync/syncnet-lse-v1"
    assert data["rows"][1]["cells"][SC]["best"] is True
    assert data["rows"][1]["cells"][SC]["ci95"] == pytest.approx(list(bootstrap_ci(_flat(B_SYNC_C))))

    latex = render_table(table, "latex")
    assert (
        r"\begin{tabular}" in latex and r"\textbf{" in latex and r"$\pm$" in latex and r"$\uparrow$" in latex
    )

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self._in_td = False

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag == "tr":
                self.rows.append([])
            self._in_td = tag in ("td", "th") or (self._in_td and tag == "strong")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("td", "th"):
                self._in_td = False

        def handle_data(self, data: str) -> None:
            if self._in_td and self.rows:
                self.rows[-1].append(data)

    parser = Cells()
    parser.feed(render_table(table, "html"))
    assert [r[0] for r in parser.rows] == ["Model", "NAVA (run-a)", "NAVA-ft (run-b)"]
    with pytest.raises(ValueError, match="valid formats"):
        render_table(table, "xlsx")  # type: ignore[arg-type]


def test_mixed_benchmarks_and_missing_benchmark_are_errors(make_run) -> None:
    a = make_run("a", {"sync_c": A_SYNC_C})
    b = make_run("b", {"wer": {"en": [1.0]}}, benchmark="seedtts")
    with pytest.raises(ValueError, match="different benchmarks"):
        build_table([a, b])
    with pytest.raises(ValueError, match="not 'seedtts'"):
        build_table([a], "seedtts")
    with pytest.raises(ValueError, match="needs runs or a benchmark"):
        build_table([])


def test_results_without_run_dir_use_results_ci(two_runs: tuple[Path, Path]) -> None:
    from nava_eval.rundir.records import load_results

    results = load_results(two_runs[0])
    table = build_table([results], published=False)
    cell = table.cell("NAVA (run-a)", SC)
    assert cell.ci95 == pytest.approx(tuple(results.metrics["sync_c"].ci95))


def test_failed_and_missing_samples_are_counted_in_the_table(make_run) -> None:
    from nava_eval.reports.tables import build_table, render_table

    run = make_run("partial", {"sync_c": {"set1": [7.0, 7.5]}}, failed=[("set1", "set1-009")])
    text = render_table(build_table([run], published=False), "md")
    assert "not in the means: Sync-C 1 failed" in text
