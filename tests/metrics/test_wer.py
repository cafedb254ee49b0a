"""WER: exact Seed-TTS-eval normalisation/WER on the shared vectors, tiny ASR end to end, coverage."""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nava_eval.metrics.base import ScoreInput, get_metric
from nava_eval.metrics.text_normalization import EmptyReferenceError, utterance_measures
from nava_eval.metrics.wer import WerMetric, aggregate_wer, normalize, protocol_id, utterance_wer


@pytest.fixture(scope="module")
def pairs(shared_dir: Path) -> list[dict]:
    lines = (
        (shared_dir / "fixtures" / "seedtts_wer" / "wer_pairs.jsonl").read_text(encoding="utf-8").splitlines()
    )
    rows = [json.loads(line) for line in lines if line.strip()]
    assert {r["lang"] for r in rows} == {"en", "zh"}
    return rows


def test_normalize_matches_official_strings(pairs: list[dict]) -> None:
    for row in pairs:
        hyp = row["hypothesis_after_zhconv"] if row["lang"] == "zh" else row["hypothesis"]
        assert normalize(row["reference"], row["lang"]) == row["normalized_reference"], row["id"]
        assert normalize(hyp, row["lang"]) == row["normalized_hypothesis"], row["id"]


def test_utterance_wer_and_rates_match_official(pairs: list[dict]) -> None:
    for row in pairs:
        # The raw hypothesis goes in: zhconv (hypothesis only) is part of the zh path.
        assert utterance_wer(row["reference"], row["hypothesis"], row["lang"]) == row["expected_wer"], row[
            "id"
        ]
        m = utterance_measures(row["reference"], row["hypothesis"], row["lang"])
        assert m.sub_rate == row["expected_sub_rate"], row["id"]
        assert m.del_rate == row["expected_del_rate"], row["id"]
        assert m.ins_rate == row["expected_ins_rate"], row["id"]
        counts = row["jiwer_counts"]
        assert (m.hits, m.substitutions, m.deletions, m.insertions, m.ref_words) == (
            counts["hits"],
            counts["substitutions"],
            counts["deletions"],
            counts["insertions"],
            counts["ref_words"],
        ), row["id"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_aggregate_matches_average_wer_py(pairs: list[dict], shared_dir: Path, lang: str) -> None:
    expected = json.loads((shared_dir / "fixtures" / "seedtts_wer" / f"aggregate_{lang}.json").read_text())
    rows = [r for r in pairs if r["lang"] == lang]
    agg = aggregate_wer([utterance_wer(r["reference"], r["hypothesis"], lang) for r in rows])
    assert agg.n_scored == expected["n"]
    assert agg.wer_percent == expected["wer_percent"]
    assert agg.official_line() == expected["official_output_line"]
    assert agg.mean_wer == pytest.approx(expected["mean_wer_unrounded"], abs=1e-15)
    assert agg.n_above_half == expected["n_utts_wer_above_0.5"]
    assert agg.coverage == 1.0 and agg.missing_ids == ()


def test_aggregate_lists_missing_outputs() -> None:
    agg = aggregate_wer([0.1, None, 0.3, None], ids=["a", "b", "c", "d"])
    assert agg.missing_ids == ("b", "d")
    assert (agg.n_scored, agg.n_expected, agg.coverage) == (2, 4, 0.5)
    assert agg.mean_wer == pytest.approx(0.2) and agg.wer_percent == 20.0
    assert math.isnan(aggregate_wer([None]).wer_percent)
    with pytest.raises(ValueError, match="ids"):
        aggregate_wer([0.1], ids=["a", "b"])


def test_official_quirks() -> None:
    assert normalize("A well-known fact, 3.14 $5", "en") == "a wellknown fact 314 5"
    assert normalize("can't", "en") != normalize("can’t", "en")  # only the ASCII apostrophe survives
    assert normalize("iPhone很好。", "zh") == "i P h o n e 很 好"  # zh is not lowercased
    assert normalize("a    b", "en") == "a  b"  # one pass of "  " -> " "; jiwer collapses the rest
    assert utterance_wer("hello world", "", "en") == 1.0
    assert utterance_wer("欢迎大家", "歡迎大家", "zh") == 0.0  # traditional hypothesis converted
    assert utterance_wer("歡迎", "欢迎", "zh") == 0.5  # ... but never the reference (歡 != 欢)
    with pytest.raises(EmptyReferenceError):
        utterance_wer("...", "x", "en")
    with pytest.raises(ValueError, match="'en' and 'zh'"):
        normalize("x", "fr")


def test_protocol_ids() -> None:
    assert protocol_id() == "wer/seedtts-v1"
    assert protocol_id("openai-whisper") == "wer/openai-whisper-large-v3-v1"
    assert protocol_id(benchmark="versebench") == "wer/versebench-v1"
    assert WerMetric(smoke=True).protocol == "wer/seedtts-v1+smoke-random-weights"
    assert get_metric("wer", benchmark="versebench").protocol == "wer/versebench-v1"
    with pytest.raises(ValueError, match="backend"):
        WerMetric(backend="nemo")
    with pytest.raises(TypeError, match="unknown option"):
        WerMetric(beam=5)


def _tone(path: Path, sr: int, seconds: float, freq: float) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)
    return path


