"""Audiobox Aesthetics (CE, CU, PC, PQ) as the Verse-Bench toolkit runs it (`audiobox/versebench-aesthetics-v1`).

The toolkit's `audio_box/audio_box_inferencer.py` calls the official package's
`initialize_predictor(ckpt=".../audiobox-aesthetics/checkpoint.pt").forward([{"path": wav}])`, one
wav at a time. What that does (audiobox-aesthetics 0.0.4, `infer.py` and `model/aes.py`):
1. read the file (torchaudio), average the channels, resample to 16 kHz (torchaudio's default
   windowed-sinc kernel: `speech_audio.resample_sinc`), average again;
2. cut 10 s windows every 10 s; the last one is zero-padded, with a sample mask and a weight
   (its real length / 10 s);
3. WavLM-base (12 post-LN layers, group-norm conv front end, gated relative position bias) on each
   window; the 13 hidden states (encoder input after its LayerNorm, then every layer) are mixed
   per axis by softmax(layer weights); the mean over the frames that hold real audio (a frame is
   padding only if all 320 of its samples are; the encoder zeroes padded frames and masks them in
   attention), L2-normalised, then a per-axis MLP;
4. per axis: prediction × std + mean (the checkpoint's `target_transform`), and per file the
   weighted mean over its windows.

Our implementation rebuilds the network on transformers' WavLM (key names mapped strictly from the
official checkpoint) and runs the encoder layer by layer with the official frame mask; windows of
many files are batched (each window is independent, so batching does not change a value). Values
are on the 1–10 scale; PQ is NAVA's column, the four come from one pass. The population (set1 +
set2, every generated wav) is the benchmark's rule. `smoke=True` uses a tiny seeded network of the
same structure (the protocol id says so).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.errors import UserError
from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.channels import ChannelReading
from nava_eval.metrics.speech_audio import (
    AudioLoadError,
    EmptyAudioError,
    NoAudioStreamError,
    load_audio,
    resample_sinc,
)

log = logging.getLogger(__name__)

PROTOCOL = "audiobox/versebench-aesthetics-v1"
AXES = ("CE", "CU", "PC", "PQ")
SAMPLE_RATE = 16_000
WINDOW_S = 10
HOP_S = 10
FIELDS = (
    MetricField("pq", "higher", "1–10", "Audiobox Aesthetics production quality (NAVA's PQ column)"),
    MetricField("ce", "higher", "1–10", "Audiobox Aesthetics content enjoyment"),
    MetricField("cu", "higher", "1–10", "Audiobox Aesthetics content usefulness"),
    MetricField(
        "pc",
        "lower",
        "1–10",
        "Audiobox Aesthetics production complexity (the toolkit's overall score treats lower as better)",
    ),
)
# The model_cfg keys the official predictor passes to AesMultiOutput.
_HEAD_KEYS = (
    "proj_num_layer",
    "proj_ln",
    "proj_act_fn",
    "proj_dropout",
    "nth_layer",
    "use_weighted_layer_sum",
    "precision",
    "normalize_embed",
    "output_dim",
)


class AudioboxCheckpointError(UserError, ValueError):
    """The checkpoint does not have the official audiobox-aesthetics layout; the message says what is off."""


@dataclass(frozen=True)
class AudioboxHeadConfig:
    """The checkpoint's `model_cfg` entries the official predictor uses, and its target transform."""

    proj_num_layer: int = 1
    proj_ln: bool = False
    proj_act_fn: str = "gelu"
    proj_dropout: float = 0.0
    nth_layer: int = 13
    use_weighted_layer_sum: bool = True
    precision: str = "32"
    normalize_embed: bool = True
    output_dim: int = 1
    target_transform: dict[str, tuple[float, float]] = field(default_factory=dict)  # axis -> (mean, std)


