import csv
import math

import pytest

from reports.published import load_published, published_csv_path
from reports.published_table import best_rows, published_table, render


def _csv_rows():
    with open(published_csv_path(), newline="") as fh:
        return list(csv.DictReader(fh))


def test_versebench_table_numbers_equal_the_csv():
    table, directions = published_table("versebench")
    rows = [r for r in _csv_rows() if r["benchmark"] == "VerseBench" and r["split"].startswith("all (")]
    assert len(rows) == 35
    assert list(table.index) == ["Ovi 1.1", "MOVA (A18B/32B total)", "Davinci", "LTX 2.3", "NAVA"]
    field = {
        "Sync-C": "sync_c",
        "Sync-D": "sync_d",
        "VideoQuality": "video_quality",
        "IB": "ib",
        "PQ": "pq",
        "FD": "fd",
    }
    for row in rows:
        if row["metric"] == "WER_fraction":
            assert math.isclose(table.loc[row["model"], "wer"], float(row["value"]) * 100)
        else:
            assert table.loc[row["model"], field[row["metric"]]] == float(row["value"])
        assert table.loc[row["model"], "params_b"] == float(row["params_b"])
    assert directions["sync_d"] is False and directions["sync_c"] is True


def test_best_per_column_is_direction_aware():
    table, directions = published_table("versebench")
    best = best_rows(table, directions)
    assert best["sync_c"] == "NAVA" and best["sync_d"] == "NAVA"  # 7.7914 highest, 7.5655 lowest
    assert best["fd"] == "LTX 2.3" and best["pq"] == "MOVA (A18B/32B total)"
    md = render(table, directions, "md")
    assert "| Sync-D ↓" in md and "**7.566**" in md and "**0.8287**" in md


def test_seedtts_en_sim_is_x100_and_all_formats_render():
    table, directions = published_table("seedtts")
    assert table.loc["NAVA", "sim"] == 62.4 and table.loc["NAVA", "wer"] == 5.81
    assert table.loc["CosyVoice 2", "sim"] == pytest.approx(65.2)  # 0.652 in the paper
    for fmt in ("md", "csv", "html", "latex", "json"):
        assert "NAVA" in render(table, directions, fmt)
    assert "<b>" in render(table, directions, "html") and "\\textbf{" in render(table, directions, "latex")


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: seedtts, syncnet-demo, versebench"):
        load_published("nope")
    with pytest.raises(ValueError, match="valid splits: all, all-per-set-mean, set3"):
        load_published("versebench", "set9")
    table, directions = published_table("versebench")
    with pytest.raises(ValueError, match="valid formats"):
        render(table, directions, "xlsx")
