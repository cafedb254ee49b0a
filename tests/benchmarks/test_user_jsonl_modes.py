"""jsonl: lines with their own shape (width/height/frames) and T2A lines (mode t2a, duration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nava_eval.benchmarks.base import get_benchmark
from nava_eval.benchmarks.errors import BadInputError


def _write(tmp_path: Path, lines: list[dict]) -> Path:
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def test_shape_fields_reach_the_sample(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [{"id": "a", "prompt": "p", "width": 704, "height": 1280, "frames": 55}, {"id": "b", "prompt": "q"}],
    )
    bench = get_benchmark(f"jsonl:{path}")
    by_id = {s.id: s for s in bench.load(None)}
    assert by_id["a"].meta["width"] == 704 and by_id["a"].meta["frames"] == 55
    assert not {"width", "height", "frames"} & set(by_id["b"].meta)
    assert bench.output_kind == "mp4"


@pytest.mark.parametrize(
    ("line", "field", "text"),
    [
        ({"width": 700}, "width", "nearest valid: 704"),
        ({"height": "704"}, "height", "must be an integer"),
        ({"frames": 400}, "frames", "nearest valid: 246"),
        ({"duration": 3.0}, "duration", "only a T2A line"),
        ({"mode": "t2a", "width": 704}, "mode", "a T2A line takes duration"),
        ({"mode": "t2a", "duration": 50}, "duration", "nearest valid: 40.96"),
        ({"mode": "t2x"}, "mode", "must be one of t2av, t2a"),
        ({"mode": "t2a", "image_path": "x.jpg"}, "mode", "drop image_path"),
        ({"image_path": "x.jpg", "height": 1280}, "height", "aspect bucket"),
    ],
)
def test_bad_shape_or_mode_names_line_and_field(tmp_path: Path, line: dict, field: str, text: str) -> None:
    path = _write(tmp_path, [{"prompt": "ok"}, {"prompt": "p", **line}])
    with pytest.raises(BadInputError) as err:
        get_benchmark(f"jsonl:{path}").load(None)
    message = str(err.value)
    assert "p.jsonl:2: field" in message and repr(field) in message and text in message


def test_t2a_file_writes_wavs_and_mixing_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"id": "r", "mode": "t2a", "prompt": "rain", "duration": 2.5}])
    bench = get_benchmark(f"jsonl:{path}")
    (sample,) = bench.load(None)
    assert bench.output_kind == "wav" and sample.mode == "t2a" and sample.meta["duration"] == 2.5
    assert sample.output_relpath(bench.output_kind).endswith("r.wav")
    mixed = _write(tmp_path, [{"mode": "t2a", "prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}])
    with pytest.raises(BadInputError, match=r"p.jsonl:1: field .mode.*separate files"):
        get_benchmark(f"jsonl:{mixed}").load(None)
