"""Speaker similarity (SIM) as Seed-TTS-eval computes it: UniSpeech WavLM-Large + ECAPA-TDNN.

Protocol `sim/wavlm-large-ecapa-v1`, per pair (generated output, prompt wav):
1. decode both at their own rate, take channel 0, resample to 16 kHz with torchaudio's default
   sinc resampler (re-implemented in `metrics.speech_audio`), whole file;
2. WavLM-Large (transformers `WavLMModel`, weights mapped strictly from `wavlm_large_finetune.pth`)
   on `layer_norm(wav)` (s3prl's `normalize`), all 25 hidden states;
3. ECAPA head (`metrics.ecapa_tdnn`): softmax-weighted layer sum, instance norm, 256-d embedding;
4. cosine similarity; the value is reported x100 as NAVA does (field `sim`), the raw cosine too.

Known differences from the official scripts, all documented in docs/protocols/sim.md: the official
generated-audio path slices a stereo file as `wav[:, 0]` (one sample per channel, a bug); we take
channel 0 for both files. Batching pads waveforms and masks attention; frames past each clip's end
are dropped before the head, so each embedding equals its batch-of-1 value up to float rounding.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.interrupts import reraise_interrupts
from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.channels import ChannelReading
from nava_eval.metrics.speech_audio import AudioLoadError, load_audio, resample_sinc

log = logging.getLogger(__name__)

PROTOCOL = "sim/wavlm-large-ecapa-v1"


class WavLMEcapa:
    """WavLM upstream + ECAPA head; `embed()` maps 16 kHz mono waves to speaker embeddings."""

    def __init__(self, wavlm: Any, head: Any, device: str = "cpu", normalize_waveform: bool = True) -> None:
        self.wavlm = wavlm.to(device).eval()
        self.head = head.to(device).eval()
        self.device = device
        self.normalize_waveform = normalize_waveform

    def embed(self, waves: Sequence[np.ndarray]) -> list[Any]:
        """One [emb_dim] float32 tensor per wave (CPU); the waves are run as one padded batch."""
        import torch
        import torch.nn.functional as F

        if not waves:
            return []
        tensors = [torch.as_tensor(np.asarray(w, dtype=np.float32)) for w in waves]
        if self.normalize_waveform:
            # s3prl wavlm expert: F.layer_norm(wav, wav.shape) per utterance, before any padding.
            tensors = [F.layer_norm(t, t.shape) for t in tensors]
        lengths = torch.tensor([t.shape[0] for t in tensors])
        batch = torch.zeros(len(tensors), int(lengths.max()))
        mask = torch.zeros(len(tensors), int(lengths.max()), dtype=torch.long)
        for i, t in enumerate(tensors):
            batch[i, : t.shape[0]] = t
            mask[i, : t.shape[0]] = 1
        with torch.inference_mode():
            hidden = self.hidden_states(
                batch.to(self.device), mask.to(self.device) if len(tensors) > 1 else None
            )
            frames = self.wavlm._get_feat_extract_output_lengths(lengths)
            embs = []
            for i in range(len(tensors)):
                n = int(frames[i])
                embs.append(self.head(hidden[:, i : i + 1, :n]).float().cpu()[0])
        return embs

    def hidden_states(self, batch: Any, attention_mask: Any = None) -> Any:
        """s3prl's `hidden_states` for WavLM: [L+1, B, T, D] = the input of each of the L layers,
        then the encoder output after its final LayerNorm.

        transformers 5 records `hidden_states` with hooks on the layers, so its last entry is the
        last layer's output BEFORE the final LayerNorm (transformers 4 appended it after). We take
        the first L entries (layer inputs, identical in both) and `last_hidden_state` (post-LN), which
        is what the official head was trained on.
        """
        import torch

        out = self.wavlm(batch, attention_mask=attention_mask, output_hidden_states=True)
        n_layers = self.wavlm.config.num_hidden_layers
        if len(out.hidden_states) != n_layers + 1:
            raise RuntimeError(
                f"WavLM returned {len(out.hidden_states)} hidden states, expected {n_layers + 1}; "
                "this transformers version records them differently"
            )
        return torch.stack([*out.hidden_states[:n_layers], out.last_hidden_state], dim=0)


def load_wavlm_ecapa(
    checkpoint: str | Path,
    device: str = "cpu",
    weights: Mapping[str, Any] | None = None,
    *,
    wavlm_config: Any = None,
    head_config: Any = None,
) -> WavLMEcapa:
    """Build WavLM-Large + ECAPA from `wavlm_large_finetune.pth`, every key mapped and loaded strictly.

    The configs default to the official sizes; tests pass tiny ones with a tiny checkpoint.
    """
    from transformers import WavLMModel

    from nava_eval.metrics.ecapa_tdnn import EcapaHead
    from nava_eval.metrics.wavlm_keymap import CheckpointLayoutError, split_checkpoint, wavlm_large_config
    from nava_eval.weight_files import read_torch_file

    # weights_only=True: a checkpoint is untrusted input and must not run code when unpickled.
    raw = read_torch_file(checkpoint, "the WavLM-large + ECAPA speaker verification checkpoint")
    if not isinstance(raw, dict) or "model" not in raw:
        raise CheckpointLayoutError(f"{checkpoint}: expected a dict with the state dict under 'model'")
    parts = split_checkpoint(raw["model"])
    head = EcapaHead(head_config) if head_config is not None else EcapaHead()
    _load_strict(head, parts.head, f"{checkpoint} (ECAPA head)")
    if parts.upstream:
        wavlm = WavLMModel(wavlm_config if wavlm_config is not None else wavlm_large_config())
        _load_strict(wavlm, parts.upstream, f"{checkpoint} (WavLM upstream)")
    else:
        # The official strict=False load keeps s3prl's pretrained WavLM-Large for absent keys.
        from nava_eval.metrics.weights_speech import WAVLM_LARGE_HF, hub_source

        source = hub_source(WAVLM_LARGE_HF, weights)
        log.warning(
            "%s holds no WavLM upstream weights; using pretrained WavLM-Large from %s", checkpoint, source
        )
        wavlm = WavLMModel.from_pretrained(source)
    return WavLMEcapa(wavlm, head, device)


def _load_strict(module: Any, state_dict: Mapping[str, Any], what: str) -> None:
    from nava_eval.metrics.wavlm_keymap import CheckpointLayoutError

    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = sorted(
        k for k in set(expected) & set(state_dict) if tuple(expected[k].shape) != tuple(state_dict[k].shape)
    )
    if missing or unexpected or wrong:
        raise CheckpointLayoutError(
            f"{what}: the keys do not match the model (missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}, wrong shape {wrong[:5]})"
        )
    module.load_state_dict(dict(state_dict), strict=True)


def tiny_wavlm_config() -> Any:
    """WavLM-Large's structure scaled down (32 wide, 2 layers, same conv strides, buckets, gating)."""
    from transformers import WavLMConfig

    return WavLMConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_bias=False,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        num_buckets=320,
        max_bucket_distance=800,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        layerdrop=0.0,
    )