@pytest.fixture(scope="module")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("wer_wavs")
    return {
        "a": _tone(d / "a.wav", 24_000, 1.0, 220.0),  # resampled 24 kHz -> 16 kHz
        "b": _tone(d / "b.wav", 16_000, 0.7, 440.0),
        "c": _tone(d / "c.wav", 16_000, 1.3, 330.0),
    }


@pytest.mark.parametrize("backend", ["transformers", "openai-whisper"])
def test_tiny_whisper_end_to_end(
    backend: str, wavs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import whisper

    def no_ffmpeg(*args: object, **kwargs: object) -> None:
        raise AssertionError("audio must be passed as arrays, never through ffmpeg")

    monkeypatch.setattr(whisper, "load_audio", no_ffmpeg)
    monkeypatch.setattr(whisper.audio, "load_audio", no_ffmpeg)
    metric = WerMetric(smoke=True, backend=backend, batch_size=3)
    metric.setup("cpu")
    items = [ScoreInput(k, "s", p, reference_text="Hello, world!", language="en") for k, p in wavs.items()]
    batched = metric.score_batch(items)
    assert [o.status for o in batched] == ["ok"] * 3
    for o in batched:
        assert isinstance(o.values["hypothesis"], str) and o.values["hypothesis"].strip()
        assert o.values["wer"] == pytest.approx(
            100 * utterance_wer("Hello, world!", o.values["hypothesis"], "en")
        )
        assert o.values["normalized_reference"] == "hello world"
    one_by_one = [metric.score_batch([item])[0] for item in items]
    assert [o.values["hypothesis"] for o in one_by_one] == [o.values["hypothesis"] for o in batched]


def test_openai_whisper_tokenizer_is_bundled() -> None:
    import whisper.tokenizer

    tok = whisper.tokenizer.get_tokenizer(multilingual=True, language="en", task="transcribe")
    assert tok.decode(tok.encode(" hello world")) == " hello world"


def test_coverage_failures_and_skips(wavs: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    metric = WerMetric(smoke=True)
    items = [
        ScoreInput("ok", "s", wavs["b"], reference_text="Hi there.", language="en"),
        ScoreInput("missing", "s", tmp_path / "nope.wav", reference_text="Hi.", language="en"),
        ScoreInput("broken", "s", broken, reference_text="Hi.", language="en"),
        ScoreInput("notext", "s", wavs["b"], reference_text=None, language="en"),
        ScoreInput("punct", "s", wavs["b"], reference_text="…!", language="en"),
        ScoreInput("nolang", "s", wavs["b"], reference_text="Hi.", language=None),
        ScoreInput("fr", "s", wavs["b"], reference_text="Salut.", language="fr"),
    ]
    out = metric.score_batch(items)
    assert [o.status for o in out] == ["ok", "failed", "failed", "skipped", "skipped", "skipped", "skipped"]
    assert "nope.wav" in out[1].reason and "not found" in out[1].reason
    assert "broken.wav" in out[2].reason and "decode" in out[2].reason
    assert "no reference text" in out[3].reason
    assert "empty after normalisation" in out[4].reason
    values = [o.values["wer_fraction"] if o.status == "ok" else None for o in out]
    agg = aggregate_wer(values, ids=[i.id for i in items])
    assert agg.n_scored == 1 and agg.missing_ids == ("missing", "broken", "notext", "punct", "nolang", "fr")
    # A default language fills in items that have none.
    assert WerMetric(smoke=True, language="en").score_batch([items[5]])[0].status == "ok"


def test_paraformer_zh_path_uses_funasr_and_zhconv(
    wavs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict] = []
    # The model is read in place from the HF cache that `nava-eval weights download paraformer-zh` fills.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("NAVA_EVAL_WEIGHTS_DIR", str(tmp_path / "weights"))
    snapshot = tmp_path / "hf" / "models--funasr--paraformer-zh" / "snapshots" / ("c" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "model.pt").write_bytes(b"paraformer weights")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("c" * 40)

    class FakeAutoModel:
        def __init__(self, model: str, device: str, disable_update: bool) -> None:
            assert model == str(snapshot)

        def generate(self, input: list, key: list, batch_size_s: int) -> list[dict]:
            calls.append({"n": len(input), "batch_size_s": batch_size_s, "dtype": input[0].dtype})
            return [{"key": k, "text": "歡迎大家"} for k in reversed(key)]  # order restored by key

    monkeypatch.setitem(sys.modules, "funasr", types.SimpleNamespace(AutoModel=FakeAutoModel))
    metric = WerMetric()
    metric._ready = True  # skip loading English Whisper-large-v3 (a download); zh loads lazily
    items = [ScoreInput(k, "s", p, reference_text="欢迎大家！", language="zh") for k, p in wavs.items()]
    out = metric.score_batch(items)
    assert [o.values["wer"] for o in out] == [0.0, 0.0, 0.0]
    assert out[0].values["normalized_hypothesis"] == "欢 迎 大 家"
    assert calls == [{"n": 3, "batch_size_s": 300, "dtype": np.float32}]


def test_missing_funasr_fails_zh_items_with_install_hint(
    wavs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "funasr", None)  # import raises ImportError
    metric = WerMetric()
    metric._ready = True
    out = metric.score_batch([ScoreInput("z", "s", wavs["b"], reference_text="你好", language="zh")] * 2)
    assert [o.status for o in out] == ["failed", "failed"]
    assert "pip install" in out[0].reason and "zh" in out[0].reason


def test_transformers_prompt_equals_official_forced_decoder_ids() -> None:
    """generate(language=, task=) must start decoding exactly as run_wer.py's forced_decoder_ids."""
    from nava_eval.metrics.asr import tiny_whisper_transformers

    backend = tiny_whisper_transformers()
    decoder = backend.model.model.decoder
    seen = []
    original = decoder.forward

    def spy(*args: object, **kwargs: object) -> object:
        if kwargs.get("input_ids") is not None and not seen:
            seen.append(kwargs["input_ids"].tolist())
        return original(*args, **kwargs)

    decoder.forward = spy
    backend.transcribe([np.zeros(16_000, dtype=np.float32)], "en")
    forced = backend.processor.get_decoder_prompt_ids(language="english", task="transcribe")
    sot = backend.model.generation_config.decoder_start_token_id
    assert seen[0] == [[sot] + [token for _, token in forced]]


def test_openai_whisper_long_clip_goes_through_transcribe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clips over 30 s are not truncated: they take whisper's sliding-window transcribe, fed an array."""
    import whisper

    from nava_eval.metrics.asr import tiny_whisper_openai

    backend = tiny_whisper_openai()
    calls: list[int] = []
    original = backend.model.transcribe

    def spy(audio: np.ndarray, **kwargs: object) -> dict:
        assert isinstance(audio, np.ndarray)  # never a path: no ffmpeg
        calls.append(len(audio))
        return original(audio, **kwargs)

    monkeypatch.setattr(backend.model, "transcribe", spy)
    monkeypatch.setattr(whisper.audio, "load_audio", lambda *a, **k: pytest.fail("ffmpeg path used"))
    short = np.zeros(16_000, dtype=np.float32)
    long = 0.1 * np.sin(np.arange(31 * 16_000, dtype=np.float32) * 0.05)
    texts = backend.transcribe([short, long], "en")
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert calls == [31 * 16_000]  # only the long clip, once
