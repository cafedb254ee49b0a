"""WER as the Verse-Bench toolkit computes it (`wer/versebench-sensevoice-v1`): SenseVoiceSmall + jiwer.

The toolkit's `wer/sensevoice_inferencer.py` runs funasr `AutoModel(model=SenseVoiceSmall,
vad_model="fsmn-vad", vad_kwargs={"max_single_segment_time": 30000}, hub="hf")` and
`generate(language="auto", use_itn=True, batch_size_s=60, merge_vad=True, merge_length_s=15)` on the
item's wav, one file at a time; the text side (postprocess, strip + lowercase, `jiwer.wer`) is
`metrics.sensevoice_text`. Audio: funasr reads a path with torchaudio, averages the channels and
resamples to 16 kHz with torchaudio's default sinc resampler; we decode the output's audio stream,
average the channels and resample with the same kernel (`speech_audio.resample_sinc`), then hand
funasr the 16 kHz array.

Per item the value is the toolkit's fraction ×100 (`wer_sensevoice`, %; the `wer` quantity has one
unit) and the fraction itself (`wer_fraction`); NAVA's published fraction is scaled to % by
reports/published.py. Population: items with a non-empty `speech_prompt.text` (all three sets),
plain mean over items. funasr is the optional extra `zh`; `smoke=True` replaces SenseVoice by a tiny
seeded random Whisper (no download) so the whole text path runs, and the protocol id says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nava_eval.metrics.asr import MissingBackendError
from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.channels import ChannelReading
from nava_eval.metrics.sensevoice_text import toolkit_wer
from nava_eval.metrics.speech_audio import (
    AudioLoadError,
    EmptyAudioError,
    NoAudioStreamError,
    load_audio,
    resample_sinc,
)

log = logging.getLogger(__name__)

PROTOCOL = "wer/versebench-sensevoice-v1"
FIELD = MetricField(
    "wer_sensevoice",
    "lower",
    "%",
    "Verse-Bench toolkit WER: SenseVoiceSmall (fsmn-VAD, ITN), strip+lowercase, jiwer.wer per item ×100",
    quantity="wer",
)
SENSEVOICE_INSTALL_HINT = (
    "the Verse-Bench WER needs FunASR (SenseVoiceSmall + fsmn-vad): pip install 'nava-eval[zh]' "
    "(or: pip install funasr)"
)


class SenseVoice:
    """funasr SenseVoiceSmall with fsmn-VAD, called exactly as the toolkit calls it (one clip per call)."""

    name = "funasr-sensevoice-small"

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def load(cls, model: str, vad_model: str, device: str = "cpu", hub: str = "hf") -> SenseVoice:
        try:
            from funasr import AutoModel
        except ImportError as exc:
            raise MissingBackendError(SENSEVOICE_INSTALL_HINT) from exc
        return cls(
            AutoModel(
                model=model,
                vad_model=vad_model,
                vad_kwargs={"max_single_segment_time": 30000},
                device=device,
                hub=hub,
                disable_update=True,
            )
        )

    def transcribe_raw(self, wave_16k: np.ndarray) -> str:
        """SenseVoice's raw transcript (with its tags) of one 16 kHz mono clip."""
        res = self.model.generate(
            input=np.asarray(wave_16k, dtype=np.float32),
            fs=16_000,
            cache={},
            language="auto",
            use_itn=True,
            batch_size_s=60,
            merge_vad=True,
            merge_length_s=15,
        )
        return str(res[0]["text"]) if res else ""


class SmokeAsr:
    """A tiny seeded random Whisper standing in for SenseVoice in smoke runs (emits random text)."""

    name = "smoke-random-asr"

    def __init__(self, seed: int = 0) -> None:
        from nava_eval.metrics.asr import tiny_whisper_transformers

        self.whisper = tiny_whisper_transformers(seed)

    def transcribe_raw(self, wave_16k: np.ndarray) -> str:
        return self.whisper.transcribe([wave_16k], "en")[0]


