import csv
import math

import pytest

from nava_eval.reports.published import load_published, published_csv_path
from nava_eval.reports.tables import build_table, render_table


def _csv_rows():
    with open(published_csv_path(), newline="") as fh:
        return list(csv.DictReader(fh))


FIELD = {
    "Sync-C": "sync_c",
    "Sync-D": "sync_d",
    "VideoQuality": "video_quality",
    "IB": "ib",
    "PQ": "pq",
    "FD": "fd",
}


def test_normalised_published_numbers_equal_the_csv():
    frame = load_published("versebench")
    rows = [r for r in _csv_rows() if r["benchmark"] == "VerseBench" and r["split"].startswith("all (")]
    assert len(rows) == 35 and len(frame) == 35
    for row in rows:
        got = frame[(frame["model"] == row["model"]) & (frame["metric_label"] == row["metric"])].iloc[0]
        expected = float(row["value"]) * (100 if row["metric"] == "WER_fraction" else 1)
        assert math.isclose(got["value"], expected)
        assert got["metric"] == FIELD.get(row["metric"], "wer")
        assert got["params_b"] == float(row["params_b"])
        assert bool(got["higher_is_better"]) is (row["higher_is_better"] == "True")


def test_published_table_marks_best_direction_aware():
    table = build_table([], "versebench")
    md = render_table(table, "md")
    assert "Sync-D ↓" in md and "Sync-C ↑" in md
    assert "**7.791**" in md and "**7.566**" in md  # NAVA: highest Sync-C, lowest Sync-D
    assert "**0.829**" in md  # LTX 2.3 has the lowest FD
    assert "WER (%)" in md and "9.900" in md  # 0.099 as a fraction, shown in %


def test_seedtts_sim_fraction_is_shown_x100():
    frame = load_published("seedtts")
    cosy2 = frame[(frame["model"] == "CosyVoice 2") & (frame["metric"] == "sim")].iloc[0]
    assert cosy2["value"] == pytest.approx(65.2) and "×100" in cosy2["note"]
    nava = frame[(frame["model"] == "NAVA") & (frame["metric"] == "sim")].iloc[0]
    assert nava["value"] == 62.4


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: seedtts, syncnet-demo, versebench"):
        load_published("nope")
    with pytest.raises(ValueError, match="valid splits: all, all-per-set-mean, set3"):
        load_published("versebench", "set9")
