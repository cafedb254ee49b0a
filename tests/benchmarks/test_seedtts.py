"""Seed-TTS-eval loader on a short meta.lst layout written here, including malformed lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from nava_eval.benchmarks.base import SampleSelection, get_benchmark
from nava_eval.benchmarks.errors import BadInputError, DataNotFoundError, MissingFilesError
from nava_eval.benchmarks.seedtts import EXPECTED_COUNTS, SeedTTSEval


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("NAVA_EVAL_HOME", str(tmp_path_factory.mktemp("home")))


def _wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, (np.sin(np.arange(1600) / 5) * 8000).astype(np.int16), 16000)


def _write(root: Path, rel: str, lines: list[str]) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def layout(tmp_path) -> Path:
    root = tmp_path / "seedtts_testset"
    for rel in ("en/prompt-wavs/a.wav", "en/prompt-wavs/b.wav", "en/wavs/u2.wav", "zh/prompt-wavs/c.wav"):
        _wav(root / rel)
    _write(
        root,
        "en/meta.lst",
        [
            "u3|Third prompt.|prompt-wavs/a.wav|Say three.",
            "u1|First prompt.|prompt-wavs/a.wav|Say one.",
            "",
            "u2|Second prompt.|prompt-wavs/b.wav|Say two.|wavs/u2.wav",
        ],
    )
    _write(root, "zh/meta.lst", ["z1|提示一|prompt-wavs/c.wav|说一", "z2|提示二|prompt-wavs/c.wav|说二"])
    # "z1" also appears in the hard list: its id must not clash with the zh one.
    _write(root, "zh/hardcase.lst", ["h1|提示|prompt-wavs/c.wav|四是四", "z1|提示|prompt-wavs/c.wav|十是十"])
    return root


def test_fields_paths_and_order(layout):
    bench = SeedTTSEval()
    samples = bench.load(layout)
    assert [(s.set, s.id) for s in samples] == [
        ("en", "u1"),
        ("en", "u2"),
        ("en", "u3"),
        ("zh", "z1"),
        ("zh", "z2"),
        ("hard", "h1"),
        ("hard", "hard-z1"),
    ]
    u2 = samples[1]
    assert u2.mode == "tts" and u2.prompt == "Say two." and u2.reference_text == "Say two."
    assert u2.prompt_text == "Second prompt." and u2.language == "en"
    assert u2.speaker_wavs == (layout / "en" / "prompt-wavs" / "b.wav",)  # relative to the list's folder
    assert u2.ground_truth_audio == layout / "en" / "wavs" / "u2.wav"
    assert samples[0].ground_truth_audio is None
    assert u2.output_relpath(bench.output_kind) == "outputs/en/u2.wav"
    hard = samples[-1]
    assert hard.language == "zh" and hard.meta["utt"] == "z1" and hard.reference_text == "十是十"
    assert u2.meta["line"] == 4


def test_declared_protocol():
    bench = get_benchmark("seedtts")
    assert bench.sets == ("en", "zh", "hard")
    assert bench.expected_counts == EXPECTED_COUNTS == {"en": 1088, "zh": 2020, "hard": 400}
    assert bench.output_kind == "wav" and bench.aggregation == "per-item mean"
    assert all(bench.default_metrics[s] == ("wer", "sim") for s in bench.sets)


def test_ids_do_not_depend_on_selected_sets(layout):
    bench = SeedTTSEval()
    only_hard = bench.load(layout, SampleSelection(sets=("hard",)))
    assert [s.id for s in only_hard] == ["h1", "hard-z1"]
    assert [s.id for s in bench.load(layout, SampleSelection(limit=2))] == ["u1", "u2"]
    assert [s.id for s in bench.load(layout, SampleSelection(ids=frozenset({"z2", "u3"})))] == ["u3", "z2"]


def test_data_dir_is_parent_or_root(layout):
    assert len(SeedTTSEval().load(layout.parent)) == len(SeedTTSEval().load(layout)) == 7


def test_malformed_lines_name_file_line_field(layout):
    meta = _write(
        layout,
        "en/meta.lst",
        [
            "u1|First prompt.|prompt-wavs/a.wav|Say one.",
            "u2|only three|prompt-wavs/b.wav",
            "u3|Third prompt.|prompt-wavs/a.wav|",
            "u1|dup|prompt-wavs/a.wav|again",
            "bad/id|x|prompt-wavs/a.wav|text",
        ],
    )
    with pytest.raises(BadInputError) as info:
        SeedTTSEval().load(layout)
    text = str(info.value)
    assert f"{meta}:2: expected 4 or 5 '|'-separated fields" in text
    assert f"{meta}:3: field 'infer_text': empty" in text
    assert f"{meta}:4: field 'utt': duplicate utt 'u1' (first on line 1)" in text
    assert f"{meta}:5: field 'utt'" in text
    assert len(info.value.problems) == 4

    bench = SeedTTSEval()
    samples = bench.load(layout, SampleSelection(sets=("en",), skip_bad=True))
    assert [s.id for s in samples] == ["u1"]
    assert bench.last_load_report.loaded == 1 and len(bench.last_load_report.skipped) == 4


def test_missing_prompt_wavs_listed_at_once(layout):
    (layout / "en" / "prompt-wavs" / "a.wav").unlink()
    (layout / "zh" / "prompt-wavs" / "c.wav").unlink()
    with pytest.raises(MissingFilesError) as info:
        SeedTTSEval().load(layout)
    # a.wav serves u1 and u3, c.wav the four zh/hard lines: one entry per affected line.
    assert len(info.value.problems) == 6
    assert {str(p.path) for p in info.value.problems} == {
        str(layout / "en" / "prompt-wavs" / "a.wav"),
        str(layout / "zh" / "prompt-wavs" / "c.wav"),
    }
    assert [s.id for s in SeedTTSEval().load(layout, SampleSelection(skip_bad=True))] == ["u2"]


def test_partial_copies_need_sets(layout):
    for f in ("zh/meta.lst", "zh/hardcase.lst"):
        (layout / f).unlink()
    with pytest.raises(BadInputError, match="zh list not found"):
        SeedTTSEval().load(layout)
    assert [s.id for s in SeedTTSEval().load(layout, SampleSelection(sets=("en",)))] == ["u1", "u2", "u3"]


def test_no_lists_at_all(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(DataNotFoundError, match="no Seed-TTS-eval meta lists"):
        SeedTTSEval().load(tmp_path / "x")
    with pytest.raises(DataNotFoundError, match="nava-eval data import seedtts"):
        SeedTTSEval().load(None)


def test_validate(layout):
    report = SeedTTSEval(expected_counts={"en": 3, "zh": 2, "hard": 2}).validate(layout)
    assert report.ok, report.lines()
    assert "1/1 optional ground-truth wavs present" in report.notes[0]
    official = SeedTTSEval().validate(layout, sets=("en",))
    assert not official.ok and [(c.set, c.found, c.expected) for c in official.counts] == [("en", 3, 1088)]
    (layout / "en" / "prompt-wavs" / "b.wav").write_bytes(b"garbage")
    report = SeedTTSEval(expected_counts={"en": 3, "zh": 2, "hard": 2}).validate(layout)
    assert [str(p.path) for p in report.problems] == [str(layout / "en" / "prompt-wavs" / "b.wav")]
    assert report.problems[0].message.startswith("unreadable audio")
