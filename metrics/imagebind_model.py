"""ImageBind's vision and audio encoders (the two towers IB-Score uses), loadable from `imagebind_huge.pth`.

The network of facebookresearch/ImageBind (`imagebind/models/imagebind_model.py`, as vendored by
OpenMOSS/MOVA's evaluation toolkit), vision and audio modalities only. Parameter names and shapes
are the official ones, so the released state dict loads strictly once the other modalities' keys
(text, depth, thermal, IMU) are set aside (`load_imagebind_state`).

Vision: 2-frame clips [B, 3, 2, 224, 224] → Conv3d (2,14,14) patches + CLS + learned positions →
LayerNorm → pre-norm transformer → LayerNorm → CLS → Linear → L2-normalised.
Audio: log-mel [B, 1, 128, 204] → Conv2d 16×16 stride 10 + LayerNorm + CLS + positions →
transformer with learned key/value biases → LayerNorm → CLS → Linear → L2-normalised × 20.
Inputs with a clip axis ([B, S, ...]) are encoded per clip and the S embeddings averaged, as the
official forward does (`reduce_list`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

#: Key prefixes of the modalities IB-Score does not use (dropped from the official state dict).
UNUSED_MODALITIES = ("text", "depth", "thermal", "imu")
MODALITIES = ("vision", "audio")
AUDIO_LOGIT_SCALE = 20.0  # LearnableLogitScaling(logit_scale_init=20.0, learnable=False)


@dataclass(frozen=True)
class ImageBindConfig:
    """Sizes of the vision and audio towers; `huge()` is the released model."""

    out_embed_dim: int = 1024
    vision_embed_dim: int = 1280
    vision_num_blocks: int = 32
    vision_num_heads: int = 16
    video_frames: int = 2
    kernel_size: tuple[int, int, int] = (2, 14, 14)
    image_size: int = 224
    audio_embed_dim: int = 768
    audio_num_blocks: int = 12
    audio_num_heads: int = 12
    audio_kernel_size: int = 16
    audio_stride: int = 10
    audio_num_mel_bins: int = 128
    audio_target_len: int = 204

    @classmethod
    def huge(cls) -> ImageBindConfig:
        return cls()

    @classmethod
    def tiny(cls) -> ImageBindConfig:
        """Same layout, small widths and depths (tests, smoke preset)."""
        return cls(
            out_embed_dim=8,
            vision_embed_dim=16,
            vision_num_blocks=2,
            vision_num_heads=2,
            audio_embed_dim=16,
            audio_num_blocks=2,
            audio_num_heads=2,
        )

    def vision_patches(self) -> int:
        t, h, w = self.kernel_size
        return (self.video_frames // t) * (self.image_size // h) * (self.image_size // w)

    def audio_patches(self) -> int:
        k, s = self.audio_kernel_size, self.audio_stride
        rows = (self.audio_num_mel_bins - k) // s + 1
        cols = (self.audio_target_len - k) // s + 1
        return rows * cols


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    """Pre-norm block: x + attn(norm_1(x)), then x + mlp(norm_2(x)); sequence-first tensors [L, B, D]."""

    def __init__(self, dim: int, heads: int, bias_kv: bool) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, bias=True, add_bias_kv=bias_kv)
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, 4 * dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm_2(x))


class _Trunk(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, *, pre_norm: bool, bias_kv: bool) -> None:
        super().__init__()
        # index 0 is what the official `pre_transformer_layer` Sequential holds at position 0
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-6) if pre_norm else nn.Identity())
        self.blocks = nn.Sequential(*[_Block(dim, heads, bias_kv) for _ in range(depth)])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # [B, L, D] → [B, L, D]
        x = self.pre_transformer_layer(tokens).transpose(0, 1)
        return self.blocks(x).transpose(0, 1)


class _PosEmbedding(nn.Module):
    def __init__(self, tokens: int, dim: int) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))


class _VisionStem(nn.Module):
    def __init__(self, cfg: ImageBindConfig) -> None:
        super().__init__()
        conv = nn.Conv3d(3, cfg.vision_embed_dim, cfg.kernel_size, stride=cfg.kernel_size, bias=False)
        self.proj = nn.Sequential(nn.Identity(), conv)  # index 0 is the official PadIm2Video (no weights)


class _AudioStem(nn.Module):
    def __init__(self, cfg: ImageBindConfig) -> None:
        super().__init__()
        self.proj = nn.Conv2d(
            1, cfg.audio_embed_dim, cfg.audio_kernel_size, stride=cfg.audio_stride, bias=False
        )
        self.norm_layer = nn.LayerNorm(cfg.audio_embed_dim)


class _Preprocessor(nn.Module):
    """Patch stem → [CLS, patches] + learned positions (named as the official RGBDTPreprocessor)."""

    def __init__(self, stem: nn.Module, dim: int, patches: int) -> None:
        super().__init__()
        self.rgbt_stem = stem
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding_helper = _PosEmbedding(patches + 1, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 5 and x.shape[2] == 1:  # PadIm2Video(repeat, 2): one frame → two
            x = x.repeat(1, 1, 2, 1, 1)
        tokens = self.rgbt_stem.proj(x).flatten(2).transpose(1, 2)
        norm = getattr(self.rgbt_stem, "norm_layer", None)
        if norm is not None:
            tokens = norm(tokens)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        pos = self.pos_embedding_helper.pos_embed
        if pos.shape[1] != tokens.shape[1]:
            raise ValueError(
                f"input gives {tokens.shape[1] - 1} patches, the model was built for {pos.shape[1] - 1} "
                "(ImageBind is applied at its training size: 2×224×224 vision clips, 128×204 mel audio)"
            )
        return tokens + pos


class _FirstToken(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


def _head(dim: int, out: int) -> nn.Sequential:
    """LayerNorm → CLS token → Linear (the official Sequential, so the keys are `.0.*` and `.2.*`)."""
    return nn.Sequential(nn.LayerNorm(dim, eps=1e-6), _FirstToken(), nn.Linear(dim, out, bias=False))


class _LogitScale(nn.Module):
    def __init__(self, init: float) -> None:
        super().__init__()
        self.register_buffer("log_logit_scale", torch.tensor(math.log(init)))


class ImageBindAV(nn.Module):
    """ImageBind's vision and audio towers: `embed_vision` / `embed_audio` return the official outputs."""

    def __init__(self, cfg: ImageBindConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.modality_preprocessors = nn.ModuleDict(
            {
                "vision": _Preprocessor(_VisionStem(cfg), cfg.vision_embed_dim, cfg.vision_patches()),
                "audio": _Preprocessor(_AudioStem(cfg), cfg.audio_embed_dim, cfg.audio_patches()),
            }
        )
        self.modality_trunks = nn.ModuleDict(
            {
                "vision": _Trunk(
                    cfg.vision_embed_dim,
                    cfg.vision_num_blocks,
                    cfg.vision_num_heads,
                    pre_norm=True,
                    bias_kv=False,
                ),
                "audio": _Trunk(
                    cfg.audio_embed_dim,
                    cfg.audio_num_blocks,
                    cfg.audio_num_heads,
                    pre_norm=False,
                    bias_kv=True,
                ),
            }
        )
        self.modality_heads = nn.ModuleDict(
            {
                "vision": _head(cfg.vision_embed_dim, cfg.out_embed_dim),
                "audio": _head(cfg.audio_embed_dim, cfg.out_embed_dim),
            }
        )
        self.modality_postprocessors = nn.ModuleDict(
            {"audio": nn.Sequential(nn.Identity(), _LogitScale(AUDIO_LOGIT_SCALE))}
        )

    def _encode(self, modality: str, x: torch.Tensor, clip_axis: bool) -> torch.Tensor:
        if clip_axis:
            b, s = x.shape[:2]
            x = x.reshape(b * s, *x.shape[2:])
        tokens = self.modality_preprocessors[modality](x)
        emb = self.modality_heads[modality](self.modality_trunks[modality](tokens))
        emb = nn.functional.normalize(emb, dim=-1, p=2)
        if modality == "audio":
            scale = self.modality_postprocessors["audio"][1].log_logit_scale.exp().clamp(max=100)
            emb = scale * emb
        if clip_axis:
            emb = emb.reshape(b, s, -1).mean(dim=1)
        return emb

    def encode_clips(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        """Per-clip embeddings (normalised; audio × 20) of a flat batch of clips [N, ...] → [N, D]."""
        return self._encode(modality, x, clip_axis=False)

    def embed_vision(self, clips: torch.Tensor) -> torch.Tensor:
        """[B, S, 3, 2, 224, 224] (S clips each) or [B, 3, 2, 224, 224] → [B, out_embed_dim]."""
        return self._encode("vision", clips, clips.ndim == 6)

    def embed_audio(self, mels: torch.Tensor) -> torch.Tensor:
        """[B, S, 1, 128, 204] (S clips each) or [B, 1, 128, 204] → [B, out_embed_dim] (norm 20)."""
        return self._encode("audio", mels, mels.ndim == 5)


def load_imagebind_state(model: ImageBindAV, state: Mapping[str, torch.Tensor]) -> list[str]:
    """Load an official ImageBind state dict strictly; returns the keys of unused modalities it set aside.

    Every vision/audio key must be present with its shape, and no other key may be left over:
    a mismatch is an error naming the keys (a truncated or foreign checkpoint is never half-loaded).
    """
    ours: dict[str, torch.Tensor] = {}
    unused: list[str] = []
    unknown: list[str] = []
    for key, value in state.items():
        parts = key.split(".")
        modality = parts[1] if len(parts) > 1 else ""
        if modality in UNUSED_MODALITIES:
            unused.append(key)
        elif modality in MODALITIES:
            ours[key] = value
        else:
            unknown.append(key)
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in ours)
    unknown += sorted(k for k in ours if k not in expected)
    wrong = sorted(
        f"{k}: file {tuple(v.shape)}, model {tuple(expected[k].shape)}"
        for k, v in ours.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    )
    if missing or unknown or wrong:
        problems = []
        if missing:
            problems.append(f"missing {len(missing)} key(s), e.g. {missing[:3]}")
        if unknown:
            problems.append(f"unexpected key(s) {unknown[:3]}")
        if wrong:
            problems.append(f"shape mismatch {wrong[:3]}")
        raise ValueError("not an ImageBind checkpoint of this size: " + "; ".join(problems))
    model.load_state_dict(ours, strict=True)
    return unused


def key_shapes(model: ImageBindAV) -> dict[str, tuple[int, ...]]:
    """Parameter and buffer names (the official ones) with their shapes."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}
