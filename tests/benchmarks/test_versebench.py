"""VerseBench loader on a miniature official layout plus NAVA-style prompt files, written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from nava_eval.benchmarks.base import SampleSelection, get_benchmark
from nava_eval.benchmarks.errors import BadInputError, DataNotFoundError, MissingFilesError
from nava_eval.benchmarks.versebench import EXPECTED_COUNTS, VerseBench, speech_language

COUNTS = {"set1": 2, "set2": 2, "set3": 2}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("NAVA_EVAL_HOME", str(tmp_path_factory.mktemp("home")))


def _item(folder: Path, item_id: str, speech: str, audio: list[str], prompt: str, wav: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    item = {
        "prompt": prompt,
        "video_prompt": f"video of {item_id}",
        "audio_prompt": audio,
        "speech_prompt": {"speaker": "someone" if speech else "", "text": speech},
    }
    (folder / f"{item_id}.json").write_text(json.dumps(item, ensure_ascii=False), encoding="utf-8")
    Image.new("RGB", (16, 8), (10, 20, 30)).save(folder / f"{item_id}.jpg")
    if wav:
        soundfile.write(folder / f"{item_id}.wav", np.zeros(800, dtype=np.int16), 16000)


def _nava(folder: Path, set_name: str, rows: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sub = "" if set_name == "set1" else "clips/"
    path = folder / f"{set_name}.jsonl"
    lines = [
        json.dumps(
            {"prompt": p, "image_path": f"verse_bench_data/{set_name}/{sub}{i}.jpg"}, ensure_ascii=False
        )
        for i, p in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def layout(tmp_path) -> Path:
    root = tmp_path / "verse_bench"
    _item(root / "set1", "00001", "", ["cheering"], "official 00001")
    _item(root / "set1", "00000", " Hello there, friend. ", ["traffic"], "official 00000")
    _item(root / "set2", "301", "", ["a dog barking"], "official 301", wav=True)
    _item(root / "set2", "300", "你好，朋友。", [], "official 300", wav=True)
    # set3 items sit in clips/, as NAVA's image paths suggest; the loader accepts both.
    _item(root / "set3" / "clips", "01001", "Second talk.", [], "official 01001")
    _item(root / "set3" / "clips", "01000", "First talk.", [], "official 01000")
    prompts = root / "nava_prompts"
    # Lines deliberately out of order: the loader sorts, it never trusts file or listing order.
    _nava(
        prompts,
        "set1",
        [("00001", "a banner reads <S>GIRLS RULE<E>"), ("00000", "she says <S>Hello there<E>")],
    )
    _nava(prompts, "set2", [("301", "a dog barks"), ("300", "he says <S>你好<E>")])
    _nava(prompts, "set3", [("01001", "talk <S>Second talk.<E>"), ("01000", "talk <S>First talk.<E>")])
    return root


def test_joins_nava_prompts_with_official_references(layout):
    bench = VerseBench(expected_counts=COUNTS)
    samples = bench.load(layout)
    assert [(s.set, s.id) for s in samples] == [
        ("set1", "00000"),
        ("set1", "00001"),
        ("set2", "300"),
        ("set2", "301"),
        ("set3", "01000"),
        ("set3", "01001"),
    ]
    by_id = {s.id: s for s in samples}
    hello = by_id["00000"]
    assert hello.prompt == "she says <S>Hello there<E>"  # generation prompt from NAVA's file
    assert hello.reference_text == "Hello there, friend."  # reference from speech_prompt.text, stripped
    assert hello.mode == "i2av" and hello.image == layout / "set1" / "00000.jpg"
    assert hello.language == "en" and hello.ground_truth_audio is None
    assert hello.meta["audio_prompt"] == ["traffic"] and hello.meta["prompt_source"] == "nava"
    # MOVA's CLAP score reads the item's own prompt, whichever prompt generated the clip.
    assert hello.meta["official_prompt"] and hello.meta["official_prompt"] != hello.prompt
    # The <S> span of 00001 is on-screen text: it must not become a WER reference.
    assert by_id["00001"].reference_text is None and by_id["00001"].language is None
    assert by_id["300"].language == "zh" and by_id["300"].ground_truth_audio == layout / "set2" / "300.wav"
    assert by_id["01000"].image == layout / "set3" / "clips" / "01000.jpg"
    assert len({s.id for s in samples}) == len(samples)


def test_data_dir_may_be_the_parent_folder(layout):
    samples = VerseBench().load(layout.parent)  # <parent>/verse_bench/set1 ...
    assert len(samples) == 6


def test_metrics_per_set_and_per_item(layout):
    bench = VerseBench()
    by_id = {s.id: s for s in bench.load(layout)}
    assert bench.metrics_for(by_id["00000"]) == (
        "sync",
        "video_quality",
        "wer_sensevoice",
        "audiobox",
        "clap",
        "ib",
        "audio_amplitude",
        "av_align",
        "id",
        "audio_is",
        "clap_mova",
        "desync",
        "av_a",
        "videoreward",
    )
    # IB-Score scores items without speech too
    # set2 with an audio_prompt: KL against its ground-truth wav too (the toolkit's kl/kld_inferencer.py)
    assert bench.metrics_for(by_id["301"]) == (
        "video_quality",
        "audiobox",
        "clap",
        "kl",
        "ib",
        "audio_amplitude",
        "av_align",
        "id",
        "audio_is",
        "clap_mova",
        "desync",
        "av_a",
        "videoreward",
    )
    # 300 speaks but has no audio_prompt: no CLAP, KL or AV-A (the toolkit computes CS, FD, KL and AV-A only with one).
    assert bench.metrics_for(by_id["300"]) == (
        "video_quality",
        "sync",
        "wer_sensevoice",
        "audiobox",
        "ib",
        "audio_amplitude",
        "av_align",
        "id",
        "audio_is",
        "clap_mova",
        "desync",
        "videoreward",
    )
    assert bench.metrics_for(by_id["01000"]) == (
        "sync",
        "video_quality",
        "wer_sensevoice",
        "ib",
        "dnsmos",
        "audio_amplitude",
        "av_align",
        "id",
        "audio_is",
        "clap_mova",
        "desync",
        "videoreward",
    )
    # MOVA: amplitude/loudness on every set, mean of the per-set means
    assert bench.field_rules["loudness_lufs"].aggregation == "mean of per-set means"
    assert bench.field_rules["av_align"].aggregation == "mean of per-set means"
    # MOVA: DeSync as the mean of per-set means; Verse-Bench: AV-A pooled over set1+set2
    assert bench.field_rules["desync"].aggregation == "mean of per-set means"
    assert (
        bench.field_rules["av_a"].sets == ("set1", "set2") and bench.field_rules["av_a"].aggregation is None
    )
    # MOVA: DNSMOS on set3 only (P.808 and the P.835 heads of the same pass)
    assert all(
        bench.field_rules[f].sets == ("set3",) for f in ("dnsmos", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
    )
    assert "wer" not in {m for ms in bench.default_metrics.values() for m in ms}  # Whisper WER: --metrics wer
    assert bench.field_rules["fd"].sets == ("set2",) and bench.field_rules["fd_set"].sets == ("set2",)
    # MOVA's protocols: LSE on set3 only, IB-Score as the mean of per-set means
    assert bench.field_rules["sync_c_mova"].sets == bench.field_rules["sync_d_mova"].sets == ("set3",)
    assert (
        bench.field_rules["ib"].aggregation == "mean of per-set means"
        and bench.field_rules["ib"].sets is None
    )
    assert bench.output_kind == "mp4" and bench.aggregation == "per-item mean"
    assert bench.expected_counts == EXPECTED_COUNTS == {"set1": 205, "set2": 295, "set3": 100}
    assert set(bench.default_metrics) == set(bench.sets)


def test_official_prompts_only_by_name_and_missing_nava_files_fail(layout):
    official = VerseBench(prompt_source="official").load(layout)
    assert [s.prompt for s in official][:2] == ["official 00000", "official 00001"]
    assert {s.meta["prompt_source"] for s in official} == {"official"}
    # Without NAVA's files the default (and "auto") fails, naming the files looked for and the fix.
    for f in (layout / "nava_prompts").iterdir():
        f.unlink()
    (layout / "nava_prompts").rmdir()
    for bench in (VerseBench(), VerseBench(prompt_source="auto"), VerseBench(prompt_source="nava")):
        with pytest.raises(DataNotFoundError) as err:
            bench.load(layout)
        message = str(err.value)
        assert str(layout / "verse_bench_rewrite" / "set1.jsonl") in message
        assert "git clone --depth 1 https://github.com/ernie-research/NAVA" in message
        assert "--prompt-source official" in message
    assert [s.prompt for s in VerseBench(prompt_source="official").load(layout)] == [
        s.prompt for s in official
    ]


def test_explicit_prompts_dir(layout, tmp_path):
    other = tmp_path / "elsewhere"
    _nava(other, "set3", [("01000", "other prompt A"), ("01001", "other prompt B")])
    samples = VerseBench(prompts_dir=other).load(layout, SampleSelection(sets=("set3",)))
    assert [s.prompt for s in samples] == ["other prompt A", "other prompt B"]


def test_selection_sets_ids_limit(layout):
    bench = VerseBench()
    assert [s.id for s in bench.load(layout, SampleSelection(sets=("set3",)))] == ["01000", "01001"]
    assert [s.id for s in bench.load(layout, SampleSelection(ids=frozenset({"301", "01001"})))] == [
        "301",
        "01001",
    ]
    assert [s.id for s in bench.load(layout, SampleSelection(limit=3))] == ["00000", "00001", "300"]
    with pytest.raises(ValueError, match="unknown versebench set"):
        bench.load(layout, SampleSelection(sets=("set9",)))


def test_malformed_prompt_lines_name_file_line_field(layout):
    path = layout / "nava_prompts" / "set1.jsonl"
    good = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join([good[0], "{not json", json.dumps({"image_path": "x/00000.jpg"}), ""]), encoding="utf-8"
    )
    with pytest.raises(BadInputError) as info:
        VerseBench().load(layout)
    text = str(info.value)
    assert f"{path}:2: not valid JSON" in text
    assert f"{path}:3: field 'prompt'" in text
    assert "no line for id '00000'" in text  # the official item left without a prompt is reported too
    assert len(info.value.problems) == 3

    bench = VerseBench()
    samples = bench.load(layout, SampleSelection(skip_bad=True))
    assert [s.id for s in samples] == ["00001", "300", "301", "01000", "01001"]
    report = bench.last_load_report
    assert report.loaded == 5 and len(report.skipped) == 3
    assert any("set1.jsonl:2" in line for line in report.lines())


def test_bad_item_json_names_the_field(layout):
    bad = layout / "set2" / "301.json"
    bad.write_text(json.dumps({"prompt": "x", "speech_prompt": "oops", "audio_prompt": []}), encoding="utf-8")
    with pytest.raises(BadInputError, match=r"301\.json: field 'speech_prompt'"):
        VerseBench().load(layout)


def test_missing_media_listed_all_at_once(layout):
    (layout / "set1" / "00000.jpg").unlink()
    (layout / "set3" / "clips" / "01001.jpg").unlink()
    (layout / "set2" / "300.wav").unlink()
    with pytest.raises(MissingFilesError) as info:
        VerseBench().load(layout)
    listed = sorted(str(p.path) for p in info.value.problems)
    assert listed == sorted(
        str(p)
        for p in (
            layout / "set1" / "00000.jpg",
            layout / "set3" / "clips" / "01001.jpg",
            layout / "set2" / "300.wav",
        )
    )
    kept = VerseBench().load(layout, SampleSelection(skip_bad=True))
    assert [s.id for s in kept] == ["00001", "301", "01000"]


def test_unknown_nava_id_and_duplicate_items(layout):
    _nava(layout / "nava_prompts", "set3", [("01000", "a"), ("01001", "b"), ("01077", "c")])
    _item(layout / "set3", "01000", "dup", [], "dup")  # same id in set3/ and set3/clips/
    with pytest.raises(BadInputError) as info:
        VerseBench().load(layout)
    text = str(info.value)
    assert "'01077' has no official set3 item" in text and "also defined by" in text


def test_no_data_anywhere_says_how_to_get_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="nava-eval data download versebench"):
        VerseBench().load(None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="no Verse-Bench set folders"):
        VerseBench().load(tmp_path / "empty")


def test_validate_counts_and_unreadable_files(layout):
    assert VerseBench(expected_counts=COUNTS).validate(layout).ok
    report = VerseBench().validate(layout)  # official counts: 205/295/100
    assert not report.ok and not report.problems
    assert [(c.set, c.found, c.expected) for c in report.counts] == [
        ("set1", 2, 205),
        ("set2", 2, 295),
        ("set3", 2, 100),
    ]
    (layout / "set1" / "00001.jpg").write_bytes(b"not a jpeg")
    (layout / "set2" / "301.wav").write_bytes(b"RIFF0000")
    (layout / "set3" / "clips" / "01000.jpg").unlink()
    report = VerseBench(expected_counts=COUNTS).validate(layout)
    messages = {str(p.path): p.message for p in report.problems}
    assert messages[str(layout / "set1" / "00001.jpg")].startswith("unreadable image")
    assert messages[str(layout / "set2" / "301.wav")].startswith("unreadable audio")
    assert messages[str(layout / "set3" / "clips" / "01000.jpg")] == "missing image"
    assert "NOT OK" in report.lines()[-1]


def test_registry_and_language_detection():
    assert isinstance(get_benchmark("versebench"), VerseBench)
    assert speech_language("你好") == "zh" and speech_language("hello") == "en"
