"""umt5-xxl text encoder (Wan port) through transformers `UMT5EncoderModel`.

Prompts are cleaned as Wan's tokenizer wrapper does (ftfy, html-unescape twice, whitespace collapsed),
every `<S>` gets a `<S><extra_id_2>` speaker slot, tokens are padded to the context length (512 in the
release) with EOS appended, and each encoded prompt is cut back to its valid length (EOS included): the
DiT re-pads with zeros itself.

Weights load from the official Wan-format file (`models_t5_umt5-xxl-enc-bf16.pth`, Wan key names,
mapped by `wan_t5_to_hf`) or from an HF-format state dict.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from nava_eval.errors import InvalidValue, MissingFile

logger = logging.getLogger(__name__)

SPEAKER_OPEN, SPEAKER_CLOSE, SPEAKER_SLOT = "<S>", "<E>", "<extra_id_2>"
_UNSLOTTED_OPEN = re.compile(re.escape(SPEAKER_OPEN) + r"(?!" + re.escape(SPEAKER_SLOT) + r")")

# google/umt5-xxl encoder as Wan ships it (reference §4).
UMT5_XXL_CONFIG: dict[str, Any] = {
    "vocab_size": 256384,
    "d_model": 4096,
    "d_kv": 64,
    "num_heads": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
    "layer_norm_epsilon": 1e-6,
    "dropout_rate": 0.0,
}


class Tokenizer(Protocol):
    """The subset of the HF tokenizer call the encoder uses."""

    def __call__(self, text: Any, **kwargs: Any) -> Mapping[str, Any]: ...


def clean_prompt(text: str) -> str:
    """ftfy.fix_text (when installed), html-unescape twice, strip, collapse whitespace runs."""
    try:
        import ftfy

        text = ftfy.fix_text(text)
    except ImportError:
        logger.debug("ftfy not installed: prompt mojibake is not repaired")
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


def add_speaker_slots(text: str) -> str:
    """`<S>` → `<S><extra_id_2>` (idempotent: an already slotted `<S>` is left alone)."""
    return _UNSLOTTED_OPEN.sub(SPEAKER_OPEN + SPEAKER_SLOT, text)


def count_speaker_spans(text: str) -> int:
    """Number of `<S>…<E>` speech spans, i.e. of `<S>` openings."""
    return text.count(SPEAKER_OPEN)


def wan_t5_to_hf(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a Wan `T5Encoder` state dict to `UMT5EncoderModel` names; unknown keys are an error."""
    block_map = {
        "norm1.weight": "layer.0.layer_norm.weight",
        "attn.q.weight": "layer.0.SelfAttention.q.weight",
        "attn.k.weight": "layer.0.SelfAttention.k.weight",
        "attn.v.weight": "layer.0.SelfAttention.v.weight",
        "attn.o.weight": "layer.0.SelfAttention.o.weight",
        "pos_embedding.embedding.weight": "layer.0.SelfAttention.relative_attention_bias.weight",
        "norm2.weight": "layer.1.layer_norm.weight",
        # Wan's gated FFN is fc1(x) * gelu(gate(x)); HF's is wi_1(x) * gelu(wi_0(x)).
        "ffn.gate.0.weight": "layer.1.DenseReluDense.wi_0.weight",
        "ffn.fc1.weight": "layer.1.DenseReluDense.wi_1.weight",
        "ffn.fc2.weight": "layer.1.DenseReluDense.wo.weight",
    }
    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        if key == "token_embedding.weight":
            out["shared.weight"] = value
            out["encoder.embed_tokens.weight"] = value
        elif key == "norm.weight":
            out["encoder.final_layer_norm.weight"] = value
        elif (m := re.fullmatch(r"blocks\.(\d+)\.(.+)", key)) and m.group(2) in block_map:
            out[f"encoder.block.{m.group(1)}.{block_map[m.group(2)]}"] = value
        else:
            unknown.append(key)
    if unknown:
        raise InvalidValue(f"not Wan T5 encoder keys: {', '.join(sorted(unknown)[:8])}")
    return out


def is_wan_t5_state(state: Mapping[str, torch.Tensor]) -> bool:
    return "token_embedding.weight" in state


def build_umt5_encoder(config: Mapping[str, Any], device: str | torch.device = "meta") -> torch.nn.Module:
    """An uninitialised (meta) or randomly initialised `UMT5EncoderModel` for `config`."""
    from transformers import UMT5Config, UMT5EncoderModel

    ctx = torch.device("meta") if str(device) == "meta" else nullcontext()
    with ctx:
        model = UMT5EncoderModel(UMT5Config(**dict(config)))
    return model.eval()


def load_umt5_encoder(
    path: str | Path, config: Mapping[str, Any] = UMT5_XXL_CONFIG, dtype: torch.dtype = torch.bfloat16
) -> torch.nn.Module:
    """Load Wan-format `.pth` (torch.load weights_only) or HF-format `.safetensors`, strictly."""
    path = Path(path)
    if not path.is_file():
        raise MissingFile(f"umt5-xxl encoder weights not found: {path}")
    from nava_eval.weight_files import read_safetensors_file, read_torch_file

    if path.suffix == ".safetensors":
        state = read_safetensors_file(path, "the umt5-xxl text encoder")
    else:
        state = read_torch_file(path, "the umt5-xxl text encoder", mmap=True)
    return load_umt5_state(state, config, dtype)