def load_wave_16k_mean(path: Any, reading: ChannelReading | None = None) -> np.ndarray:
    """All channels averaged (or `reading`'s channel), resampled to 16 kHz like torchaudio's default
    Resample (funasr's reader)."""
    audio = load_audio(path)
    wave = audio.channel_mean() if reading is None else reading.select(audio)
    return resample_sinc(wave.astype(np.float32, copy=False), audio.sample_rate)


class SenseVoiceWer(BaseMetric):
    """WER with the Verse-Bench toolkit's SenseVoice pipeline (the protocol of NAVA's WER column)."""

    name = "wer_sensevoice"
    protocol = PROTOCOL
    fields = (FIELD,)
    requires = frozenset({"audio", "reference_text"})
    weight_names = ("sensevoice-small", "fsmn-vad")  # the --weights NAME=PATH overrides (model folders)
    description = (
        "Verse-Bench toolkit WER (NAVA's WER column): items with speech text in set1–3, plain mean; "
        "funasr (extra zh)"
    )
    reload_on_new_device = False
    #: funasr reads a path with torchaudio and averages the channels (metrics/channels.py).
    official_channel = "mean"

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, Any] | None = None,
        benchmark: str | None = None,
        seed: int = 0,
        channel: str | None = None,
        **options: Any,
    ) -> None:
        self.reject_options(options, "seed, channel")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, seed=seed)
        self.reading = ChannelReading.of(self.name, self.official_channel, channel)
        self.protocol = self.protocol_id(variant=self.reading.variant)
        self.asr: SenseVoice | SmokeAsr | None = None
        self.asr_error: str | None = None

    def _loaded(self) -> bool:
        return self.asr is not None or self.asr_error is not None

    def _load(self, device: str) -> None:
        """SenseVoice; a missing funasr fails every item with the install hint, not the run."""
        if self.smoke:
            self.weights_provenance = {"asr": {"source": f"random seed {self.seed}"}}
            self.asr = SmokeAsr(self.seed)
            return
        import importlib.util

        from nava_eval.metrics.weights_audio import FSMN_VAD, SENSEVOICE

        if importlib.util.find_spec("funasr") is None:  # the missing extra is said before a missing model
            self.asr_error = SENSEVOICE_INSTALL_HINT
            log.error("wer_sensevoice: %s", SENSEVOICE_INSTALL_HINT)
            return
        self.weights_provenance = {}
        model, vad = self.hub_source(SENSEVOICE, "hf-cache"), self.hub_source(FSMN_VAD, "hf-cache")
        try:
            self.asr = SenseVoice.load(model, vad, device)
        except MissingBackendError as exc:
            self.asr_error = str(exc)
            log.error("wer_sensevoice: %s", exc)

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        self.setup()
        return [self._score_one(item) for item in items]

    def _score_one(self, item: ScoreInput) -> ScoreOutcome:
        text = item.reference_text
        if text is None or not text.strip():
            return ScoreOutcome.skipped(
                f"{item.id}: no speech text (the toolkit scores items with speech only)"
            )
        if self.asr is None:
            return ScoreOutcome.failed(f"{item.id}: {self.asr_error}")
        try:
            raw = self.asr.transcribe_raw(load_wave_16k_mean(item.output, self.reading))
            note = None
        except NoAudioStreamError as exc:
            # The toolkit scores `<id>.wav` only when it exists: a clip without audio is not scored.
            return ScoreOutcome.skipped(str(exc))
        except EmptyAudioError as exc:
            raw, note = "", f"{exc}: scored as an empty transcript"
        except AudioLoadError as exc:
            return ScoreOutcome.failed(str(exc))
        except Exception as exc:  # an ASR error on one clip must not stop the others
            log.warning("wer_sensevoice: ASR failed on %s", item.output, exc_info=True)
            return ScoreOutcome.failed(f"{item.id}: ASR failed ({type(exc).__name__}: {exc})")
        result = toolkit_wer(text, raw)
        values: dict[str, Any] = {
            "wer_sensevoice": result.wer * 100.0,
            "wer_fraction": result.wer,
            "raw_transcript": raw,
            "hypothesis": result.hypothesis,
            "reference": result.reference,
        }
        if note:
            values["note"] = note
        return ScoreOutcome.ok(**values)