def tiny_ecapa_config() -> Any:
    """An ECAPA head for `tiny_wavlm_config` (3 hidden states of width 32)."""
    from nava_eval.metrics.ecapa_tdnn import EcapaConfig

    return EcapaConfig(
        feat_dim=32,
        num_layers=3,
        channels=16,
        pool_channels=48,
        emb_dim=8,
        scale=8,
        se_bottleneck=8,
        attention_channels=8,
    )


def tiny_wavlm_ecapa(seed: int = 0, device: str = "cpu") -> WavLMEcapa:
    """A tiny seeded WavLM + ECAPA (same code paths, random weights) for smoke runs and tests."""
    import torch
    from transformers import WavLMModel

    from nava_eval.metrics.ecapa_tdnn import EcapaHead

    torch.manual_seed(seed)
    wavlm = WavLMModel(tiny_wavlm_config())
    head = EcapaHead(tiny_ecapa_config())
    with torch.no_grad():
        head.feature_weight.normal_()  # a non-uniform layer weighting, as a trained head has
    return WavLMEcapa(wavlm, head, device)


def load_wave_16k(path: Path, reading: ChannelReading | None = None) -> np.ndarray:
    """Channel 0 (or `reading`'s channel) at 16 kHz, float32, resampled like torchaudio's default Resample."""
    audio = load_audio(path)
    wave = audio.first_channel() if reading is None else reading.select(audio)
    return resample_sinc(wave.astype(np.float32), audio.sample_rate)


