"""ASR backends for the WER metric: Whisper (transformers or openai-whisper) and Paraformer-zh.

Every backend takes 16 kHz mono float arrays and returns raw transcripts (no normalisation: that is
`metrics.text_normalization`, shared by all backends). Each loads its model once, in its constructor.

* `TransformersWhisper`: seed-tts-eval's English path. `WhisperProcessor` features (30 s window,
  longer audio truncated exactly as the official single-clip call does), decoder prompt
  <|startoftranscript|><|lang|><|transcribe|><|notimestamps|> (the official forced_decoder_ids),
  greedy `generate`, `batch_decode(skip_special_tokens=True)`. Batches are padded to the same 30 s
  window, so batching does not change the encoder input.
* `OpenAIWhisper`: the openai-whisper package. Audio is passed as an array, so its ffmpeg-based
  `load_audio` is never called. Clips up to 30 s are decoded in batches with `whisper.decode`
  (temperature 0, no timestamps); longer clips go one at a time through `model.transcribe`
  (temperature 0 only, no fallback) so nothing is truncated.
* `Paraformer`: funasr `AutoModel(model="paraformer-zh")`, `generate(batch_size_s=300)` as the
  official zh path; funasr is the optional extra `zh` and is imported only here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from nava_eval.errors import UserError

log = logging.getLogger(__name__)

WHISPER_LANGUAGE_NAMES = {"en": "english", "zh": "chinese"}
ZH_INSTALL_HINT = (
    "Chinese WER needs FunASR (Paraformer-zh): pip install 'nava-eval[zh]' (or: pip install funasr), "
    "or score English only"
)
OPENAI_WHISPER_INSTALL_HINT = "the openai-whisper backend needs: pip install openai-whisper"


class MissingBackendError(UserError, ImportError):
    """An optional ASR package is not installed; the message says what to install."""


class AsrBackend(Protocol):
    name: str

    def transcribe(self, waves: Sequence[np.ndarray], language: str) -> list[str]:
        """Raw transcripts of 16 kHz mono waves, in order."""
        ...


# --------------------------------------------------------------------------- transformers Whisper


class TransformersWhisper:
    """Whisper via transformers, as seed-tts-eval's `run_wer.py` runs it (greedy, forced language)."""

    name = "transformers-whisper"

    def __init__(self, model: Any, processor: Any, device: str = "cpu", dtype: Any = None) -> None:
        self.model = model.to(device).eval()
        if dtype is not None:
            self.model = self.model.to(dtype)
        self.processor = processor
        self.device = device
        self.dtype = dtype

    @classmethod
    def from_pretrained(cls, source: str, device: str = "cpu") -> TransformersWhisper:
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        processor = WhisperProcessor.from_pretrained(source)
        model = WhisperForConditionalGeneration.from_pretrained(source)
        # The official script runs the checkpoint in its stored float32, even on GPU.
        return cls(model, processor, device)

    def transcribe(self, waves: Sequence[np.ndarray], language: str) -> list[str]:
        import torch

        if not waves:
            return []
        feats = self.processor(list(waves), sampling_rate=16_000, return_tensors="pt").input_features
        feats = feats.to(self.device, dtype=self.dtype or torch.float32)
        with torch.inference_mode():
            ids = self.model.generate(
                feats,
                language=WHISPER_LANGUAGE_NAMES.get(language, language),
                task="transcribe",
                do_sample=False,
                num_beams=1,
            )
        return list(self.processor.batch_decode(ids, skip_special_tokens=True))


def tiny_whisper_transformers(seed: int = 0) -> TransformersWhisper:
    """A tiny random Whisper + a byte-level tokenizer built in code (no download) for smoke runs.

    The vocabulary is the 256 byte symbols of GPT-2 byte-level BPE plus Whisper's special tokens,
    with no merges; the special tokens are suppressed during generation so the random model emits
    bytes and the text path (decode -> normalise -> jiwer) is exercised.
    """
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        "<|en|>",
        "<|zh|>",
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]
    vocab = {ch: i for i, ch in enumerate(bytes_to_unicode().values())}
    for tok in specials:
        vocab[tok] = len(vocab)
    tokenizer = WhisperTokenizer(vocab=vocab, merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
    processor = WhisperProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer
    )
    eot, sot = vocab["<|endoftext|>"], vocab["<|startoftranscript|>"]
    config = WhisperConfig(
        vocab_size=len(vocab),
        num_mel_bins=80,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,
        max_target_positions=64,
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot,
        eos_token_id=eot,
        pad_token_id=eot,
        bos_token_id=eot,
        lang_to_id={"<|en|>": vocab["<|en|>"], "<|zh|>": vocab["<|zh|>"]},
        task_to_id={"transcribe": vocab["<|transcribe|>"], "translate": vocab["<|translate|>"]},
        is_multilingual=True,
        no_timestamps_token_id=vocab["<|notimestamps|>"],
        suppress_tokens=[vocab[t] for t in specials[1:]],
        max_length=20,
        do_sample=False,
        num_beams=1,
    )
    return TransformersWhisper(model, processor)


