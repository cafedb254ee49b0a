"""The paper view: NAVA's Table 1 shape, shared columns only on equal protocols, width limits, the browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from nava_eval.reports.paper_view import MAX_COLUMNS, build_paper_table, build_paper_tables, render_markdown
from nava_eval.reports.report_text import render_report_text
from nava_eval.reports.rows import build_rows
from nava_eval.runners.cli.main import cli
from tests.reports.rows_fixtures import matching_run, smoke_run
from tests.reports.test_render import CHROMIUM, CHROMIUM_FLAGS

TABLE1 = ["Sync-C ↑¹", "Sync-D ↓¹", "IB ↑²", "VQ ↑³", "WER ↓⁴", "PQ ↑⁵", "FD ↓⁶"]


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def test_published_table1_reads_like_the_paper_and_fits_120_columns() -> None:
    result = CliRunner().invoke(cli, ["report", "--published", "--benchmark", "versebench"])
    assert result.exit_code == 0, result.output
    lines = _table_lines(result.output.split("**User study")[0])
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["Model", "Params", "Res.", *TABLE1]
    assert sum(line.lstrip("|").startswith("Model") for line in lines) == 1  # one block, not split
    assert max(len(line) for line in result.output.splitlines()) <= 120
    rows = {c[0]: c for c in ([x.strip() for x in line.strip("|").split("|")] for line in lines[2:])}
    assert [rows[m][2] for m in ("Ovi 1.1", "MOVA (A18B/32B total)", "Davinci", "LTX 2.3", "NAVA")] == [
        "720p", "720p", "540p", "512p", "720p",
    ]  # fmt: skip
    assert (
        rows["NAVA"][3] == "**7.791**"
        and rows["LTX 2.3"][5] == "**0.337**"
        and rows["NAVA"][7] == "**9.900**"
    )
    assert "¹ sync/mova-lse-v1" in result.output


def test_measured_number_shares_a_column_only_on_equal_protocol(tmp_path: Path) -> None:
    rowset = build_rows([matching_run(tmp_path), smoke_run(tmp_path)], published=True)
    table = build_paper_table(rowset, "versebench")
    keys = [c.key for c in table.columns]
    sync = [c for c in table.columns if c.field == "sync_c"]
    # nava-6b's sync/mova-lse-v1 number sits in the published column; the smoke run's gets a starred one.
    assert [(c.protocol, c.measured_only) for c in sync] == [
        ("sync/mova-lse-v1", False), ("sync/mova-lse-v1+smoke-random-weights", True),
    ]  # fmt: skip
    assert table.cells[("nava-6b", "sync_c@sync/mova-lse-v1")].value == 7.9
    assert table.cells[("NAVA", "sync_c@sync/mova-lse-v1")].value == 7.7914
    assert ("nava-tiny [smoke]", "sync_c@sync/mova-lse-v1") not in table.cells
    assert sync[1].header == "Sync-C* ↑" + "²" and "sync_c@sync/syncnet-lse-v1" not in keys
    assert any("Sync-C [sync/syncnet-lse-v1]" in h for h in table.hidden)  # the extra protocol: --view full
    assert table.best["sync_c@sync/mova-lse-v1"] == {"nava-6b"}  # 7.9 beats the published 7.7914
    assert len(table.columns) <= MAX_COLUMNS
    full = build_paper_table(rowset, "versebench", view="full")
    assert "sync_c@sync/syncnet-lse-v1" in [c.key for c in full.columns]


def test_ci_and_seed_sd_in_cells_smoke_never_best(tmp_path: Path) -> None:
    rowset = build_rows([matching_run(tmp_path, seeds=[0, 1, 2]), smoke_run(tmp_path)], published=True)
    table = build_paper_table(rowset, "versebench")
    assert table.cell_text("nava-6b", "sync_c@sync/mova-lse-v1") == "7.900 ± 0.200 (sd 0.050)"
    # IB 0.30 [0.29, 0.31] excludes NAVA's published 0.313: marked; Sync-C 7.7914 is inside [7.7, 8.1]
    assert table.cell_text("nava-6b", "ib@ib/mova-imagebind-huge-v1") == "0.300 ± 0.010 ≠"
    assert any(n.startswith("≠: the run's 95 % CI excludes") for n in table.notes)
    assert table.cell_text("nava-tiny [smoke]", "wer@wer/versebench-sensevoice-v1+smoke-random-weights") == (
        "100.00 ± 0.000"
    )
    assert "wer@wer/versebench-sensevoice-v1+smoke-random-weights" not in table.best
    text = render_markdown(table)
    assert max(len(line) for line in text.splitlines()) <= 120
    assert text.startswith("> **smoke: random weights, numbers are not meaningful**")


def test_full_view_shows_movas_dnsmos_and_secondary_marks() -> None:
    rowset = build_rows([], published=True, benchmarks=["versebench"])
    paper = build_paper_table(rowset, "versebench")
    assert not any(c.field == "dnsmos" for c in paper.columns)
    full = build_paper_table(rowset, "versebench", view="full")
    assert full.cell_text("MOVA-360p", "dnsmos@dnsmos/mova-p808-v1") == "3.797 (set3)"
    tts = build_paper_table(build_rows([], published=True, benchmarks=["seedtts"]), "seedtts")
    assert tts.cell_text("CosyVoice 2", "wer@wer/seedtts-v1").endswith("§")
    assert not tts.cell_text("NAVA", "wer@wer/seedtts-v1").endswith("§")
    assert any(n.startswith("§: read from a secondary source") for n in tts.notes)


def test_per_set_tables(tmp_path: Path) -> None:
    rowset = build_rows([smoke_run(tmp_path)], published=True)
    tables = build_paper_tables(rowset, per_set=True)
    assert [t.set_name for t in tables] == ["all", "set1", "set3"]
    set3 = tables[2]
    assert (
        set3.cell_text("nava-tiny [smoke]", "sync_c@sync/mova-lse-v1+smoke-random-weights") == "0.075 ± 0.001"
    )
    assert set3.cell_text("MOVA-720p (dual CFG)", "sync_c@sync/mova-lse-v1") == "7.452"


def test_published_report_has_paper_vs_harness_and_speed(tmp_path: Path) -> None:
    rowset = build_rows([matching_run(tmp_path)], published=True)
    text = render_report_text(rowset, "md", published=True)
    repro = text.split("**Paper vs harness (versebench)**")[1]
    assert re.search(
        r"\| nava-6b +\| NAVA +\| Sync-C +\| 7\.791 +\| 7\.900 +\| \[7\.700, 8\.100\] +\| agrees", repro
    )
    assert (
        "| NAVA (published) | scripts/inference_fp8.sh" in text and "~18 GB" in text and "~1.1 s/step" in text
    )


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (Debian package chromium)")
def test_html_page_fits_1280px_without_sideways_scrolling(tmp_path: Path) -> None:
    rowset = build_rows([matching_run(tmp_path), smoke_run(tmp_path)], published=True)
    page = render_report_text(rowset, "html", view="full", published=True)
    probe = "<script>document.body.setAttribute('data-sw', document.documentElement.scrollWidth)</script>"
    path = tmp_path / "page.html"
    path.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    profile = tmp_path / "profile"
    cmd = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900", "--dump-dom",
           path.as_uri()]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    width = int(re.search(r'data-sw="(\d+)"', done.stdout).group(1))
    assert 0 < width <= 1280
    assert done.stdout.count('class="paper-view"') == 1 and "Sync-C* ↑" in done.stdout
    shutil.rmtree(profile, ignore_errors=True)
