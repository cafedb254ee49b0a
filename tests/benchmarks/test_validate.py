"""Deep file checks and the validation report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

from nava_eval.benchmarks.errors import Problem
from nava_eval.benchmarks.smoke import SMOKE_SEEDTTS_COUNTS, write_smoke_dataset
from nava_eval.benchmarks.validate import (
    SetCount,
    ValidationReport,
    image_problem,
    json_problem,
    validate_data,
    wav_problem,
)


def test_image_checks(tmp_path):
    good = tmp_path / "a.jpg"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(good)
    assert image_problem(good) is None
    assert image_problem(tmp_path / "none.jpg").message == "missing image"
    truncated = tmp_path / "t.jpg"
    truncated.write_bytes(good.read_bytes()[:20])
    assert image_problem(truncated).message.startswith("unreadable image")


def test_wav_and_json_checks(tmp_path):
    good = tmp_path / "a.wav"
    soundfile.write(good, np.zeros(10, dtype=np.int16), 16000)
    empty = tmp_path / "e.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.int16), 16000)
    assert wav_problem(good) is None
    assert wav_problem(empty).message == "audio file has no samples"
    assert wav_problem(tmp_path / "none.wav").message == "missing wav"
    (tmp_path / "x.json").write_text("[1]")
    assert json_problem(tmp_path / "x.json").message == "expected a JSON object"


def test_report_lines_and_verdict(tmp_path):
    report = ValidationReport(
        "seedtts",
        tmp_path,
        (Problem(Path("/d/en/meta.lst"), "empty", 3, "infer_text"),),
        (SetCount("en", 2, 1088), SetCount("zh", 5, 5)),
        ("a note",),
    )
    assert not report.ok
    assert report.lines() == [
        f"seedtts data in {tmp_path}",
        "  en: 2 item(s) (expected 1088) COUNT MISMATCH",
        "  zh: 5 item(s) (expected 5) ok",
        "  note: a note",
        "1 problem(s):",
        "  /d/en/meta.lst:3: field 'infer_text': empty",
        "NOT OK",
    ]
    assert ValidationReport("x", tmp_path, (), (SetCount("s", 1, None),)).ok


def test_validate_data_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("NAVA_EVAL_HOME", str(tmp_path / "home"))
    paths = write_smoke_dataset(tmp_path / "smoke")
    report = validate_data("seedtts", paths.seedtts, expected_counts=SMOKE_SEEDTTS_COUNTS)
    assert report.ok and [c.found for c in report.counts] == [2, 2, 1]
    assert validate_data(f"jsonl:{paths.user_prompts}", None).ok
