"""The smoke data set: written at run time, read back by the real loaders, same bytes for the same seed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from nava_eval.benchmarks.base import SampleSelection, get_benchmark
from nava_eval.benchmarks.smoke import (
    IMAGE_SIZE,
    SAMPLE_RATE,
    SMOKE_SEEDTTS_COUNTS,
    SMOKE_USER_COUNT,
    SMOKE_VERSEBENCH_COUNTS,
    write_smoke_dataset,
)
from nava_eval.benchmarks.user_jsonl import speech_spans


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    # Loaders consult the data registry; never let a developer's ~/.cache leak into tests.
    monkeypatch.setenv("NAVA_EVAL_HOME", str(tmp_path_factory.mktemp("home")))


def _digests(root: Path, files: tuple[Path, ...]) -> dict[str, str]:
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_loads_back_with_the_real_loaders(tmp_path):
    paths = write_smoke_dataset(tmp_path / "smoke")

    verse = get_benchmark("versebench", expected_counts=SMOKE_VERSEBENCH_COUNTS)
    samples = verse.load(paths.versebench)
    per_set = {s: sum(x.set == s for x in samples) for s in verse.sets}
    assert per_set == SMOKE_VERSEBENCH_COUNTS
    assert [s.id for s in samples] == ["00000", "00001", "300", "301", "01000", "01001"]
    assert all(s.mode == "i2av" and s.image is not None and s.image.is_file() for s in samples)
    assert all(s.meta["prompt_source"] == "nava" for s in samples)
    assert all(speech_spans(s.prompt) for s in samples if s.reference_text is not None)
    by_id = {s.id: s for s in samples}
    # 00001's only <S> span is on-screen text: no speech reference, no speech metrics.
    assert speech_spans(by_id["00001"].prompt) == ["GIRLS RULE"]
    assert by_id["00001"].reference_text is None
    assert verse.metrics_for(by_id["00001"]) == (
        "video_quality",
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
    # MOVA's CLAP score reads each smoke item's own prompt.
    assert all(s.meta["official_prompt"] for s in samples)
    assert by_id["300"].language == "zh" and by_id["00000"].language == "en"
    assert by_id["300"].ground_truth_audio.is_file() and by_id["301"].ground_truth_audio.is_file()
    assert verse.validate(paths.versebench).ok

    seed = get_benchmark("seedtts", expected_counts=SMOKE_SEEDTTS_COUNTS)
    tts = seed.load(paths.seedtts)
    assert {s: sum(x.set == s for x in tts) for s in seed.sets} == SMOKE_SEEDTTS_COUNTS
    assert all(s.mode == "tts" and s.speaker_wavs[0].is_file() and s.prompt_text for s in tts)
    assert seed.validate(paths.seedtts).ok

    user = get_benchmark(f"jsonl:{paths.user_prompts}").load(None)
    assert [(s.id, s.mode) for s in user] == [
        ("long", "t2av"),
        ("portrait", "t2av"),
        ("talk", "i2av"),
        ("waves", "t2av"),
    ]
    by_user_id = {s.id: s for s in user}
    assert by_user_id["portrait"].meta["width"] == 48 and by_user_id["portrait"].meta["height"] == 80
    assert by_user_id["long"].meta["frames"] == 7 and "width" not in by_user_id["long"].meta
    t2a = get_benchmark(f"jsonl:{paths.t2a_prompts}")
    lines = t2a.load(None)
    assert t2a.output_kind == "wav" and [(s.id, s.mode) for s in lines] == [("hello", "t2a"), ("rain", "t2a")]
    assert lines[0].meta["duration"] == 2.0 and "duration" not in lines[1].meta
    assert t2a.metrics_for(lines[0]) == ("audiobox", "sim") and t2a.metrics_for(lines[1]) == ("audiobox",)
    assert len(user) == SMOKE_USER_COUNT
    assert by_user_id["talk"].image == paths.versebench / "set1" / "00000.jpg"


def test_media_are_decodable_and_small(tmp_path):
    paths = write_smoke_dataset(tmp_path / "smoke")
    jpgs = [f for f in paths.files if f.suffix == ".jpg"]
    wavs = [f for f in paths.files if f.suffix == ".wav"]
    assert len(jpgs) == sum(SMOKE_VERSEBENCH_COUNTS.values())
    for jpg in jpgs:
        with Image.open(jpg) as img:
            assert img.size == IMAGE_SIZE and img.mode == "RGB"
    for wav in wavs:
        audio, rate = soundfile.read(wav)
        assert rate == SAMPLE_RATE and audio.ndim == 1
        assert 1.0 <= audio.size / rate <= 2.5
        peak = np.max(np.abs(audio))
        assert 0.5 < peak < 0.65  # normalised to 0.6, not clipped, not silent
    assert sum(f.stat().st_size for f in paths.files) < 1_000_000


def test_speaker_prompts_differ_in_pitch(tmp_path):
    paths = write_smoke_dataset(tmp_path / "smoke")

    def f0(path: Path) -> float:
        audio, rate = soundfile.read(path)
        spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
        freqs = np.fft.rfftfreq(audio.size, 1 / rate)
        band = (freqs > 60) & (freqs < 400)
        return float(freqs[band][np.argmax(spectrum[band])])

    low = f0(paths.seedtts / "en" / "prompt-wavs" / "en_b.wav")  # 115 Hz speaker
    high = f0(paths.seedtts / "en" / "prompt-wavs" / "en_a.wav")  # 210 Hz speaker
    assert 95 < low < 135 and 180 < high < 240


def test_same_seed_same_bytes_other_seed_other_media(tmp_path):
    a = write_smoke_dataset(tmp_path / "a", seed=0)
    b = write_smoke_dataset(tmp_path / "b", seed=0)
    c = write_smoke_dataset(tmp_path / "c", seed=1)
    da, db, dc = _digests(a.root, a.files), _digests(b.root, b.files), _digests(c.root, c.files)
    assert da == db
    assert set(da) == set(dc)
    changed = {k for k in da if da[k] != dc[k]}
    assert {k for k in da if k.endswith((".jpg", ".wav"))} == changed  # text files do not depend on the seed


def test_smoke_selection_is_deterministic(tmp_path):
    paths = write_smoke_dataset(tmp_path / "smoke")
    verse = get_benchmark("versebench")
    chosen = verse.load(paths.versebench, SampleSelection(sets=("set3", "set1"), limit=3))
    assert [s.id for s in chosen] == ["00000", "00001", "01000"]