def official_wavlm_config() -> Any:
    """transformers WavLMConfig equal to audiobox's DEFAULT_AUDIO_CFG (WavLM base, dropouts off)."""
    from transformers import WavLMConfig

    return WavLMConfig(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        conv_dim=(512,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_bias=False,
        feat_extract_norm="group",  # extractor_mode "default"
        feat_extract_activation="gelu",
        hidden_act="gelu",
        do_stable_layer_norm=False,  # layer_norm_first False
        num_conv_pos_embeddings=128,
        num_conv_pos_embedding_groups=16,
        num_buckets=320,
        max_bucket_distance=800,
        layer_norm_eps=1e-5,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        final_dropout=0.0,
        layerdrop=0.0,
    )


def tiny_wavlm_config() -> Any:
    """WavLM base's structure scaled down (12-channel convs, 16 wide, 2 layers) for smoke runs and tests."""
    from transformers import WavLMConfig

    return WavLMConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(12,) * 7,  # narrower than the encoder, so the projection exists as in the real model
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_bias=False,
        feat_extract_norm="group",
        feat_extract_activation="gelu",
        hidden_act="gelu",
        do_stable_layer_norm=False,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        num_buckets=320,
        max_bucket_distance=800,
        layer_norm_eps=1e-5,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        final_dropout=0.0,
        layerdrop=0.0,
    )


def _mlp(torch_nn: Any, dim: int, out_dim: int, cfg: AudioboxHeadConfig) -> Any:
    """The official `create_mlp_block` layout, so its Sequential indices (state-dict keys) match."""
    layers: list[Any] = []
    for i in range(cfg.proj_num_layer):
        if i == cfg.proj_num_layer - 1:
            layers.append(torch_nn.Linear(dim, out_dim))
            continue
        layers.append(torch_nn.Linear(dim, dim))
        if cfg.proj_ln:
            layers.append(torch_nn.LayerNorm(dim))
        if cfg.proj_act_fn != "gelu":
            raise AudioboxCheckpointError(
                f"proj_act_fn {cfg.proj_act_fn!r}: the official code knows only 'gelu'"
            )
        layers.append(torch_nn.GELU())
        if cfg.proj_dropout != 0:
            layers.append(torch_nn.Dropout(cfg.proj_dropout))
    return torch_nn.Sequential(*layers)


def build_model(wavlm_config: Any, head: AudioboxHeadConfig) -> Any:
    """WavLM + per-axis layer weights and MLP heads (random init; load a state dict into it)."""
    import torch
    from torch import nn
    from transformers import WavLMModel

    class AudioboxNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wavlm = WavLMModel(wavlm_config)
            dim = wavlm_config.hidden_size
            self.proj_layer = nn.ModuleDict({a: _mlp(nn, dim, head.output_dim, head) for a in AXES})
            if head.use_weighted_layer_sum:
                self.layer_weights = nn.ParameterDict(
                    {a: nn.Parameter(torch.ones(head.nth_layer) / head.nth_layer) for a in AXES}
                )

    return AudioboxNet()


def frame_padding_mask(sample_mask: Any, n_frames: int) -> Any:
    """WavLM's `forward_padding_mask`: a frame is padding only if all of its samples are."""
    padding = ~sample_mask
    extra = padding.shape[1] % n_frames
    if extra > 0:
        padding = padding[:, :-extra]
    return padding.reshape(padding.shape[0], n_frames, -1).all(-1)


