"""Word error rate as Seed-TTS-eval computes it (`wer/seedtts-v1`), plus two documented variants.

* `wer/seedtts-v1` (default): English ASR = Whisper-large-v3 via transformers (16 kHz with
  `scipy.signal.resample`, forced English transcription, greedy); Chinese ASR = Paraformer-zh via
  funasr (extra `zh`), output converted to simplified characters. Normalisation and per-utterance
  WER: `metrics.text_normalization` (identical to `process_one`). Per-sample value = utterance WER
  x100; the aggregate is the mean of those (`aggregate_wer`), with coverage.
* `wer/openai-whisper-large-v3-v1` (`backend="openai-whisper"`): the openai-whisper package instead
  of transformers for English, same normaliser.
* `wer/versebench-v1` (`benchmark="versebench"`): the same ASR and normaliser, scored against
  VerseBench's `speech_prompt.text` (ScoreInput.reference_text). It is NOT the Verse-Bench
  toolkit's number (SenseVoiceSmall, lowercase only, punctuation kept): see docs/protocols/wer.md.

`smoke=True` swaps in tiny seeded random ASR models (no download) for every language; the
protocol id gets `+smoke-random-weights` and the values mean nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nava_eval.interrupts import reraise_interrupts
from nava_eval.metrics.asr import AsrBackend, MissingBackendError
from nava_eval.metrics.base import SMOKE_SUFFIX, BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.channels import ChannelReading
from nava_eval.metrics.speech_audio import AudioLoadError, load_audio, resample_fft
from nava_eval.metrics.text_normalization import (
    SUPPORTED_LANGUAGES,
    EmptyReferenceError,
    UtteranceMeasures,
    WerAggregate,
    aggregate_wer,
    normalize,
    utterance_measures,
    utterance_wer,
)

__all__ = [
    "WerMetric",
    "WerAggregate",
    "aggregate_wer",
    "normalize",
    "utterance_measures",
    "utterance_wer",
    "protocol_id",
]

log = logging.getLogger(__name__)

BACKENDS = ("transformers", "openai-whisper")


def protocol_id(backend: str = "transformers", benchmark: str | None = None, smoke: bool = False) -> str:
    """The protocol id for a backend / benchmark / smoke combination."""
    if backend not in BACKENDS:
        raise ValueError(f"wer: unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if benchmark == "versebench":
        base = (
            "wer/versebench-v1" if backend == "transformers" else "wer/versebench-openai-whisper-large-v3-v1"
        )
    else:
        base = "wer/seedtts-v1" if backend == "transformers" else "wer/openai-whisper-large-v3-v1"
    return base + (SMOKE_SUFFIX if smoke else "")


class WerMetric(BaseMetric):
    """Whisper-large-v3 (en) / Paraformer-zh (zh) ASR, Seed-TTS-eval normalisation, jiwer."""

    name = "wer"
    protocol = protocol_id()  # Seed-TTS-eval's; VerseBench and the openai-whisper backend have their own
    fields = (
        MetricField("wer", "lower", "%", "word error rate (CER for Chinese), mean of per-utterance ×100"),
    )
    requires = frozenset({"audio", "reference_text", "language"})
    weight_names = (
        "whisper-large-v3",
        "whisper-large-v3-openai",
        "paraformer-zh",
    )  # the --weights NAME=PATH overrides this metric uses
    description = "Whisper-large-v3 (en) / Paraformer-zh (zh) ASR, Seed-TTS-eval normalisation, jiwer"
    default_batch_size = 16
    reload_on_new_device = False
    #: seed-tts-eval reads with soundfile (channels kept); we take channel 0 (metrics/channels.py).
    official_channel = "left"

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, Any] | None = None,
        benchmark: str | None = None,
        backend: str = "transformers",
        language: str | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        channel: str | None = None,
        **options: Any,
    ) -> None:
        self.reject_options(options, "backend, language, batch_size, seed, channel")
        if language is not None and language not in SUPPORTED_LANGUAGES:
            raise ValueError(f"wer: language must be one of {SUPPORTED_LANGUAGES}, got {language!r}")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.reading = ChannelReading.of(self.name, self.official_channel, channel)
        self.protocol = self.protocol_id(protocol_id(backend, benchmark), self.reading.variant)
        self.backend = backend
        self.default_language = language
        self._asr: dict[str, AsrBackend] = {}
        self._asr_errors: dict[str, str] = {}
        self._ready = False

    # ------------------------------------------------------------------ models

    def _loaded(self) -> bool:
        return self._ready

    def _load(self, device: str) -> None:
        """The English ASR now; Chinese ASR is loaded on the first Chinese item (optional extra)."""
        self._load_asr("en")
        self._ready = True

    def _load_asr(self, lang: str) -> AsrBackend | None:
        if lang in self._asr:
            return self._asr[lang]
        if lang in self._asr_errors:
            return None
        from nava_eval.metrics import asr
        from nava_eval.metrics.weights_speech import PARAFORMER_ZH, WHISPER_HF, WHISPER_OPENAI

        try:
            if self.smoke:
                self.weights_provenance[f"asr-{lang}"] = {"source": f"random seed {self.seed}"}
                model: AsrBackend = (
                    asr.tiny_whisper_transformers(self.seed)
                    if self.backend == "transformers"
                    else asr.tiny_whisper_openai(self.seed)
                )
            elif lang == "zh":
                try:  # the `zh` extra first, so a missing install says so before a missing model does
                    import funasr  # noqa: F401
                except ImportError as exc:
                    raise MissingBackendError(asr.ZH_INSTALL_HINT) from exc
                model = asr.Paraformer.load(self.hub_source(PARAFORMER_ZH, source="funasr"), self.device)
            elif self.backend == "transformers":
                model = asr.TransformersWhisper.from_pretrained(self.hub_source(WHISPER_HF), self.device)
            else:
                # A single checked file from the weight cache (or --weights), never an implicit download.
                model = asr.OpenAIWhisper.load(str(self.resolve_weight(WHISPER_OPENAI)), self.device)
        except MissingBackendError as exc:
            # A missing optional extra fails the items of that language, not the whole run.
            self._asr_errors[lang] = str(exc)
            log.error("wer: %s", exc)
            return None
        self._asr[lang] = model
        return model

    # ------------------------------------------------------------------ scoring

    def transcribe(self, waves: Sequence[np.ndarray], language: str) -> list[str]:
        """Raw transcripts of 16 kHz mono waves in one language, `batch_size` at a time."""
        model = self._load_asr(language)
        if model is None:
            raise MissingBackendError(self._asr_errors[language])
        out: list[str] = []
        for start in range(0, len(waves), self.batch_size):
            out += model.transcribe(waves[start : start + self.batch_size], language)
        return out

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        if not self._ready:
            self.setup(self.device)
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        pending: dict[str, list[tuple[int, np.ndarray]]] = {}
        for i, item in enumerate(items):
            outcome, lang, wave = self._prepare(item)
            if outcome is not None:
                outcomes[i] = outcome
            else:
                assert lang is not None and wave is not None
                pending.setdefault(lang, []).append((i, wave))
        for lang, entries in pending.items():
            for start in range(0, len(entries), self.batch_size):
                chunk = entries[start : start + self.batch_size]
                for (i, _), result in zip(chunk, self._transcribe_chunk(lang, chunk), strict=True):
                    outcomes[i] = self._score_one(items[i], lang, result)
        return [o if o is not None else ScoreOutcome.failed("internal: not scored") for o in outcomes]

    def _prepare(self, item: ScoreInput) -> tuple[ScoreOutcome | None, str | None, np.ndarray | None]:
        text = item.reference_text
        if text is None or not text.strip():
            return ScoreOutcome.skipped(f"{item.id}: no reference text (nothing is spoken)"), None, None
        lang = item.language or self.default_language
        if lang not in SUPPORTED_LANGUAGES:
            return (
                ScoreOutcome.skipped(
                    f"{item.id}: language {lang!r} is not scored by {self.protocol} (only 'en' and 'zh'); "
                    "set the sample's language or pass language='en'|'zh'"
                ),
                None,
                None,
            )
        if not normalize(text, lang).strip():
            return (
                ScoreOutcome.skipped(f"{item.id}: reference text {text!r} is empty after normalisation"),
                None,
                None,
            )
        if lang in self._asr_errors:
            return ScoreOutcome.failed(f"{item.id}: {self._asr_errors[lang]}"), None, None
        try:
            audio = load_audio(item.output)
        except AudioLoadError as exc:
            return ScoreOutcome.failed(str(exc)), None, None
        # seed-tts-eval: soundfile float64, FFT resample to 16 kHz; channel 0 of multichannel files.
        try:
            channel = self.reading.select(audio)
        except AudioLoadError as exc:
            return ScoreOutcome.failed(str(exc)), None, None
        wave = resample_fft(channel, audio.sample_rate).astype(np.float32)
        return None, lang, wave

    def _transcribe_chunk(self, lang: str, chunk: list[tuple[int, np.ndarray]]) -> list[str | Exception]:
        try:
            return list(self.transcribe([w for _, w in chunk], lang))
        except MissingBackendError as exc:
            return [exc for _ in chunk]
        except Exception as exc:  # isolate the bad item: retry one by one
            reraise_interrupts(exc)
            log.warning("wer: ASR batch of %d failed (%s); retrying one at a time", len(chunk), exc)
            results: list[str | Exception] = []
            for _, wave in chunk:
                try:
                    results.append(self.transcribe([wave], lang)[0])
                except Exception as one_exc:
                    reraise_interrupts(one_exc)
                    results.append(RuntimeError(f"ASR failed ({type(one_exc).__name__}: {one_exc})"))
            return results

    def _score_one(self, item: ScoreInput, lang: str, result: str | Exception) -> ScoreOutcome:
        if isinstance(result, Exception):
            return ScoreOutcome.failed(f"{item.id}: {result}")
        try:
            m: UtteranceMeasures = utterance_measures(item.reference_text or "", result, lang)
        except EmptyReferenceError as exc:
            return ScoreOutcome.skipped(f"{item.id}: {exc}")
        return ScoreOutcome.ok(
            wer=m.wer * 100.0,
            wer_fraction=m.wer,
            language=lang,
            hypothesis=result,
            normalized_reference=m.normalized_reference,
            normalized_hypothesis=m.normalized_hypothesis,
            substitutions=m.substitutions,
            deletions=m.deletions,
            insertions=m.insertions,
            hits=m.hits,
        )
