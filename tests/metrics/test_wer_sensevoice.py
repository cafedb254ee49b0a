"""Verse-Bench toolkit WER: text path against the official functions' vectors, metric bad input, funasr call."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nava_eval.metrics.base import ScoreInput, get_metric
from nava_eval.metrics.sensevoice_text import (
    rich_transcription_postprocess,
    toolkit_hypothesis,
    toolkit_wer,
)
from nava_eval.metrics.wer_sensevoice import SenseVoice, SenseVoiceWer
from nava_eval.nava.media import write_mp4

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def vectors() -> dict:
    # Made by running wer/wer_inferencer.py + wer/sensevoice_inferencer.py of Dorniwang/Verse-Bench
    # with funasr 1.4.16's postprocess and jiwer 4.0.0, the ASR network replaced by the raw transcript.
    return json.loads((DATA / "wer_sensevoice_toolkit.json").read_text(encoding="utf-8"))


def test_postprocess_and_wer_match_the_toolkit_exactly(vectors: dict) -> None:
    assert len(vectors["cases"]) >= 20
    for case in vectors["cases"]:
        assert rich_transcription_postprocess(case["raw_transcript"]) == case["postprocessed"], case
        result = toolkit_wer(case["reference"], case["raw_transcript"])
        assert result.postprocessed == case["postprocessed"]
        assert result.wer == pytest.approx(case["wer"], abs=1e-12), case


def test_quirks_are_kept() -> None:
    # Emoji of events/emotions stay glued to words; punctuation counts; Chinese is one word.
    assert rich_transcription_postprocess("<|en|><|HAPPY|><|BGM|><|withitn|>Hi there.") == "🎼Hi there.😊"
    assert toolkit_wer("Hello, world", "<|en|><|NEUTRAL|><|Speech|><|withitn|>hello world").wer == 0.5
    assert toolkit_wer("你好世界", "<|zh|><|NEUTRAL|><|Speech|><|withitn|>你好世界。").wer == 1.0
    assert toolkit_hypothesis("?!.") == "" and toolkit_hypothesis("。") == "。"
    with pytest.raises(ValueError, match="empty"):
        toolkit_wer("   ", "anything")


class _FakeFunasr:
    def __init__(self, text: str) -> None:
        self.text = text
        self.calls: list[dict] = []

    def generate(self, **kwargs):
        self.calls.append(kwargs)
        return [{"key": "k", "text": self.text}]


def test_sensevoice_is_called_as_the_toolkit_calls_it() -> None:
    fake = _FakeFunasr("<|en|><|NEUTRAL|><|Speech|><|withitn|>Hello.")
    raw = SenseVoice(fake).transcribe_raw(np.zeros(1600, np.float32))
    assert raw == "<|en|><|NEUTRAL|><|Speech|><|withitn|>Hello."
    call = fake.calls[0]
    assert {k: call[k] for k in ("language", "use_itn", "batch_size_s", "merge_vad", "merge_length_s")} == {
        "language": "auto",
        "use_itn": True,
        "batch_size_s": 60,
        "merge_vad": True,
        "merge_length_s": 15,
    }
    assert call["cache"] == {} and call["fs"] == 16_000 and call["input"].dtype == np.float32


def test_sensevoice_load_passes_vad_and_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}

    class AutoModel:
        def __init__(self, **kwargs) -> None:
            seen.update(kwargs)

    monkeypatch.setitem(sys.modules, "funasr", types.SimpleNamespace(AutoModel=AutoModel))
    SenseVoice.load("/models/SenseVoiceSmall", "fsmn-vad", "cpu")
    assert seen == {
        "model": "/models/SenseVoiceSmall",
        "vad_model": "fsmn-vad",
        "vad_kwargs": {"max_single_segment_time": 30000},
        "device": "cpu",
        "hub": "hf",
        "disable_update": True,
    }


def _metric_with_fake_asr(text: str) -> tuple[SenseVoiceWer, list[np.ndarray]]:
    metric = SenseVoiceWer()
    waves: list[np.ndarray] = []

    class Asr:
        def transcribe_raw(self, wave: np.ndarray) -> str:
            waves.append(wave)
            return text

    metric.asr = Asr()  # type: ignore[assignment]
    return metric, waves


def test_metric_scores_skips_and_fails_per_item(tmp_path: Path) -> None:
    sr = 24_000
    t = np.arange(sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)]).astype(np.float32) * 0.5
    wav = tmp_path / "speech.wav"
    sf.write(wav, stereo.T, sr)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16_000)
    video_only = write_mp4(tmp_path / "silent_film.mp4", np.zeros((4, 32, 32, 3), np.uint8), fps=24)
    metric, waves = _metric_with_fake_asr("<|en|><|NEUTRAL|><|Speech|><|withitn|>Good evening, I will.")
    items = [
        ScoreInput("a", "set1", wav, reference_text="Good evening, I will meet you."),
        ScoreInput("b", "set1", wav, reference_text=None),
        ScoreInput("c", "set2", video_only, reference_text="Hello."),
        ScoreInput("d", "set3", empty, reference_text="Hello there."),
        ScoreInput("e", "set3", tmp_path / "missing.wav", reference_text="Hello."),
    ]
    a, b, c, d, e = metric.score_batch(items)
    assert a.status == "ok"
    assert a.values["wer_fraction"] == pytest.approx(3 / 6)  # "will." ≠ "will", two deletions
    assert a.values["wer_sensevoice"] == pytest.approx(50.0)
    assert a.values["hypothesis"] == "good evening, i will."
    # Channels averaged, resampled to 16 kHz (funasr's reader).
    assert waves[0].shape == (16_000,)
    assert b.status == "skipped" and "no speech text" in b.reason
    assert c.status == "skipped" and "no audio stream" in c.reason
    assert d.status == "ok" and d.values["wer_fraction"] == 1.0 and "no samples" in d.values["note"]
    assert e.status == "failed" and "missing.wav" in e.reason


def test_missing_funasr_fails_items_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "funasr", None)  # import funasr -> ImportError
    metric = get_metric("wer_sensevoice")
    metric.setup("cpu")
    wav = tmp_path / "x.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16_000)
    (out,) = metric.score_batch([ScoreInput("x", "set1", wav, reference_text="hi")])
    assert out.status == "failed" and "nava-eval[zh]" in out.reason
    assert metric.protocol == "wer/versebench-sensevoice-v1"


def test_smoke_metric_runs_the_whole_text_path(tmp_path: Path) -> None:
    wav = tmp_path / "x.wav"
    rng = np.random.default_rng(0)
    sf.write(wav, (0.1 * rng.standard_normal(16_000)).astype(np.float32), 16_000)
    metric = get_metric("wer_sensevoice", smoke=True)
    assert metric.protocol == "wer/versebench-sensevoice-v1+smoke-random-weights"
    metric.setup("cpu")
    (out,) = metric.score_batch([ScoreInput("x", "set1", wav, reference_text="Curiosity is the engine.")])
    assert out.status == "ok"
    expected = toolkit_wer("Curiosity is the engine.", out.values["raw_transcript"]).wer
    assert out.values["wer_fraction"] == pytest.approx(expected) and expected > 0