def load_umt5_state(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any], dtype: torch.dtype = torch.float32
) -> torch.nn.Module:
    """Strictly load a Wan- or HF-named state dict into a fresh `UMT5EncoderModel`."""
    hf_state = wan_t5_to_hf(state) if is_wan_t5_state(state) else dict(state)
    if "encoder.embed_tokens.weight" not in hf_state and "shared.weight" in hf_state:
        hf_state["encoder.embed_tokens.weight"] = hf_state["shared.weight"]
    model = build_umt5_encoder(config, "meta")
    hf_state = {k: v.to(dtype) for k, v in hf_state.items()}
    missing, unexpected = model.load_state_dict(hf_state, strict=False, assign=True)
    if missing or unexpected:
        raise InvalidValue(f"umt5 weights do not match: missing {missing[:8]}, unexpected {unexpected[:8]}")
    # Tie again after assign=True replaced the parameters.
    model.encoder.embed_tokens = model.shared
    return model.eval()


@dataclass(frozen=True)
class EncodedPrompt:
    """Valid-length T5 features [n, dim] and the rows of its speaker slots (0-based, reading order)."""

    features: torch.Tensor
    speaker_positions: torch.Tensor  # int64 [n_slots]


class TextEncoder:
    """Tokenizer + UMT5 encoder; `encode` returns valid-length features per prompt."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Tokenizer,
        max_length: int = 512,
        device: str | torch.device = "cpu",
        offload: bool = False,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.device = torch.device(device)
        # T5 offload: keep the encoder on CPU between calls, move it to the device only to encode.
        self.offload = offload
        self.model.to("cpu" if offload else self.device)
        self.slot_id = int(self._ids(SPEAKER_SLOT, add_special_tokens=False)[0])

    def _ids(self, text: str, add_special_tokens: bool) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
        return list(ids[0] if ids and isinstance(ids[0], list) else ids)

    @staticmethod
    def prepare(prompt: str) -> str:
        """Cleaning and speaker slots, as the official dataset + tokenizer wrapper do."""
        return clean_prompt(add_speaker_slots(prompt))

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> list[EncodedPrompt]:
        texts = [self.prepare(p) for p in prompts]
        batch = self.tokenizer(
            texts,
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            add_special_tokens=True,
            return_tensors="pt",
        )
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if self.offload:
            self.model.to(self.device)
        try:
            hidden = self.model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).last_hidden_state
        finally:
            if self.offload:
                self.model.to("cpu")
        out: list[EncodedPrompt] = []
        for row, (row_ids, row_mask) in enumerate(zip(ids, mask, strict=True)):
            n = int(row_mask.sum())
            positions = torch.nonzero(row_ids[:n] == self.slot_id).flatten()
            out.append(EncodedPrompt(features=hidden[row, :n], speaker_positions=positions.to(torch.int64)))
        return out


class SmokeTokenizer:
    """SMOKE-ONLY tokenizer for the `nava-tiny` model: one token per character, needs no download.

    Ids: 0 pad, 1 EOS, 2 unk, 3.. the character's code point folded into `char_buckets` ids, then
    `<extra_id_k>` counted down from the end of the vocabulary as in T5. Its tokens mean nothing to
    the real umt5-xxl.
    """

    num_extra_ids = 100
    char_buckets = 4096
    vocab_size = 3 + char_buckets + num_extra_ids
    _special = re.compile(r"<extra_id_(\d+)>")

    def _chars(self, text: str) -> list[int]:
        return [3 + ord(ch) % self.char_buckets for ch in text]

    def _encode(self, text: str) -> list[int]:
        ids: list[int] = []
        pos = 0
        for m in self._special.finditer(text):
            ids.extend(self._chars(text[pos : m.start()]))
            k = int(m.group(1))
            ids.append(self.vocab_size - 1 - k if k < self.num_extra_ids else 2)
            pos = m.end()
        ids.extend(self._chars(text[pos:]))
        return ids

    def __call__(
        self,
        text: str | Sequence[str],
        padding: str | bool = False,
        truncation: bool = False,
        max_length: int | None = None,
        add_special_tokens: bool = True,
        return_tensors: str | None = None,
    ) -> dict[str, Any]:
        texts = [text] if isinstance(text, str) else list(text)
        rows: list[list[int]] = []
        for t in texts:
            ids = self._encode(t)
            if truncation and max_length is not None:
                ids = ids[: max_length - (1 if add_special_tokens else 0)]
            if add_special_tokens:
                ids.append(1)
            rows.append(ids)
        masks = [[1] * len(r) for r in rows]
        if padding == "max_length" and max_length is not None:
            masks = [m + [0] * (max_length - len(r)) for m, r in zip(masks, rows, strict=True)]
            rows = [r + [0] * (max_length - len(r)) for r in rows]
        if return_tensors == "pt":
            return {"input_ids": torch.tensor(rows, dtype=torch.int64), "attention_mask": torch.tensor(masks)}
        if isinstance(text, str):
            return {"input_ids": rows[0], "attention_mask": masks[0]}
        return {"input_ids": rows, "attention_mask": masks}


def load_umt5_tokenizer(path: str | Path) -> Tokenizer:
    """The google/umt5-xxl tokenizer from a local folder (spiece.model / tokenizer.json)."""
    from transformers import AutoTokenizer

    path = Path(path)
    if not path.is_dir():
        raise MissingFile(f"umt5-xxl tokenizer folder not found: {path}")
    return AutoTokenizer.from_pretrained(str(path))
