"""Per-speaker SIM (`sim-speakers/whisper-words-wavlm-ecapa-v1`): each speech span against its own speaker.

NAVA binds `spk_wavs[i]` to the i-th `<S>…<E>` span of the prompt (multi-timbre speech), but the
Seed-TTS SIM protocol (`metrics.speaker_similarity`) compares the whole clip with one prompt wav. No
published protocol scores each speaker; this one does, per generated clip:

1. read the generated audio (channel 0 by default, as SIM; `--channel` gives a variant), resample to
   16 kHz with torchaudio's default sinc kernel (`speech_audio.resample_sinc`);
2. transcribe it with Whisper-large-v3 (transformers, forced language when the sample has one,
   greedy) with word timestamps (`return_timestamps="word"`: cross-attention DTW on the model's
   alignment heads);
3. locate each span in the transcript (`metrics.speaker_spans`: token alignment; a span is located
   when at least half its words are heard, from its first matched word's start to its last one's end);
4. embed each located stretch and its own reference wav with SIM's WavLM-Large + ECAPA network and
   take the cosine ×100.

Fields: `sim_speakers`, the mean over located spans, and `sim_speakers_worst`, the lowest located
span. Every span's time, words matched, cosine or reason not located is kept in the record
(`spans`). A clip where no span is located is `skipped` with the reasons. See
docs/protocols/sim_speakers.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.interrupts import reraise_interrupts
from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.channels import ChannelReading
from nava_eval.metrics.speaker_spans import SpanLocation, Word, cut, locate_spans, speech_spans
from nava_eval.metrics.speech_audio import TARGET_SR, AudioLoadError, load_audio, resample_sinc

log = logging.getLogger(__name__)

PROTOCOL = "sim-speakers/whisper-words-wavlm-ecapa-v1"
WHISPER_LANGUAGE_NAMES = {"en": "english", "zh": "chinese"}
_WINDOW_SECONDS = 30.0

FIELDS = (
    MetricField(
        "sim_speakers",
        "higher",
        "×100",
        "mean over <S>…<E> spans of the cosine (WavLM-large+ECAPA) of the span's located speech and its own "
        "speaker wav",
    ),
    MetricField(
        "sim_speakers_worst",
        "higher",
        "×100",
        "the lowest per-span speaker similarity of the clip (the worst-cloned speaker)",
    ),
)


class WhisperWords:
    """Whisper through transformers' ASR pipeline, returning each clip's words with their times."""

    def __init__(self, model: Any, processor: Any, device: str = "cpu") -> None:
        from transformers import pipeline

        if not getattr(model.generation_config, "alignment_heads", None):
            raise ValueError("word timestamps need the model's alignment_heads (generation_config)")
        if processor.tokenizer.pad_token is None:  # batching pads the decoder prompts
            processor.tokenizer.pad_token = processor.tokenizer.eos_token
        self.pipe = pipeline(
            "automatic-speech-recognition",
            model=model.to(device).eval(),
            tokenizer=processor.tokenizer,
            feature_extractor=processor.feature_extractor,
            device=device,
        )

    def words(self, waves: Sequence[np.ndarray], language: str | None, batch_size: int) -> list[list[Word]]:
        """The words of each 16 kHz mono wave, in order; clips over 30 s go through chunked decoding."""
        generate_kwargs: dict[str, Any] = {"task": "transcribe"}
        if language is not None:
            generate_kwargs["language"] = WHISPER_LANGUAGE_NAMES.get(language, language)
        out: list[list[Word] | None] = [None] * len(waves)
        short = [i for i, w in enumerate(waves) if len(w) <= _WINDOW_SECONDS * TARGET_SR]
        if short:
            results = self.pipe(
                [np.asarray(waves[i], dtype=np.float32) for i in short],
                batch_size=batch_size,
                return_timestamps="word",
                generate_kwargs=generate_kwargs,
            )
            for i, result in zip(short, results, strict=True):
                out[i] = _words(result)
        for i, wave in enumerate(waves):
            if out[i] is None:
                result = self.pipe(
                    np.asarray(wave, dtype=np.float32),
                    chunk_length_s=_WINDOW_SECONDS,
                    return_timestamps="word",
                    generate_kwargs=generate_kwargs,
                )
                out[i] = _words(result)
        return [w or [] for w in out]


def _words(result: Mapping[str, Any]) -> list[Word]:
    words = []
    for chunk in result.get("chunks") or []:
        start, end = chunk.get("timestamp") or (None, None)
        if start is None:
            continue
        words.append(Word(str(chunk.get("text", "")), float(start), None if end is None else float(end)))
    return words


def tiny_whisper_words(seed: int = 0, device: str = "cpu") -> WhisperWords:
    """The smoke Whisper of `metrics.asr` with alignment heads, so the word-timestamp path runs."""
    from nava_eval.metrics.asr import tiny_whisper_transformers

    asr = tiny_whisper_transformers(seed)
    asr.model.generation_config.alignment_heads = [[0, 0], [0, 1]]
    return WhisperWords(asr.model, asr.processor, device)


class SpeakerSpanSimilarity(BaseMetric):
    """SIM per `<S>…<E>` span: located by Whisper word timestamps, scored against the span's own speaker wav."""

    name = "sim_speakers"
    protocol = PROTOCOL
    fields = FIELDS
    requires = frozenset({"audio", "reference_audio"})
    weight_names = ("whisper-large-v3", "wavlm_large_finetune", "wavlm-large")
    description = (
        "Per-speaker SIM (no published anchor): each <S>…<E> span located by Whisper word timestamps, "
        "scored against its own spk_wav; mean over spans and worst span"
    )
    default_batch_size = 8
    reload_on_new_device = False
    #: As SIM (seed-tts-eval reads channel 0); metrics/channels.py.
    official_channel = "left"

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, Any] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        channel: str | None = None,
        language: str | None = None,
        **options: Any,
    ) -> None:
        self.reject_options(options, "batch_size, seed, channel, language")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.reading = ChannelReading.of(self.name, self.official_channel, channel)
        self.protocol = self.protocol_id(variant=self.reading.variant)
        self.default_language = language
        self.asr: WhisperWords | None = None
        self.sim: Any = None  # a SpeakerSimilarity whose network embeds the spans

    def _loaded(self) -> bool:
        return self.asr is not None and self.sim is not None and self.sim._loaded()

    def _load(self, device: str) -> None:
        from nava_eval.metrics.speaker_similarity import SpeakerSimilarity

        self.sim = SpeakerSimilarity(
            smoke=self.smoke, weights=self.weight_overrides, batch_size=self.batch_size, seed=self.seed
        )
        self.sim.setup(device)
        if self.smoke:
            self.asr = tiny_whisper_words(self.seed, device)
            self.weights_provenance = {
                "whisper": {"source": f"random seed {self.seed}"},
                **self.sim.weights_provenance,
            }
            return
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        from nava_eval.metrics.weights_speech import WHISPER_HF

        source = self.hub_source(WHISPER_HF)
        model = WhisperForConditionalGeneration.from_pretrained(source)
        self.asr = WhisperWords(model, WhisperProcessor.from_pretrained(source), device)
        self.weights_provenance.update(self.sim.weights_provenance)

    # ------------------------------------------------------------------ scoring

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        self.setup(self.device)
        assert self.asr is not None
        return self.score_with_words(items, lambda waves: self._transcribe(items, waves))

    def score_with_words(
        self,
        items: Sequence[ScoreInput],
        transcribe: Callable[[Mapping[int, np.ndarray]], Mapping[int, list[Word] | Exception]],
    ) -> list[ScoreOutcome]:
        """Steps 3–4 for words found by `transcribe` (batch position → 16 kHz wave → its words)."""
        self.setup(self.device)
        assert self.sim is not None
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        waves: dict[int, np.ndarray] = {}
        pairs: dict[int, list[tuple[str, Path | None]]] = {}
        for i, item in enumerate(items):
            outcome, wave, spans = self._prepare(item)
            if outcome is not None:
                outcomes[i] = outcome
            else:
                waves[i], pairs[i] = wave, spans  # type: ignore[assignment]
        words = dict(transcribe(waves)) if waves else {}
        locations: dict[int, list[SpanLocation]] = {}
        to_embed: dict[Any, np.ndarray] = {}
        refs: dict[Path, np.ndarray | Exception] = {}
        for i, wave in waves.items():
            if isinstance(words.get(i), Exception):
                outcomes[i] = ScoreOutcome.failed(f"{items[i].id}: {words[i]}")
                continue
            texts = [text for text, _ in pairs[i]]
            locations[i] = locate_spans(texts, words[i], duration=len(wave) / TARGET_SR)
            for loc, (_, ref) in zip(locations[i], pairs[i], strict=True):
                if loc.located and ref is not None:
                    to_embed[("span", i, loc.index)] = cut(wave, TARGET_SR, loc.start, loc.end)  # type: ignore[arg-type]
                    if ref not in refs:
                        refs[ref] = self._reference(ref)
        for ref, wave in refs.items():
            if not isinstance(wave, Exception):
                to_embed[("ref", ref)] = wave
        embs = self.sim.embed_waves(to_embed) if to_embed else {}
        for i in locations:
            outcomes[i] = self._outcome(i, items[i], pairs[i], locations[i], words[i], embs, refs)
        return [o if o is not None else ScoreOutcome.failed("internal: not scored") for o in outcomes]

    def _prepare(self, item: ScoreInput) -> tuple[ScoreOutcome | None, np.ndarray | None, Any]:
        prompt = str(item.meta.get("prompt") or "")
        spans = speech_spans(prompt)
        if not spans:
            return ScoreOutcome.skipped(f"{item.id}: the prompt has no <S>…<E> speech span"), None, None
        wavs = [Path(p) for p in item.meta.get("speaker_wavs") or []]
        if not wavs:
            return (
                ScoreOutcome.skipped(
                    f"{item.id}: no speaker reference wavs (spk_wavs) to compare spans with"
                ),
                None,
                None,
            )
        try:
            audio = load_audio(item.output)
            wave = resample_sinc(self.reading.select(audio).astype(np.float32), audio.sample_rate)
        except AudioLoadError as exc:
            return ScoreOutcome.failed(str(exc)), None, None
        # NAVA binds spk_wavs[i] to the i-th span; a span past the last wav has no speaker to match.
        return None, wave, [(text, wavs[k] if k < len(wavs) else None) for k, text in enumerate(spans)]

    def _transcribe(self, items: Sequence[ScoreInput], waves: Mapping[int, np.ndarray]) -> dict[int, Any]:
        assert self.asr is not None
        by_language: dict[str | None, list[int]] = {}
        for i in waves:
            by_language.setdefault(items[i].language or self.default_language, []).append(i)
        out: dict[int, Any] = {}
        for language, order in by_language.items():
            try:
                found = self.asr.words([waves[i] for i in order], language, self.batch_size or 8)
                out.update(zip(order, found, strict=True))
            except Exception as exc:  # isolate the bad clip: one at a time
                reraise_interrupts(exc)
                log.warning("sim_speakers: ASR batch of %d failed (%s); one at a time", len(order), exc)
                for i in order:
                    try:
                        out[i] = self.asr.words([waves[i]], language, 1)[0]
                    except Exception as one_exc:
                        reraise_interrupts(one_exc)
                        out[i] = RuntimeError(f"ASR failed ({type(one_exc).__name__}: {one_exc})")
        return out

    @staticmethod
    def _reference(path: Path) -> np.ndarray | Exception:
        from nava_eval.metrics.speaker_similarity import load_wave_16k

        try:
            return load_wave_16k(path)  # channel 0, as SIM reads a prompt wav
        except AudioLoadError as exc:
            return exc

    def _outcome(
        self,
        i: int,
        item: ScoreInput,
        pairs: list[tuple[str, Path | None]],
        locations: list[SpanLocation],
        words: list[Word],
        embs: Mapping[Any, Any],
        refs: Mapping[Path, Any],
    ) -> ScoreOutcome:
        import torch
        import torch.nn.functional as F

        spans: list[dict[str, Any]] = []
        sims: list[float] = []
        n_wavs = len(item.meta.get("speaker_wavs") or [])
        for loc, (_, ref) in zip(locations, pairs, strict=True):
            row: dict[str, Any] = {k: v for k, v in asdict(loc).items() if v is not None}
            row["reference"] = str(ref) if ref is not None else None
            if ref is None:
                row["reason"] = f"no speaker wav for this span (spk_wavs has {n_wavs} for {len(pairs)} spans)"
            elif loc.located:
                gen, emb = embs.get(("span", i, loc.index)), embs.get(("ref", ref))
                problem = next((e for e in (refs.get(ref), gen, emb) if isinstance(e, Exception)), None)
                if problem is not None:
                    row["reason"] = str(problem)
                elif gen is None or emb is None:
                    row["reason"] = "internal: span not embedded"
                else:
                    cos = float(
                        F.cosine_similarity(torch.as_tensor(gen)[None], torch.as_tensor(emb)[None])[0]
                    )
                    row["sim"] = cos * 100.0
                    sims.append(cos * 100.0)
            spans.append(row)
        details = {
            "spans": spans,
            "n_spans": len(spans),
            "n_located": len(sims),
            "transcript": "".join(w.text for w in words).strip(),
        }
        if not sims:
            reasons = "; ".join(f"span {r['index'] + 1}: {r.get('reason')}" for r in spans)
            return ScoreOutcome.skipped(f"{item.id}: no span could be scored ({reasons})", **details)
        return ScoreOutcome.ok(sim_speakers=float(np.mean(sims)), sim_speakers_worst=min(sims), **details)
