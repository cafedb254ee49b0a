"""User prompt sets (`jsonl:PATH`) in NAVA's inference JSONL format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from nava_eval.benchmarks.base import SampleSelection, get_benchmark
from nava_eval.benchmarks.errors import BadInputError, MissingFilesError
from nava_eval.benchmarks.user_jsonl import UserPromptSet, speech_spans


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("NAVA_EVAL_HOME", str(tmp_path_factory.mktemp("home")))


def _lines(path: Path, rows: list[object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "media").mkdir()
    Image.new("RGB", (16, 8), (200, 10, 10)).save(tmp_path / "media" / "face.png")
    soundfile.write(tmp_path / "media" / "voice.wav", np.zeros(1600, dtype=np.int16), 16000)
    return tmp_path


def test_fields_modes_ids_and_paths(folder):
    path = _lines(
        folder / "prompts.jsonl",
        [
            {
                "prompt": "A man says <S>Hi there.<E>",
                "image_path": "media/face.png",
                "spk_wavs": ["media/voice.wav"],
            },
            {"text": "Rain on a tin roof."},  # legacy field name, no image -> t2av
            "",
            {"id": "mine", "prompt": "x <S>a<E>", "reference_text": "a", "language": "en", "set": "talks"},
        ],
    )
    bench = get_benchmark(f"jsonl:{path}")
    assert isinstance(bench, UserPromptSet)
    samples = bench.load(None)
    assert [(s.set, s.id) for s in samples] == [("default", "00001"), ("default", "00002"), ("talks", "mine")]
    first, second, third = samples
    assert first.mode == "i2av" and first.image == folder / "media" / "face.png"
    assert first.speaker_wavs == (folder / "media" / "voice.wav",)
    assert first.reference_text is None  # never taken from <S> spans
    assert second.mode == "t2av" and second.prompt == "Rain on a tin roof." and second.image is None
    assert third.reference_text == "a" and third.language == "en"
    assert bench.sets == ("default", "talks")
    assert bench.metrics_for(first) == ("video_quality", "sync", "sim")
    assert bench.metrics_for(second) == ("video_quality",)
    assert bench.metrics_for(third) == ("video_quality", "sync", "wer")
    assert bench.output_kind == "mp4" and bench.expected_counts == {}
    assert [s.id for s in bench.load(None, SampleSelection(sets=("talks",)))] == ["mine"]
    assert [s.id for s in bench.load(None, SampleSelection(limit=1))] == ["00001"]


def test_ids_are_stable_when_lines_are_appended(folder):
    path = _lines(folder / "p.jsonl", [{"prompt": "one"}, {"prompt": "two"}])
    before = [(s.id, s.prompt) for s in UserPromptSet(path).load()]
    _lines(path, [{"prompt": "one"}, {"prompt": "two"}, {"prompt": "three"}])
    after = [(s.id, s.prompt) for s in UserPromptSet(path).load()]
    assert after[:2] == before == [("00001", "one"), ("00002", "two")]


def test_malformed_lines_name_line_and_field(folder):
    path = _lines(
        folder / "bad.jsonl",
        [
            {"prompt": "ok"},
            "{broken",
            {"image_path": "media/face.png"},
            {"prompt": "p <S>a<E>", "spk_wavs": ["media/voice.wav", "media/voice.wav"]},
            {"prompt": "p", "id": "a/b"},
            {"prompt": "p", "language": "fr"},
            ["not", "an", "object"],
            {"prompt": "dup", "id": "00001"},
        ],
    )
    with pytest.raises(BadInputError) as info:
        UserPromptSet(path).load()
    text = str(info.value)
    for expected in (
        f"{path}:2: not valid JSON",
        f"{path}:3: field 'prompt': missing",
        f"{path}:4: field 'spk_wavs': 2 speaker wav(s) for 1",
        f"{path}:5: field 'id'",
        f"{path}:6: field 'language'",
        f"{path}:7: expected a JSON object",
        f"{path}:8: field 'id': duplicate id '00001' (first on line 1)",
    ):
        assert expected in text
    bench = UserPromptSet(path)
    assert [s.id for s in bench.load(None, SampleSelection(skip_bad=True))] == ["00001"]
    assert bench.last_load_report.loaded == 1 and len(bench.last_load_report.skipped) == 7


def test_missing_files_listed_at_once_and_base_dir(folder):
    path = _lines(
        folder / "sub" / "p.jsonl",
        [
            {"prompt": "a", "image_path": "media/face.png"},
            {"prompt": "b <S>x<E>", "image_path": "media/none.png", "spk_wavs": ["media/none.wav"]},
        ],
    )
    with pytest.raises(MissingFilesError) as info:
        UserPromptSet(path).load()
    assert {str(p.path) for p in info.value.problems} == {str(path)}
    assert len(info.value.problems) == 3  # both images and the wav, resolved against sub/
    assert "file not found" in str(info.value) and "base_dir" in str(info.value)
    bench = UserPromptSet(path, base_dir=folder)
    assert [s.id for s in bench.load(None, SampleSelection(skip_bad=True))] == ["00001"]
    report = bench.validate()
    assert sorted((p.line, p.field, p.message) for p in report.problems) == [
        (2, "image_path", f"missing image: {folder / 'media' / 'none.png'}"),
        (2, "spk_wavs", f"missing wav: {folder / 'media' / 'none.wav'}"),
    ]
    assert not report.ok and [(c.set, c.found) for c in report.counts] == [("default", 2)]


def test_missing_file_and_speech_spans(tmp_path):
    with pytest.raises(BadInputError, match="prompt file not found"):
        UserPromptSet(tmp_path / "nope.jsonl").load()
    assert UserPromptSet(tmp_path / "nope.jsonl").sets == ("default",)
    assert speech_spans("a <S> Hello <E> b <S>second<E>") == ["Hello", "second"]