class AudioboxModel:
    """The loaded network; `predict()` maps 10 s windows (+ masks) to the four axes (1–10 scale)."""

    def __init__(
        self, net: Any, head: AudioboxHeadConfig, device: str = "cpu", checkpoint_precision: bool = False
    ) -> None:
        self.net = net.to(device).eval()
        self.head = head
        self.device = device
        # The official AesMultiOutput maps model_cfg["precision"] to a torch dtype and then enables
        # autocast when `str(dtype) in {"16", "bf16"}`, which is never true ("torch.bfloat16"): it
        # always runs in float32. checkpoint_precision=True honours the field instead (not official).
        self.checkpoint_precision = checkpoint_precision
        missing = [a for a in AXES if a not in head.target_transform]
        if missing:
            raise AudioboxCheckpointError(f"target_transform has no mean/std for {missing}")

    def _hidden_states(self, wav: Any, padding: Any) -> Any:
        """[L, B, T, C]: the encoder input after its LayerNorm, then each layer's output (nth_layer in all)."""
        import torch

        wavlm = self.net.wavlm
        features = wavlm.feature_extractor(wav).transpose(1, 2)
        frames = frame_padding_mask(~padding, features.shape[1])
        hidden, _ = wavlm.feature_projection(features)
        hidden = hidden.clone()
        hidden[frames] = 0
        encoder = wavlm.encoder
        hidden = encoder.layer_norm(hidden + encoder.pos_conv_embed(hidden))
        attention_mask = (~frames).long()
        states = [hidden]
        position_bias = None
        for index, layer in enumerate(encoder.layers[: self.head.nth_layer - 1]):
            hidden, position_bias = layer(
                hidden, attention_mask=attention_mask, position_bias=position_bias, index=index
            )
            states.append(hidden)
        return torch.stack(states, dim=0), frames

    def predict(self, windows: Any, masks: Any) -> dict[str, Any]:
        """windows, masks: [B, 160000]; the de-normalised prediction per axis, [B] float64 each."""
        import torch

        wav = windows.to(self.device)
        padding = ~masks.to(self.device)
        dtype = {"64": torch.float64, "32": torch.float32, "16": torch.half, "bf16": torch.bfloat16}[
            str(self.head.precision)
        ]
        if not self.checkpoint_precision:
            dtype = torch.float32  # the official predictor's autocast never turns on (see __init__)
        with (
            torch.inference_mode(),
            torch.autocast(
                device_type=wav.device.type, dtype=dtype, enabled=dtype in (torch.half, torch.bfloat16)
            ),
        ):
            states, frames = self._hidden_states(wav, padding)
            keep = (~frames).unsqueeze(-1).type_as(states)
            out = {}
            for axis in AXES:
                if self.head.use_weighted_layer_sum:
                    weights = torch.softmax(self.net.layer_weights[axis], dim=-1)
                    embed = torch.einsum("lbtc,l->btc", states, weights)
                else:
                    embed = states[-1]
                embed = (embed * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)
                if self.head.normalize_embed:
                    embed = torch.nn.functional.normalize(embed, dim=-1)
                pred = self.net.proj_layer[axis](embed).squeeze(-1)
                mean, std = self.head.target_transform[axis]
                out[axis] = pred.double().cpu() * std + mean
        return out


# (official key regex, our key) for the parts that are not WavLM's upstream names.
_HEAD_RULES = (
    (re.compile(r"proj_layer\.(CE|CU|PC|PQ)\.(\d+)\.(weight|bias)"), r"proj_layer.\1.\2.\3"),
    (re.compile(r"layer_weights\.(CE|CU|PC|PQ)"), r"layer_weights.\1"),
)
_GROUP_NORM = re.compile(r"feature_extractor\.conv_layers\.0\.2\.(weight|bias)")


