"""Tidy rows: the CSV/Parquet/JSONL files and nava_eval.load_results hold the same numbers as results.json."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from nava_eval.reports.rows import COLUMNS, SMOKE_BANNER, build_rows, is_secondary
from nava_eval.runners.cli.main import cli
from tests.reports.rows_fixtures import matching_run, smoke_run


def test_csv_is_long_rows_pandas_reads_with_no_options(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(run), "--published", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert not any(line.startswith("#") for line in result.output.splitlines())
    frame = pd.read_csv(io.StringIO(result.output))
    assert tuple(frame.columns) == COLUMNS
    assert set(frame["kind"]) == {"run", "published"}
    mine = frame[(frame["kind"] == "run") & (frame["set"] == "all")]
    row = mine[mine["protocol"] == "sync/mova-lse-v1+smoke-random-weights"].iloc[0]
    assert (
        row["field"] == "sync_c"
        and row["value"] == 0.0751
        and (row["ci_lo"], row["ci_hi"]) == (0.0746, 0.0757)
    )
    assert row["n"] == 4 and row["n_seeds"] == 1 and row["banner"] == SMOKE_BANNER
    assert row["source"].endswith("results.json")
    per_set = frame[(frame["kind"] == "run") & (frame["set"] == "set3")]
    assert per_set["value"].tolist() == [0.0751]
    nava = frame[(frame["model"] == "NAVA") & (frame["field"] == "sync_c")].iloc[0]
    assert nava["kind"] == "published" and nava["value"] == 7.7914 and nava["protocol"] == "sync/mova-lse-v1"
    assert pd.isna(nava["banner"]) and pd.isna(nava["ci_lo"])


def test_jsonl_and_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    csv = pd.read_csv(
        io.StringIO(CliRunner().invoke(cli, ["report", str(run), "--published", "--format", "csv"]).output)
    )
    jsonl = CliRunner().invoke(cli, ["report", str(run), "--published", "--format", "jsonl"])
    lines = [json.loads(x) for x in jsonl.output.splitlines() if x]
    assert len(lines) == len(csv) and set(lines[0]) == set(COLUMNS)
    out = tmp_path / "rows.parquet"
    done = CliRunner().invoke(cli, ["report", str(run), "--published", "--format", "parquet", "-o", str(out)])
    assert done.exit_code == 0, done.output
    parquet = pd.read_parquet(out)
    assert tuple(parquet.columns) == COLUMNS
    pd.testing.assert_series_equal(parquet["value"], csv["value"], check_names=False)
    needs_file = CliRunner().invoke(cli, ["report", str(run), "--format", "parquet"])
    assert needs_file.exit_code == 2 and "-o FILE.parquet" in needs_file.output


def test_load_results_is_public_lazy_and_the_same_rows(tmp_path: Path) -> None:
    import nava_eval

    run = matching_run(tmp_path)
    frame = nava_eval.load_results([run], published=True)
    assert tuple(frame.columns) == COLUMNS
    assert frame.equals(build_rows([run], published=True).frame)
    only_run = nava_eval.load_results(run, published=False)
    assert set(only_run["kind"]) == {"run"} and len(only_run) == 3
    code = "import sys, nava_eval; print('nava_eval.reports' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_secondary_sources_are_flagged() -> None:
    frame = build_rows([], published=True, benchmarks=["seedtts"]).frame
    cosy2 = frame[frame["model"] == "CosyVoice 2"]
    nava = frame[frame["model"] == "NAVA"]
    assert len(cosy2) and all(is_secondary(s) for s in cosy2["source"])
    assert len(nava) and not any(is_secondary(s) for s in nava["source"])


def test_wide_keeps_the_old_pivot(tmp_path: Path) -> None:
    run = smoke_run(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(run), "--published", "--wide", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "sync_c@sync/mova-lse-v1_ci_lo" in result.output


def test_imported_and_multi_seed_runs(tmp_path: Path) -> None:
    import dataclasses

    from nava_eval.rundir.records import load_results, write_results

    run = matching_run(tmp_path, seeds=[0, 1, 2])
    res = load_results(run)
    write_results(run / "results.json", dataclasses.replace(res, origin="imported", model="Ovi 1.1"))
    frame = build_rows([run], published=True).frame
    mine = frame[frame["kind"] == "imported"]
    assert set(mine["model"]) == {"Ovi 1.1"} and (mine["n_seeds"] == 3).all()
    row = mine[mine["protocol"] == "sync/mova-lse-v1"].iloc[0]
    assert row["seed_sd"] == 0.05 and row["value"] == 7.9
    rowset = build_rows([run], published=True)
    assert (
        rowset.label("imported", "Ovi 1.1", res.run_name) == "Ovi 1.1 (measured)"
    )  # beside the published row