# --------------------------------------------------------------------------- openai-whisper


class OpenAIWhisper:
    """The openai-whisper package's model, fed arrays (no ffmpeg), greedy at temperature 0."""

    name = "openai-whisper"
    _WINDOW = 30 * 16_000

    def __init__(self, model: Any, device: str = "cpu", sample_len: int | None = None) -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.sample_len = sample_len  # None = the package default (n_text_ctx // 2)

    @classmethod
    def load(cls, name_or_path: str, device: str = "cpu", download_root: str | None = None) -> OpenAIWhisper:
        whisper = _import_whisper()
        return cls(whisper.load_model(name_or_path, device=device, download_root=download_root), device)

    def transcribe(self, waves: Sequence[np.ndarray], language: str) -> list[str]:
        import torch

        whisper = _import_whisper()
        fp16 = str(self.device).startswith("cuda")
        out: list[str | None] = [None] * len(waves)
        short = [i for i, w in enumerate(waves) if len(w) <= self._WINDOW]
        if short:
            mels = torch.stack(
                [
                    whisper.log_mel_spectrogram(
                        whisper.pad_or_trim(torch.from_numpy(np.asarray(waves[i], dtype=np.float32))),
                        n_mels=self.model.dims.n_mels,
                    )
                    for i in short
                ]
            ).to(self.device)
            options = whisper.DecodingOptions(
                task="transcribe",
                language=language,
                temperature=0.0,
                without_timestamps=True,
                fp16=fp16,
                sample_len=self.sample_len,
            )
            with torch.inference_mode():
                results = whisper.decode(self.model, mels, options)
            for i, res in zip(short, results, strict=True):
                out[i] = res.text
        for i, w in enumerate(waves):
            if out[i] is None:
                result = self.model.transcribe(
                    np.asarray(w, dtype=np.float32),
                    language=language,
                    task="transcribe",
                    temperature=0.0,
                    fp16=fp16,
                    verbose=None,
                )
                out[i] = str(result["text"])
        return [str(t) for t in out]


def _import_whisper() -> Any:
    try:
        import whisper
    except ImportError as exc:
        raise MissingBackendError(OPENAI_WHISPER_INSTALL_HINT) from exc
    return whisper


def tiny_whisper_openai(seed: int = 0) -> OpenAIWhisper:
    """A tiny random openai-whisper model (multilingual vocabulary; its tiktoken file ships in the package)."""
    import torch

    whisper = _import_whisper()
    dims = whisper.model.ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=32,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51865,
        n_text_ctx=32,
        n_text_state=32,
        n_text_head=2,
        n_text_layer=1,
    )
    torch.manual_seed(seed)
    model = whisper.model.Whisper(dims)
    return OpenAIWhisper(model, sample_len=8)


# --------------------------------------------------------------------------- Paraformer (zh)


@dataclass
class Paraformer:
    """funasr Paraformer-zh as seed-tts-eval's zh path (raw text; zhconv happens in the WER step)."""

    model: Any
    batch_size_s: int = 300
    name: str = "funasr-paraformer-zh"

    @classmethod
    def load(cls, model: str = "paraformer-zh", device: str = "cpu") -> Paraformer:
        try:
            from funasr import AutoModel
        except ImportError as exc:
            raise MissingBackendError(ZH_INSTALL_HINT) from exc
        return cls(AutoModel(model=model, device=device, disable_update=True))

    def transcribe(self, waves: Sequence[np.ndarray], language: str) -> list[str]:
        if not waves:
            return []
        keys = [f"utt{i}" for i in range(len(waves))]
        res = self.model.generate(
            input=[np.asarray(w, dtype=np.float32) for w in waves], key=keys, batch_size_s=self.batch_size_s
        )
        by_key = {r.get("key"): r.get("text", "") for r in res}
        if set(by_key) >= set(keys):
            return [str(by_key[k]) for k in keys]
        if len(res) == len(waves):  # funasr versions that drop the keys keep the input order
            return [str(r.get("text", "")) for r in res]
        raise RuntimeError(f"funasr returned {len(res)} results for {len(waves)} inputs")