def map_checkpoint_keys(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """The official state dict (`model.` prefix stripped as the predictor does) in our module's names."""
    from nava_eval.metrics.wavlm_keymap import CheckpointLayoutError, map_upstream_key

    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        key = re.sub(r"^model\.", "", key)
        if key.startswith("wavlm_model."):
            inner = key[len("wavlm_model.") :]
            if _GROUP_NORM.fullmatch(inner):
                out["wavlm." + _GROUP_NORM.sub(r"feature_extractor.conv_layers.0.layer_norm.\1", inner)] = (
                    value
                )
                continue
            try:
                out["wavlm." + map_upstream_key(inner)] = value
            except CheckpointLayoutError as exc:
                raise AudioboxCheckpointError(f"checkpoint key {key!r} has no WavLM counterpart") from exc
            continue
        for pattern, repl in _HEAD_RULES:
            if pattern.fullmatch(key):
                out[pattern.sub(repl, key)] = value
                break
        else:
            raise AudioboxCheckpointError(
                f"checkpoint key {key!r} is not part of the audiobox-aesthetics model"
            )
    return out


def head_config_from_checkpoint(ckpt: Mapping[str, Any], where: str) -> AudioboxHeadConfig:
    for key in ("state_dict", "model_cfg", "target_transform"):
        if key not in ckpt:
            raise AudioboxCheckpointError(
                f"{where}: no {key!r} (is this audiobox-aesthetics' checkpoint.pt?)"
            )
    cfg = ckpt["model_cfg"]
    missing = [k for k in _HEAD_KEYS if k not in cfg]
    if missing:
        raise AudioboxCheckpointError(f"{where}: model_cfg lacks {missing}")
    transform = {
        axis: (float(v["mean"]), float(v["std"]))
        for axis, v in ckpt["target_transform"].items()
        if axis in AXES
    }
    return AudioboxHeadConfig(**{k: cfg[k] for k in _HEAD_KEYS}, target_transform=transform)


def load_audiobox(checkpoint: str | Path, device: str = "cpu", wavlm_config: Any = None) -> AudioboxModel:
    """The official `checkpoint.pt` (never unpickled beyond tensors: weights_only=True), loaded strictly."""
    from nava_eval.weight_files import read_torch_file

    ckpt = read_torch_file(checkpoint, "the Audiobox Aesthetics checkpoint")
    if not isinstance(ckpt, Mapping):
        raise AudioboxCheckpointError(
            f"{checkpoint}: expected a dict with state_dict/model_cfg/target_transform"
        )
    head = head_config_from_checkpoint(ckpt, str(checkpoint))
    net = build_model(wavlm_config if wavlm_config is not None else official_wavlm_config(), head)
    state = map_checkpoint_keys(ckpt["state_dict"])
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise AudioboxCheckpointError(
            f"{checkpoint}: keys do not match the model (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    net.load_state_dict(state, strict=True)
    return AudioboxModel(net, head, device)


def tiny_audiobox(seed: int = 0, device: str = "cpu") -> AudioboxModel:
    """A tiny seeded network of the official structure (smoke runs), with a 1–10-like output transform."""
    import torch

    torch.manual_seed(seed)
    head = AudioboxHeadConfig(nth_layer=3, target_transform={a: (5.5, 1.5) for a in AXES})
    net = build_model(tiny_wavlm_config(), head)
    with torch.no_grad():
        for weights in net.layer_weights.values():
            weights.normal_()
    return AudioboxModel(net, head, device)


def load_wave_16k_mean(path: Path, reading: ChannelReading | None = None) -> np.ndarray:
    """Channels averaged (or `reading`'s channel), resampled to 16 kHz with torchaudio's default
    kernel (the predictor's read)."""
    audio = load_audio(path)
    wave = audio.channel_mean() if reading is None else reading.select(audio)
    return resample_sinc(wave.astype(np.float32, copy=False), audio.sample_rate)


def windows_of(wave: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """`make_inference_batch` for one wave: (10 s window zero-padded, sample mask, weight) every 10 s."""
    win, hop = WINDOW_S * SAMPLE_RATE, HOP_S * SAMPLE_RATE
    out = []
    for start in range(0, wave.shape[-1], hop):
        chunk = wave[start : start + win]
        mask = np.zeros(win, dtype=bool)
        mask[: chunk.shape[-1]] = True
        padded = np.zeros(win, dtype=np.float32)
        padded[: chunk.shape[-1]] = chunk
        out.append((padded, mask, chunk.shape[-1] / win))
    return out


class AudioboxAesthetics(BaseMetric):
    """CE, CU, PC, PQ per generated wav with the official model and preprocessing."""

    name = "audiobox"
    protocol = PROTOCOL
    fields = FIELDS
    requires = frozenset({"audio"})
    weight_names = ("audiobox-aesthetics",)
    description = (
        "Audiobox Aesthetics as the Verse-Bench toolkit runs it (every wav of set1+set2; "
        "10 s windows, weighted mean)"
    )
    default_batch_size = 8  # 10 s windows per forward pass
    reload_on_new_device = False
    #: The predictor reads with torchaudio and averages the channels (metrics/channels.py).
    official_channel = "mean"

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, Any] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        checkpoint_precision: bool = False,
        channel: str | None = None,
        **options: Any,
    ) -> None:
        self.reject_options(options, "batch_size, seed, checkpoint_precision, channel")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.checkpoint_precision = checkpoint_precision
        # Running in the checkpoint's reduced precision is not the official protocol: the id says so.
        self.reading = ChannelReading.of(self.name, self.official_channel, channel)
        precision = "+checkpoint-precision" if checkpoint_precision else ""
        self.protocol = self.protocol_id(variant=precision + self.reading.variant)
        self.model: AudioboxModel | None = None

    def _loaded(self) -> bool:
        return self.model is not None

    def _load(self, device: str) -> None:
        if self.smoke:
            self.weights_provenance = {"audiobox": {"source": f"random seed {self.seed}"}}
            self.model = tiny_audiobox(self.seed, device)
            self.model.checkpoint_precision = self.checkpoint_precision
            return
        from nava_eval.metrics.weights_audio import AUDIOBOX

        self.model = load_audiobox(self.resolve_weight(AUDIOBOX), device)
        self.model.checkpoint_precision = self.checkpoint_precision

    def score_waves(self, waves: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """The four axes per 16 kHz mono wave (each non-empty); windows of all waves batched together."""
        import torch

        if self.model is None:
            self.setup()
        assert self.model is not None
        windows = [(i, w) for i, wave in enumerate(waves) for w in windows_of(wave)]
        preds: dict[str, list[float]] = {a: [] for a in AXES}
        for start in range(0, len(windows), self.batch_size):
            chunk = windows[start : start + self.batch_size]
            batch = torch.from_numpy(np.stack([w[0] for _, w in chunk]))
            masks = torch.from_numpy(np.stack([w[1] for _, w in chunk]))
            out = self.model.predict(batch, masks)
            for axis in AXES:
                preds[axis] += out[axis].tolist()
        results = []
        for i in range(len(waves)):
            rows = [k for k, (j, _) in enumerate(windows) if j == i]
            weights = np.array([windows[k][1][2] for k in rows])
            results.append(
                {a.lower(): float(np.sum(np.array(preds[a])[rows] * weights) / weights.sum()) for a in AXES}
            )
        return results

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        waves: dict[int, np.ndarray] = {}
        for i, item in enumerate(items):
            try:
                waves[i] = load_wave_16k_mean(item.output, self.reading)
            except NoAudioStreamError as exc:
                # The toolkit scores `<id>.wav` only when it exists: a clip without audio is not scored.
                outcomes[i] = ScoreOutcome.skipped(str(exc))
            except EmptyAudioError as exc:
                # The official predictor cannot stack zero windows and stops: recorded as a failure.
                outcomes[i] = ScoreOutcome.failed(f"{exc} (the official predictor fails on it too)")
            except AudioLoadError as exc:
                outcomes[i] = ScoreOutcome.failed(str(exc))
        order = sorted(waves)
        try:
            scores = self.score_waves([waves[i] for i in order])
        except Exception as exc:  # isolate the bad file: one at a time
            log.warning("audiobox: batch failed (%s); retrying one file at a time", exc)
            scores = []
            for i in order:
                try:
                    scores.append(self.score_waves([waves[i]])[0])
                except Exception as one_exc:
                    scores.append(RuntimeError(f"{items[i].output}: {type(one_exc).__name__}: {one_exc}"))
        for i, score in zip(order, scores, strict=True):
            if isinstance(score, Exception):
                outcomes[i] = ScoreOutcome.failed(str(score))
            else:
                seconds = waves[i].shape[-1] / SAMPLE_RATE
                outcomes[i] = ScoreOutcome.ok(**score, seconds=seconds, windows=len(windows_of(waves[i])))
        return [o if o is not None else ScoreOutcome.failed("internal: not scored") for o in outcomes]
