"""CLAP text–audio score (CS) and CLAP Fréchet distances (FD) as the Verse-Bench toolkit computes them.

One audio-tower pass gives CS (`cs/versebench-clap-v1`), the toolkit's per-clip FD
(`fd/versebench-clap-perclip-v1`, its pinned-numpy semantics computed explicitly) and the set-level FD
(`fd/versebench-clap-set-v1`, our own column). Inputs come from `metrics.clap_audio`; the network is
transformers' ClapModel with the official checkpoint's keys mapped strictly. Clips of a batch go through
the audio tower together and each caption is embedded once. What the toolkit's FD is, the input path
and the differences: docs/protocols/clap.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.errors import UserError
from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.channels import ChannelReading
from nava_eval.metrics.clap_audio import clip_seed, fusion_input, load_48k_mono, peak_normalize_int16
from nava_eval.metrics.speech_audio import AudioLoadError, EmptyAudioError, NoAudioStreamError

log = logging.getLogger(__name__)

PROTOCOL = "cs/versebench-clap-v1"
FD_SET_PROTOCOL = "fd/versebench-clap-set-v1"
FD_PERCLIP_PROTOCOL = "fd/versebench-clap-perclip-v1"
TEXT_MAX_LENGTH = 77


CLAP_FIELDS = (
    MetricField(
        "fd",
        "lower",
        "",
        "the toolkit's per-clip CLAP FD to the ground-truth wav (‖g − r‖² + (σ_g − σ_r)²), mean over items",
        protocol=FD_PERCLIP_PROTOCOL,
        quantity="fd",
    ),
    MetricField(
        "cs", "higher", "cosine", "CLAP cosine between the clip and its audio_prompt[0]", quantity="cs"
    ),
    MetricField(
        "fd_set",
        "lower",
        "",
        "Fréchet distance between the sets of generated and ground-truth CLAP embeddings (one per set)",
        protocol=FD_SET_PROTOCOL,
        quantity="fd",
        kind="set",
        reducer="nava_eval.metrics.frechet:embedding_set_fd",
    ),
)


class ClapCheckpointError(UserError, ValueError):
    """The checkpoint does not have the LAION-CLAP fusion layout; the message says what is off."""


# ----------------------------------------------------------------------------------- network


ROBERTA_BASE_LAYER_NORM_EPS = 1e-5  # FacebookAI/roberta-base config.json


def official_clap_config() -> Any:
    """transformers ClapConfig equal to LAION-CLAP HTSAT-tiny fusion + roberta-base (joint 512)."""
    from transformers import ClapAudioConfig, ClapConfig, ClapTextConfig

    audio = ClapAudioConfig(
        patch_embeds_hidden_size=96,
        depths=[2, 2, 6, 2],
        num_attention_heads=[4, 8, 16, 32],
        hidden_size=768,
        window_size=8,
        spec_size=256,
        num_mel_bins=64,
        enable_fusion=True,
        projection_dim=512,
        hidden_dropout_prob=0.0,
    )
    # The toolkit builds its text tower with RobertaModel.from_pretrained("roberta-base"), whose config
    # says layer_norm_eps 1e-5 (ClapTextConfig's default is 1e-12; issue 22).
    text = ClapTextConfig(
        projection_dim=512,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=ROBERTA_BASE_LAYER_NORM_EPS,
    )
    return ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=512)


def tiny_clap_config(vocab_size: int = 261, layer_norm_eps: float = 1e-5) -> Any:
    """The official structure scaled down (HTSAT embed 8, depths 1-1-2-1; 1-layer RoBERTa of width 768)."""
    from transformers import ClapAudioConfig, ClapConfig, ClapTextConfig

    audio = ClapAudioConfig(
        patch_embeds_hidden_size=8,
        depths=[1, 1, 2, 1],
        num_attention_heads=[1, 2, 2, 4],
        hidden_size=64,
        window_size=8,
        spec_size=256,
        num_mel_bins=64,
        enable_fusion=True,
        projection_dim=512,
        hidden_dropout_prob=0.0,
    )
    text = ClapTextConfig(
        vocab_size=vocab_size,
        hidden_size=768,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=80,
        type_vocab_size=1,
        projection_dim=512,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=layer_norm_eps,
    )
    return ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=512)


# Official keys that the embedding path never reads (training heads, the waveform front end of the
# non-fusion model, buffers transformers rebuilds itself).
_UNUSED = re.compile(
    r"(audio_branch\.(spectrogram_extractor|logmel_extractor|tscam_conv|head)\..*"
    r"|audio_branch\.layers\.\d+\.blocks\.\d+\.attn_mask"
    r"|audio_branch\.layers\.\d+\.blocks\.\d+\.attn\.relative_position_index"
    r"|(text|audio)_transform\..*"
    r"|text_branch\.embeddings\.position_ids)"
)
_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"text_branch\.(.*)", r"text_model.\1"),
        (r"(text|audio)_projection\.0\.(weight|bias)", r"\1_projection.linear1.\2"),
        (r"(text|audio)_projection\.2\.(weight|bias)", r"\1_projection.linear2.\2"),
        (r"logit_scale_(a|t)", r"logit_scale_\1"),
        (r"audio_branch\.bn0\.(.*)", r"audio_model.audio_encoder.batch_norm.\1"),
        (r"audio_branch\.patch_embed\.(.*)", r"audio_model.audio_encoder.patch_embed.\1"),
        (r"audio_branch\.norm\.(weight|bias)", r"audio_model.audio_encoder.norm.\1"),
        (
            r"audio_branch\.layers\.(\d+)\.downsample\.(.*)",
            r"audio_model.audio_encoder.layers.\1.downsample.\2",
        ),
        (
            r"audio_branch\.layers\.(\d+)\.blocks\.(\d+)\.norm1\.(weight|bias)",
            r"audio_model.audio_encoder.layers.\1.blocks.\2.layernorm_before.\3",
        ),
        (
            r"audio_branch\.layers\.(\d+)\.blocks\.(\d+)\.norm2\.(weight|bias)",
            r"audio_model.audio_encoder.layers.\1.blocks.\2.layernorm_after.\3",
        ),
        (
            r"audio_branch\.layers\.(\d+)\.blocks\.(\d+)\.attn\.relative_position_bias_table",
            r"audio_model.audio_encoder.layers.\1.blocks.\2.attention.self.relative_position_bias_table",
        ),
        (
            r"audio_branch\.layers\.(\d+)\.blocks\.(\d+)\.attn\.proj\.(weight|bias)",
            r"audio_model.audio_encoder.layers.\1.blocks.\2.attention.output.dense.\3",
        ),
        (
            r"audio_branch\.layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.(weight|bias)",
            r"audio_model.audio_encoder.layers.\1.blocks.\2.intermediate.dense.\3",
        ),
        (
            r"audio_branch\.layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.(weight|bias)",
            r"audio_model.audio_encoder.layers.\1.blocks.\2.output.dense.\3",
        ),
    )
)
_QKV = re.compile(r"audio_branch\.layers\.(\d+)\.blocks\.(\d+)\.attn\.qkv\.(weight|bias)")
# Buffers of the transformers model that the checkpoint does not hold (rebuilt identically).
_OWN_BUFFERS = re.compile(
    r"(text_model\.embeddings\.(position_ids|token_type_ids)|.*\.num_batches_tracked"
    r"|audio_model\.audio_encoder\.layers\.\d+\.blocks\.\d+\.attention\.self\.relative_position_index)"
)


def map_checkpoint_keys(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """LAION-CLAP state dict (a `module.` prefix stripped as the toolkit's loader does) → ClapModel names."""
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        key = key[len("module.") :] if key.startswith("module.") else key
        if _UNUSED.fullmatch(key):
            continue
        qkv = _QKV.fullmatch(key)
        if qkv:
            layer, block, kind = qkv.groups()
            base = f"audio_model.audio_encoder.layers.{layer}.blocks.{block}.attention.self"
            for name, part in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True):
                out[f"{base}.{name}.{kind}"] = part.clone()
            continue
        for pattern, repl in _RENAMES:
            if pattern.fullmatch(key):
                out[pattern.sub(repl, key)] = value
                break
        else:
            raise ClapCheckpointError(
                f"checkpoint key {key!r} is not part of LAION-CLAP HTSAT fusion + RoBERTa"
            )
    return out


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A `.pt` read with weights_only=True (nothing unpickled beyond tensors and numpy data: MOVA allows
    the checkpoint's numpy scalars too) or a `.safetensors` file."""
    from nava_eval.metrics.torch_numpy_load import read_torch_file_numpy_data
    from nava_eval.weight_files import WeightFileError, read_safetensors_file

    what = "the LAION-CLAP checkpoint"
    if Path(path).suffix == ".safetensors":
        return dict(read_safetensors_file(path, what))
    try:
        ckpt = read_torch_file_numpy_data(path, what)
    except WeightFileError as exc:
        raise WeightFileError(
            f"{exc} If it holds pickled objects besides tensors, save its state_dict as .safetensors in a "
            "trusted environment and pass that file with --weights clap-630k-audioset-fusion=FILE.safetensors"
        ) from None
    if isinstance(ckpt, Mapping) and "state_dict" in ckpt:
        ckpt = ckpt["state_dict"]
    if not isinstance(ckpt, Mapping):
        raise ClapCheckpointError(f"{path}: expected a state dict (optionally under 'state_dict')")
    return dict(ckpt)


def load_clap_model(state_dict: Mapping[str, Any], config: Any, device: str = "cpu") -> Any:
    """ClapModel with every used official tensor loaded; anything missing or extra is an error."""
    from transformers import ClapModel

    model = ClapModel(config)
    mapped = map_checkpoint_keys(state_dict)
    expected = model.state_dict()
    missing = sorted(k for k in set(expected) - set(mapped) if not _OWN_BUFFERS.fullmatch(k))
    unexpected = sorted(set(mapped) - set(expected))
    wrong = sorted(
        k for k in set(mapped) & set(expected) if tuple(mapped[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or wrong:
        raise ClapCheckpointError(
            f"the checkpoint does not fit the CLAP model (missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shape {wrong[:5]})"
        )
    model.load_state_dict(mapped, strict=False)
    return model.to(device).eval()


@dataclass
class ClapEmbedder:
    """Audio and text embeddings (L2-normalised, float32 numpy) from one loaded CLAP model."""

    model: Any
    tokenizer: Any
    device: str = "cpu"

    def embed_audio(self, inputs: Sequence[Any]) -> np.ndarray:
        """[N, 512] for N `ClapInput`s, one forward pass."""
        import torch
        import torch.nn.functional as F

        mel = torch.stack([i.mel_fusion for i in inputs]).to(self.device)
        longer = torch.tensor([[i.longer] for i in inputs], device=self.device)
        with torch.inference_mode():
            pooled = self.model.audio_model(input_features=mel, is_longer=longer).pooler_output
            emb = F.normalize(self.model.audio_projection(pooled), dim=-1)
        return emb.float().cpu().numpy()

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """[N, 512]: RoBERTa tokens padded/truncated to 77, pooler output, projection, normalised."""
        import torch
        import torch.nn.functional as F

        tokens = self.tokenizer(
            list(texts),
            padding="max_length",
            truncation=True,
            max_length=TEXT_MAX_LENGTH,
            return_tensors="pt",
        )
        with torch.inference_mode():
            out = self.model.text_model(
                input_ids=tokens["input_ids"].to(self.device),
                attention_mask=tokens["attention_mask"].to(self.device),
            )
            emb = F.normalize(self.model.text_projection(out.pooler_output), dim=-1)
        return emb.float().cpu().numpy()


def byte_level_vocab() -> dict[str, int]:
    """RoBERTa's special tokens around the 256 byte symbols (no merges): a tokenizer built in code."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for symbol in bytes_to_unicode().values():
        vocab[symbol] = len(vocab)
    vocab["<mask>"] = len(vocab)
    return vocab


def byte_level_tokenizer(folder: Path) -> Any:
    """A RobertaTokenizer over `byte_level_vocab()` written to `folder` (smoke runs and tests)."""
    import json

    from transformers import RobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(byte_level_vocab(), ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))


def tiny_clap(seed: int = 0, device: str = "cpu") -> ClapEmbedder:
    """A tiny seeded CLAP of the official structure with a byte-level tokenizer (smoke runs)."""
    import tempfile

    import torch
    from transformers import ClapModel

    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer(Path(tempfile.mkdtemp(prefix="nava-eval-clap-tok-")))
    model = ClapModel(tiny_clap_config(len(byte_level_vocab()))).to(device).eval()
    return ClapEmbedder(model, tokenizer, device)


# ----------------------------------------------------------------------------------- metric


def toolkit_perclip_fd(generated: np.ndarray, reference: np.ndarray) -> float:
    """`infer_fd` on two single embeddings with the toolkit's pinned numpy 1.26 semantics.

    np.cov of a [1, d] array with rowvar=False is then the (ddof 1) variance of its d entries, so
    FD = ‖g − r‖² + σ_g² + σ_r² − 2·σ_g·σ_r. (numpy ≥ 2 would make Σ an all-NaN d×d matrix.)
    """
    g = np.asarray(generated, dtype=np.float64).ravel()
    r = np.asarray(reference, dtype=np.float64).ravel()
    if g.shape != r.shape or g.size < 2:
        raise ValueError(f"embeddings must be two vectors of one length >= 2, got {g.shape} and {r.shape}")
    var_g, var_r = float(np.var(g, ddof=1)), float(np.var(r, ddof=1))
    diff = g - r
    return float(diff @ diff + var_g + var_r - 2.0 * np.sqrt(var_g * var_r))


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ClapScore(BaseMetric):
    """CLAP CS per item and the set-level FD against ground-truth wavs (Verse-Bench toolkit)."""

    name = "clap"
    protocol = PROTOCOL
    fields = CLAP_FIELDS
    requires = frozenset({"audio"})
    weight_names = ("clap-630k-audioset-fusion", "roberta-base")
    description = (
        "LAION-CLAP 630k-audioset-fusion (Verse-Bench toolkit): CS with audio_prompt[0] on "
        "set1+set2; FD of set2 clips to their ground-truth wavs (per clip as the toolkit, and set-level)"
    )
    default_batch_size = 8
    reload_on_new_device = False
    #: The toolkit reads with librosa.load(mono=True): the channel mean (metrics/channels.py).
    official_channel = "mean"

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
        # The generated file's channel; a ground-truth wav is always read as the toolkit reads it.
        self.reading = ChannelReading.of(self.name, self.official_channel, channel)
        self.protocol = self.protocol_id(variant=self.reading.variant)
        self.embedder: ClapEmbedder | None = None

    def _loaded(self) -> bool:
        return self.embedder is not None

    def _load(self, device: str) -> None:
        if self.smoke:
            self.weights_provenance = {"clap": {"source": f"random seed {self.seed}"}}
            self.embedder = tiny_clap(self.seed, device)
            return
        from transformers import RobertaTokenizer

        from nava_eval.metrics.weights_audio import CLAP, ROBERTA

        checkpoint = self.resolve_weight(CLAP)
        tokenizer_source = self.hub_source(ROBERTA)
        model = load_clap_model(read_checkpoint(checkpoint), official_clap_config(), device)
        self.embedder = ClapEmbedder(model, RobertaTokenizer.from_pretrained(tokenizer_source), device)

    def prepare(self, path: Path, key: str, reading: ChannelReading | None = None) -> Any:
        """The model input of one file (raises AudioLoadError subclasses or ValueError for empty audio)."""
        wave = peak_normalize_int16(load_48k_mono(path, reading))
        return fusion_input(wave, clip_seed(self.seed, key))

    def embed_files(
        self,
        files: Mapping[str, Path],
        seed_keys: Mapping[str, str] | None = None,
        readings: Mapping[str, ChannelReading] | None = None,
    ) -> dict[str, np.ndarray | Exception]:
        """key → embedding (or the error of that file); clips batched `batch_size` at a time.

        `seed_keys` maps a key to the name its long-clip chunks are drawn with (default: the key);
        `readings` a key to its channel reading (default: the channel mean).
        """
        if self.embedder is None:
            self.setup()
        assert self.embedder is not None
        out: dict[str, np.ndarray | Exception] = {}
        ready: list[tuple[str, Any]] = []
        for key, path in files.items():
            try:
                seed_key = (seed_keys or {}).get(key, key)
                ready.append((key, self.prepare(path, seed_key, (readings or {}).get(key))))
            except (AudioLoadError, ValueError) as exc:
                out[key] = exc
        for start in range(0, len(ready), self.batch_size):
            chunk = ready[start : start + self.batch_size]
            try:
                embs = self.embedder.embed_audio([x for _, x in chunk])
            except Exception as exc:  # isolate a bad clip
                log.warning("clap: batch failed (%s); one clip at a time", exc)
                embs = []
                for key, x in chunk:
                    try:
                        embs.append(self.embedder.embed_audio([x])[0])
                    except Exception as one_exc:
                        embs.append(RuntimeError(f"{files[key]}: {type(one_exc).__name__}: {one_exc}"))
            for (key, _), emb in zip(chunk, embs, strict=True):
                out[key] = emb
        return out

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        self.setup()
        assert self.embedder is not None
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        captions: dict[int, str] = {}
        for i, item in enumerate(items):
            prompts = item.meta.get("audio_prompt") or []
            if not prompts:
                outcomes[i] = ScoreOutcome.skipped(
                    f"{item.id}: no audio_prompt (the toolkit computes CS and FD only for items with one)"
                )
            else:
                captions[i] = str(prompts[0])
        # Keyed by batch position: one item may come twice (two seeds), each with its own output.
        # Its long-clip chunks are still drawn from the item id (the same for every seed).
        files: dict[str, Path] = {}
        seed_keys: dict[str, str] = {}
        for i in captions:
            files[f"gen:{i}"] = Path(items[i].output)
            seed_keys[f"gen:{i}"] = f"gen:{items[i].id}"
            if items[i].reference_audio is not None:
                files[f"ref:{i}"] = Path(items[i].reference_audio)
                seed_keys[f"ref:{i}"] = f"ref:{items[i].id}"
        readings = {key: self.reading for key in files if key.startswith("gen:")}
        embs = self.embed_files(files, seed_keys, readings)
        texts = sorted(set(captions.values()))
        text_emb = dict(zip(texts, self.embedder.embed_text(texts), strict=True)) if texts else {}
        for i, caption in captions.items():
            outcomes[i] = self._outcome(
                items[i], caption, embs.get(f"gen:{i}"), embs.get(f"ref:{i}"), text_emb
            )
        return [o if o is not None else ScoreOutcome.failed("internal: not scored") for o in outcomes]

    def _outcome(
        self, item: ScoreInput, caption: str, gen: Any, ref: Any, text_emb: Mapping[str, np.ndarray]
    ) -> ScoreOutcome:
        if isinstance(gen, NoAudioStreamError):
            return ScoreOutcome.skipped(f"{gen} (the toolkit scores an item only when its wav exists)")
        if isinstance(gen, EmptyAudioError | ValueError):
            return ScoreOutcome.failed(f"{gen} (the toolkit's peak normalisation fails on it too)")
        if isinstance(gen, Exception):
            return ScoreOutcome.failed(str(gen))
        values: dict[str, Any] = {
            "cs": float(np.dot(gen, text_emb[caption])),
            "caption": caption,
            # float32 rounded to 7 significant digits: compact JSON, FD unchanged at 1e-6.
            "embedding": [float(f"{v:.7g}") for v in gen],
        }
        if item.reference_audio is None:
            values["fd_excluded"] = "no ground-truth wav for this item"
        elif isinstance(ref, Exception):
            values["fd_excluded"] = f"ground-truth wav unusable: {ref}"
        else:
            values["reference_embedding"] = [float(f"{v:.7g}") for v in ref]
            values["fd"] = toolkit_perclip_fd(gen, ref)
            # The score depends on the ground-truth file too: the runner rescores when it changes.
            values["reference_sha256"] = _sha256(Path(item.reference_audio))
        return ScoreOutcome.ok(**values)