class SpeakerSimilarity(BaseMetric):
    """Cosine of WavLM-Large+ECAPA embeddings of the output and its prompt wav, x100."""

    name = "sim"
    protocol = PROTOCOL
    fields = (
        MetricField("sim", "higher", "×100", "cosine of WavLM-large+ECAPA embeddings, output vs prompt"),
    )
    requires = frozenset({"audio", "reference_audio"})
    weight_names = (
        "wavlm_large_finetune",
        "wavlm-large",
    )  # the --weights NAME=PATH overrides this metric uses
    description = "Speaker similarity to the prompt speaker (Seed-TTS-eval verification model)"
    default_batch_size = 8
    reload_on_new_device = False
    #: seed-tts-eval reads the generated wav with soundfile and keeps channel 0 (metrics/channels.py).
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
        **options: Any,
    ) -> None:
        self.reject_options(options, "batch_size, seed, channel")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        # The generated file's channel; the prompt wav is always read as the official script reads it.
        self.reading = ChannelReading.of(self.name, self.official_channel, channel)
        self.protocol = self.protocol_id(variant=self.reading.variant)
        self.model: WavLMEcapa | None = None

    def _loaded(self) -> bool:
        return self.model is not None

    def _load(self, device: str) -> None:
        if self.smoke:
            self.weights_provenance = {"wavlm-ecapa": {"source": f"random seed {self.seed}"}}
            self.model = tiny_wavlm_ecapa(self.seed, device)
            return
        from nava_eval.metrics.weights_speech import WAVLM_FINETUNE

        self.model = load_wavlm_ecapa(self.resolve_weight(WAVLM_FINETUNE), device, self.weight_overrides)

    def embed_files(
        self, paths: Sequence[Path], readings: Mapping[Path, ChannelReading] | None = None
    ) -> dict[Path, Any]:
        """Embeddings of distinct files (failures as AudioLoadError/Exception values), batched by length.

        `readings` gives a file's channel reading (default: channel 0).
        """
        results: dict[Path, Any] = {}
        waves: dict[Path, np.ndarray] = {}
        for p in dict.fromkeys(paths):
            try:
                waves[p] = load_wave_16k(p, (readings or {}).get(p))
            except AudioLoadError as exc:
                results[p] = exc
        results.update(self.embed_waves(waves))
        return results

    def embed_waves(self, waves: Mapping[Any, np.ndarray]) -> dict[Any, Any]:
        """Embeddings of 16 kHz mono waves by key (a failure as an Exception value), batched by length."""
        if self.model is None:
            self.setup()
        assert self.model is not None
        results: dict[Any, Any] = {}
        # Sorting by length keeps the padding in each batch small.
        order = sorted(waves, key=lambda p: len(waves[p]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            try:
                for p, e in zip(chunk, self.model.embed([waves[p] for p in chunk]), strict=True):
                    results[p] = e
            except Exception as exc:  # isolate the bad file: retry this chunk one by one
                reraise_interrupts(exc)
                log.warning("sim: batch of %d failed (%s); retrying one at a time", len(chunk), exc)
                for p in chunk:
                    try:
                        results[p] = self.model.embed([waves[p]])[0]
                    except Exception as one_exc:
                        reraise_interrupts(one_exc)
                        results[p] = RuntimeError(
                            f"{p}: speaker embedding failed ({type(one_exc).__name__}: {one_exc})"
                        )
        return results

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        import torch.nn.functional as F

        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        paths: list[Path] = []
        for i, item in enumerate(items):
            if item.reference_audio is None:
                outcomes[i] = ScoreOutcome.skipped(
                    f"{item.id}: no prompt (reference) audio to compare the speaker with"
                )
                continue
            paths += [Path(item.output), Path(item.reference_audio)]
        readings = {Path(item.output): self.reading for item in items}
        embs = self.embed_files(paths, readings)
        for i, item in enumerate(items):
            if outcomes[i] is not None:
                continue
            gen, ref = embs[Path(item.output)], embs[Path(item.reference_audio)]  # type: ignore[arg-type]
            bad = [e for e in (gen, ref) if isinstance(e, Exception)]
            if bad:
                outcomes[i] = ScoreOutcome.failed("; ".join(str(e) for e in bad))
                continue
            cos = float(F.cosine_similarity(gen[None], ref[None])[0])
            outcomes[i] = ScoreOutcome.ok(sim=cos * 100.0, cosine=cos)
        return [o for o in outcomes if o is not None]
