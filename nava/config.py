"""Model configuration of the NAVA MMDiT, with the official `WanAVModel` field names."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.errors import InvalidValue

# Width of the ReDimNet speaker vectors that feed the speaker token (fixed by the release).
SPEAKER_DIM = 192
# Positions per RoPE axis in the official tables; every grid axis and the audio length must stay below it.
ROPE_MAX_POSITIONS = 1024
ATTENTION_BACKENDS = ("auto", "sdpa", "flash", "math")

# Fields the official JSONs may carry that this implementation accepts only at their inert value.
_INERT_OFFICIAL_FIELDS: dict[str, Any] = {
    "additional_emb_dim": None,
    "additional_emb_length": None,
    "cross_1d_rope": False,
}


@dataclass(frozen=True)
class NavaConfig:
    """Architecture of the Align-then-Fuse MMDiT.

    Field names are the official constructor arguments, so an official model JSON loads unchanged.
    `text_dim`, `add_spk_emb` and `no_split_norm_ffn` are not in `NAVA_6B.json`: the release takes them
    from the constructor default (4096) and from the yaml (both true), and the checkpoint only loads with
    those values, hence the defaults here.
    """

    dim: int
    ffn_dim: int
    freq_dim: int
    num_heads: int
    num_layers: int
    num_double_layers: int
    num_single_layers: int
    num_double_final_layers: int = 0
    patch_size: tuple[int, int, int] = (1, 2, 2)
    model_type: str = "ti2v"
    text_dim: int = 4096
    text_len: int = 512
    vid_in_dim: int = 48
    vid_out_dim: int = 48
    audio_in_dim: int = 128
    audio_out_dim: int = 128
    window_size: tuple[int, int] = (-1, -1)
    qk_norm: bool = True
    cross_attn_norm: bool = True
    eps: float = 1e-6
    temporal_rope_scaling_factor: float = 1.0
    add_spk_emb: bool = True
    no_split_norm_ffn: bool = True
    # Runtime choice, not an architecture field: "auto" = flash-attn varlen on CUDA when installed, else SDPA.
    attention_backend: str = field(default="auto", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "patch_size", tuple(int(p) for p in self.patch_size))
        object.__setattr__(self, "window_size", tuple(int(w) for w in self.window_size))
        self.validate()

    # ----------------------------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def audio_mlp_hidden(self) -> int:
        """Hidden width of the audio patch-embedding ConvMLP (SwiGLU sizing, rounded up to 256)."""
        return 256 * math.ceil(int(2 * 4 * self.dim / 3) / 256)

    @property
    def video_patch_dim(self) -> int:
        return math.prod(self.patch_size) * self.vid_out_dim

    def validate(self) -> None:
        """Raise ValueError on a configuration the model cannot be built from."""
        problems: list[str] = []
        if self.dim % self.num_heads:
            problems.append(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        elif self.head_dim % 2 or self.head_dim < 12:
            problems.append(f"head dim {self.head_dim} must be even and >= 12 for the 3D RoPE split")
        layers = self.num_double_layers + self.num_single_layers + self.num_double_final_layers
        if layers != self.num_layers:
            problems.append(
                f"num_layers {self.num_layers} != num_double_layers + num_single_layers + "
                f"num_double_final_layers = {layers}"
            )
        if len(self.patch_size) != 3 or self.patch_size[0] != 1:
            problems.append(f"patch_size {self.patch_size} unsupported: the release uses (1, h, w)")
        if ("a" in self.model_type) == ("v" in self.model_type):
            problems.append(f"model_type {self.model_type!r} must contain exactly one of 'a' and 'v'")
        if tuple(self.window_size) != (-1, -1):
            problems.append(f"window_size {self.window_size} unsupported: only global attention (-1, -1)")
        if self.attention_backend not in ATTENTION_BACKENDS:
            problems.append(
                f"attention_backend {self.attention_backend!r} unknown; valid: {', '.join(ATTENTION_BACKENDS)}"
            )
        if not self.no_split_norm_ffn:
            problems.append(
                "no_split_norm_ffn=False (per-stream FFN) is not part of the release; unsupported"
            )
        if problems:
            raise InvalidValue("invalid NavaConfig: " + "; ".join(problems))

    def check_sp_size(self, sp_size: int) -> None:
        """Ulysses scatters heads, so the head count must split evenly; call before loading weights."""
        if sp_size < 1 or self.num_heads % sp_size:
            raise InvalidValue(
                f"sequence-parallel size {sp_size} does not divide num_heads {self.num_heads}; "
                f"valid sizes: {[s for s in range(1, self.num_heads + 1) if self.num_heads % s == 0]}"
            )

    # ----------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NavaConfig:
        """Build from official-style keys; unknown keys are an error so a wrong file cannot pass silently."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        unknown: list[str] = []
        for key, value in data.items():
            if key.startswith("_"):  # bookkeeping such as "_class_name"
                continue
            if key in _INERT_OFFICIAL_FIELDS:
                if value != _INERT_OFFICIAL_FIELDS[key]:
                    raise InvalidValue(
                        f"config field {key}={value!r} is unsupported (only {_INERT_OFFICIAL_FIELDS[key]!r})"
                    )
                continue
            if key in known:
                kwargs[key] = value
            else:
                unknown.append(key)
        if unknown:
            raise InvalidValue(f"unknown config fields: {', '.join(sorted(unknown))}")
        try:
            return cls(**kwargs)
        except TypeError as err:  # a required field is missing
            raise InvalidValue(f"incomplete config: {err}") from err

    @classmethod
    def from_json(cls, path: str | Path) -> NavaConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise InvalidValue(f"cannot read model config {path}: {err}") from err
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise InvalidValue(f"{path}: {err}") from err

    @classmethod
    def for_model(cls, name: str, **overrides: Any) -> NavaConfig:
        """The architecture of a named model (nava-6b, nava-tiny), with fields overridden."""
        if name not in ARCHITECTURES:
            raise InvalidValue(f"unknown model {name!r}; valid models: {', '.join(sorted(ARCHITECTURES))}")
        return dataclasses.replace(ARCHITECTURES[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Official-style dict (lists for tuples), without the runtime-only attention_backend."""
        data = dataclasses.asdict(self)
        data.pop("attention_backend")
        data["patch_size"] = list(self.patch_size)
        data["window_size"] = list(self.window_size)
        return data


ARCHITECTURES: dict[str, NavaConfig] = {
    # NAVA_6B.json plus the yaml switches the release is trained with.
    "nava-6b": NavaConfig(
        dim=3072,
        ffn_dim=14336,
        freq_dim=256,
        num_heads=24,
        num_layers=30,
        num_double_layers=10,
        num_single_layers=20,
        text_dim=4096,
        text_len=512,
        temporal_rope_scaling_factor=0.24,
    ),
    # The reference-fixture model (../shared/fixtures/nava_tiny/config.json): same code paths, CPU-sized.
    "nava-tiny": NavaConfig(
        dim=256,
        ffn_dim=512,
        freq_dim=32,
        num_heads=2,
        num_layers=4,
        num_double_layers=2,
        num_single_layers=2,
        text_dim=64,
        text_len=16,
        temporal_rope_scaling_factor=0.24,
    ),
}
