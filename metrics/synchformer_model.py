"""Synchformer (Iashin et al., 2024): our implementation of the audio-visual offset classifier.

One network serves two protocols: DeSync (MOVA, `metrics.desync`) and AV-A (Verse-Bench,
`metrics.av_a`). Parameter names follow the released state dicts (MOVA's
`weights/synchformer_state_dict.pth`, the `model` entry of v-iashin's `24-01-04T16-39-21.pt`), so
either loads strictly (`load_synchformer_state`). Written from the structure of the official module
tree (MOVA `av_bench/synchformer/`, commit 595a976), not copied from it:

- video: MotionFormer (ViT-B/16 with divided space-time attention, 3-D patches of 2×16×16 over
  16-frame segments, separate spatial and temporal position embeddings), LayerNorm of the patch
  tokens, then a pre-norm transformer encoder layer with its own CLS token pooling each of the 8
  temporal slots over space → (B, S, 8, D);
- audio: AST (ViT-B on a 128×66 log-mel patch grid of 16×16, stride 10: 12×6 patches), then a
  pre-norm encoder layer with a CLS token pooling each of the 6 time slots over frequency
  → (B, S, 6, D);
- head: linear projections, the GlobalTransformer (LayerNorm of each stream, `[OFF] v… [MOD] a…`,
  learned positions, 3 GPT blocks, LayerNorm) and a 21-way offset classifier on the OFF token.

`SynchformerConfig.full()` is the release's architecture; `tiny()` changes only the sizes
(`SIZE_FIELDS`) for tests and the smoke run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

#: the fields `tiny()` changes; every other field is the release's
SIZE_FIELDS = (
    "dim",
    "v_depth",
    "v_heads",
    "a_depth",
    "a_heads",
    "g_layers",
    "g_heads",
    "mlp_ratio",
    "a_intermediate",
)


@dataclass(frozen=True)
class SynchformerConfig:
    """Every architecture constant of the released Synchformer (names are ours)."""

    dim: int = 768
    # MotionFormer (divided_224_16x4.yaml, patched as motionformer.py does)
    v_depth: int = 12
    v_heads: int = 12
    mlp_ratio: int = 4
    v_img_size: int = 224
    v_patch: int = 16
    v_patch_t: int = 2  # PATCH_SIZE_TEMP
    v_temporal_resolution: int = 8  # TEMPORAL_RESOLUTION: token slots per segment
    v_qkv_bias: bool = True
    v_norm_eps: float = 1e-6
    # AST (transformers' ASTConfig defaults, max_length patched to 66)
    a_depth: int = 12
    a_heads: int = 12
    a_intermediate: int = 3072
    a_mel_bins: int = 128
    a_max_t: int = 66
    a_patch: int = 16
    a_stride: int = 10  # frequency and time stride
    a_norm_eps: float = 1e-12
    a_qkv_bias: bool = True
    a_pos_len: int = 1214  # the AST's position table before it is cut to 2 + f·t
    # the aggregation encoder layers (nn.TransformerEncoderLayer, norm_first, GELU)
    agg_norm_eps: float = 1e-6
    # GlobalTransformer
    g_layers: int = 3
    g_heads: int = 8
    g_norm_eps: float = 1e-5
    g_pos_len: int = 198  # 1 + 14·8 + 1 + 14·6: 14 segments
    n_classes: int = 21
    max_off_sec: float = 2.0

    @classmethod
    def full(cls) -> SynchformerConfig:
        return cls()

    @classmethod
    def tiny(cls) -> SynchformerConfig:
        return replace(
            cls(),
            dim=32,
            v_depth=2,
            v_heads=2,
            a_depth=2,
            a_heads=2,
            g_layers=1,
            g_heads=2,
            mlp_ratio=2,
            a_intermediate=64,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def a_grid(self) -> tuple[int, int]:
        """AST patches along (frequency, time): (12, 6) for the release."""
        f = (self.a_mel_bins - self.a_patch) // self.a_stride + 1
        t = (self.a_max_t - self.a_patch) // self.a_stride + 1
        return f, t

    @property
    def v_grid(self) -> int:
        return self.v_img_size // self.v_patch


def offset_grid(cfg: SynchformerConfig) -> torch.Tensor:
    """The class grid: `n_classes` offsets evenly from −max_off_sec to +max_off_sec (float32)."""
    import numpy as np

    return torch.from_numpy(np.linspace(-cfg.max_off_sec, cfg.max_off_sec, cfg.n_classes)).float()


# ------------------------------------------------------------------------------------------
# Shared pieces


def _heads(x: torch.Tensor, n: int) -> torch.Tensor:
    b, t, d = x.shape
    return x.view(b, t, n, d // n).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    b, n, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, n * d)


def _softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d) v on [..., T, d] with explicit matmuls (no fused kernel)."""
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return torch.matmul(scores.softmax(dim=-1), v)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _InProjAttention(nn.Module):
    """nn.MultiheadAttention's parameters (in_proj_weight/bias, out_proj), batch first, no mask."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        out = _softmax_attention(_heads(q, self.heads), _heads(k, self.heads), _heads(v, self.heads))
        return self.out_proj(_merge(out))


class ClsPoolLayer(nn.Module):
    """A pre-norm encoder layer (nn.TransformerEncoderLayer's names) that prepends a CLS token and returns it."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.self_attn = _InProjAttention(dim, heads)
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.norm2 = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.self_attn(self.norm1(x))
        x = x + self.linear2(F.gelu(self.linear1(self.norm2(x))))
        return x[:, 0]


# ------------------------------------------------------------------------------------------
# Video: MotionFormer


class _Conv2dHolder(nn.Module):
    def __init__(self, conv: nn.Module) -> None:
        super().__init__()
        self.proj = conv


class DividedAttention(nn.Module):
    """Attention along one axis (time or space) of the patch grid; the CLS token attends to every token."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, frames: int, patches: int, along_time: bool) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        q, k, v = (_heads(t, h) for t in self.qkv(x).chunk(3, dim=-1))  # [b, h, 1 + f·p, dh]
        dh = q.shape[-1]
        cls_out = _softmax_attention(q[:, :, :1], k, v)  # [b, h, 1, dh]

        def grid(t: torch.Tensor) -> torch.Tensor:
            t = t[:, :, 1:].reshape(b, h, frames, patches, dh)
            return t.transpose(2, 3) if along_time else t  # [b, h, groups, members, dh]

        qg, kg, vg = grid(q), grid(k), grid(v)
        groups = qg.shape[2]
        kc = k[:, :, :1, None].expand(b, h, groups, 1, dh)
        vc = v[:, :, :1, None].expand(b, h, groups, 1, dh)
        out = _softmax_attention(qg, torch.cat([kc, kg], dim=3), torch.cat([vc, vg], dim=3))
        if along_time:
            out = out.transpose(2, 3)
        out = torch.cat([cls_out, out.reshape(b, h, frames * patches, dh)], dim=2)
        return self.proj(_merge(out))


class DividedBlock(nn.Module):
    """Time attention, then space attention, then the MLP, each pre-norm with a residual."""

    def __init__(self, cfg: SynchformerConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm1 = nn.LayerNorm(d, eps=cfg.v_norm_eps)
        self.attn = DividedAttention(d, cfg.v_heads, cfg.v_qkv_bias)
        self.timeattn = DividedAttention(d, cfg.v_heads, cfg.v_qkv_bias)
        self.norm2 = nn.LayerNorm(d, eps=cfg.v_norm_eps)
        self.mlp = Mlp(d, cfg.mlp_ratio * d)
        self.norm3 = nn.LayerNorm(d, eps=cfg.v_norm_eps)

    def forward(self, x: torch.Tensor, frames: int, patches: int) -> torch.Tensor:
        x = x + self.timeattn(self.norm3(x), frames, patches, along_time=True)
        x = x + self.attn(self.norm1(x), frames, patches, along_time=False)
        return x + self.mlp(self.norm2(x))


class MotionFormer(nn.Module):
    """Segment features [N, C, T=16, 224, 224] → [N, 8, D] (one vector per temporal token slot)."""

    def __init__(self, cfg: SynchformerConfig) -> None:
        super().__init__()
        d, p = cfg.dim, cfg.v_patch
        self.cfg = cfg
        # the 2-D patch embedding is unused by the forward; the release keeps its weights
        self.patch_embed = _Conv2dHolder(nn.Conv2d(3, d, kernel_size=p, stride=p))
        self.patch_embed_3d = _Conv2dHolder(
            nn.Conv3d(3, d, kernel_size=(cfg.v_patch_t, p, p), stride=(cfg.v_patch_t, p, p))
        )
        n = cfg.v_grid**2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, d))
        self.temp_embed = nn.Parameter(torch.zeros(1, cfg.v_temporal_resolution, d))
        self.blocks = nn.ModuleList(DividedBlock(cfg) for _ in range(cfg.v_depth))
        self.norm = nn.LayerNorm(d, eps=cfg.v_norm_eps)
        self.spatial_attn_agg = ClsPoolLayer(d, cfg.v_heads, cfg.mlp_ratio * d, cfg.agg_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        n = x.shape[0]
        tokens = self.patch_embed_3d.proj(x)  # [N, D, t, h, w]
        frames, patches = tokens.shape[2], tokens.shape[3] * tokens.shape[4]
        tokens = tokens.flatten(2).transpose(1, 2)  # [N, t·h·w, D], time-major
        space = self.pos_embed[:, 1:].repeat(1, cfg.v_temporal_resolution, 1)
        time = self.temp_embed.repeat_interleave(patches, dim=1)
        pos = torch.cat([self.pos_embed[:, :1], space + time], dim=1)
        x = torch.cat([self.cls_token.expand(n, -1, -1), tokens], dim=1) + pos
        for block in self.blocks:
            x = block(x, frames, patches)
        x = self.norm(x[:, 1:])  # the CLS token is dropped before the final norm
        x = x.reshape(n * frames, patches, -1)  # each temporal slot's patches
        return self.spatial_attn_agg(x).view(n, frames, -1)


# ------------------------------------------------------------------------------------------
# Audio: AST


class _AstSelf(nn.Module):
    def __init__(self, dim: int, bias: bool) -> None:
        super().__init__()
        self.query = nn.Linear(dim, dim, bias=bias)
        self.key = nn.Linear(dim, dim, bias=bias)
        self.value = nn.Linear(dim, dim, bias=bias)


class _Dense(nn.Module):
    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.dense = nn.Linear(i, o)


class _AstAttention(nn.Module):
    def __init__(self, dim: int, bias: bool) -> None:
        super().__init__()
        self.attention = _AstSelf(dim, bias)
        self.output = _Dense(dim, dim)


class AstLayer(nn.Module):
    def __init__(self, cfg: SynchformerConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.heads = cfg.a_heads
        self.attention = _AstAttention(d, cfg.a_qkv_bias)
        self.intermediate = _Dense(d, cfg.a_intermediate)
        self.output = _Dense(cfg.a_intermediate, d)
        self.layernorm_before = nn.LayerNorm(d, eps=cfg.a_norm_eps)
        self.layernorm_after = nn.LayerNorm(d, eps=cfg.a_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attention.attention
        y = self.layernorm_before(x)
        q, k, v = (_heads(m(y), self.heads) for m in (a.query, a.key, a.value))
        x = x + self.attention.output.dense(_merge(_softmax_attention(q, k, v)))
        y = F.gelu(self.intermediate.dense(self.layernorm_after(x)))
        return x + self.output.dense(y)


class _AstEmbeddings(nn.Module):
    def __init__(self, cfg: SynchformerConfig) -> None:
        super().__init__()
        d = cfg.dim
        f, t = cfg.a_grid
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, d))
        self.patch_embeddings = nn.Module()
        self.patch_embeddings.projection = nn.Conv2d(1, d, kernel_size=cfg.a_patch, stride=cfg.a_stride)
        self.position_embeddings = nn.Parameter(torch.zeros(1, f * t + 2, d))


class _AstEncoder(nn.Module):
    def __init__(self, cfg: SynchformerConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(AstLayer(cfg) for _ in range(cfg.a_depth))


class _Ast(nn.Module):
    def __init__(self, cfg: SynchformerConfig) -> None:
        super().__init__()
        self.embeddings = _AstEmbeddings(cfg)
        self.encoder = _AstEncoder(cfg)
        self.layernorm = nn.LayerNorm(cfg.dim, eps=cfg.a_norm_eps)


class AudioFeatures(nn.Module):
    """Log-mel segments [N, 128, 66] (mel × time) → [N, 6, D] (one vector per time slot)."""

    def __init__(self, cfg: SynchformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.ast = _Ast(cfg)
        self.freq_attn_agg = ClsPoolLayer(cfg.dim, cfg.a_heads, cfg.a_intermediate, cfg.agg_norm_eps)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        e = self.ast.embeddings
        n = mel.shape[0]
        x = e.patch_embeddings.projection(mel[:, None])  # [N, D, f, t]
        f, t = x.shape[2], x.shape[3]
        x = x.flatten(2).transpose(1, 2)  # frequency-major tokens
        x = torch.cat([e.cls_token.expand(n, -1, -1), e.distillation_token.expand(n, -1, -1), x], dim=1)
        x = x + e.position_embeddings
        for layer in self.ast.encoder.layer:
            x = layer(x)
        x = self.ast.layernorm(x)[:, 2:]  # [N, f·t, D]
        x = x.reshape(n, f, t, -1).transpose(1, 2).reshape(n * t, f, -1)  # each time slot's bins
        return self.freq_attn_agg(x).view(n, t, -1)


# ------------------------------------------------------------------------------------------
# The offset classifier


class _GptAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.key = nn.Linear(dim, dim)
        self.query = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.heads
        out = _softmax_attention(_heads(self.query(x), h), _heads(self.key(x), h), _heads(self.value(x), h))
        return self.proj(_merge(out))


class _GptBlock(nn.Module):
    def __init__(self, cfg: SynchformerConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.ln1 = nn.LayerNorm(d, eps=cfg.g_norm_eps)
        self.ln2 = nn.LayerNorm(d, eps=cfg.g_norm_eps)
        self.attn = _GptAttention(d, cfg.g_heads)
        # Sequential indices 0 (fc), 2 (proj) as in the release (1: GELU, 3: dropout)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d), nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class _PosEmb(nn.Module):
    def __init__(self, n: int, d: int) -> None:
        super().__init__()
        self.pos_emb = nn.Parameter(torch.zeros(1, n, d))


class GlobalTransformer(nn.Module):
    def __init__(self, cfg: SynchformerConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.vis_in_lnorm = nn.LayerNorm(d, eps=cfg.g_norm_eps)
        self.aud_in_lnorm = nn.LayerNorm(d, eps=cfg.g_norm_eps)
        self.OFF_tok = nn.Parameter(torch.zeros(1, 1, d))
        self.MOD_tok = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_emb_cfg = _PosEmb(cfg.g_pos_len, d)
        self.blocks = nn.Sequential(*(_GptBlock(cfg) for _ in range(cfg.g_layers)))
        self.ln_f = nn.LayerNorm(d, eps=cfg.g_norm_eps)
        self.off_head = nn.Linear(d, cfg.n_classes)

    def forward(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        b = v.shape[0]
        x = torch.cat(
            [
                self.OFF_tok.expand(b, -1, -1),
                self.vis_in_lnorm(v),
                self.MOD_tok.expand(b, -1, -1),
                self.aud_in_lnorm(a),
            ],
            dim=1,
        )
        pos = self.pos_emb_cfg.pos_emb
        if x.shape[1] > pos.shape[1]:
            raise ValueError(f"{x.shape[1]} tokens but the position table holds {pos.shape[1]}")
        # the release adds a table of exactly its trained length; a shorter table (Verse-Bench's
        # 11-segment cut) is the first rows of the same table
        x = x + pos[:, : x.shape[1]]
        x = self.ln_f(self.blocks(x))
        return self.off_head(x[:, 0])


class Synchformer(nn.Module):
    """The released Synchformer: segment features of each stream and the offset logits of a window."""

    def __init__(self, cfg: SynchformerConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or SynchformerConfig.full()
        self.vfeat_extractor = MotionFormer(self.cfg)
        self.afeat_extractor = AudioFeatures(self.cfg)
        self.vproj = nn.Linear(self.cfg.dim, self.cfg.dim)
        self.aproj = nn.Linear(self.cfg.dim, self.cfg.dim)
        self.transformer = GlobalTransformer(self.cfg)

    def video_features(self, segments: torch.Tensor) -> torch.Tensor:
        """[B, S, 16, 3, 224, 224] normalised frames → [B, S, 8, D]."""
        b, s = segments.shape[:2]
        out = self.vfeat_extractor(segments.flatten(0, 1).permute(0, 2, 1, 3, 4))  # [B·S, C, T, H, W] in
        return out.view(b, s, *out.shape[1:])

    def audio_features(self, mels: torch.Tensor) -> torch.Tensor:
        """[B, S, 128, 66] normalised log-mels → [B, S, 6, D]."""
        b, s = mels.shape[:2]
        out = self.afeat_extractor(mels.flatten(0, 1))
        return out.view(b, s, *out.shape[1:])

    def offset_logits(self, vis: torch.Tensor, aud: torch.Tensor) -> torch.Tensor:
        """[B, S, 8, D] and [B, S, 6, D] features of one window → [B, n_classes] logits."""
        v = self.vproj(vis).flatten(1, 2)
        a = self.aproj(aud).flatten(1, 2)
        return self.transformer(v, a)


def init_random(model: Synchformer, seed: int) -> Synchformer:
    """Seeded random weights at the scale of the release's init (linear std 0.02, LayerNorm 1/0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".weight") and p.dim() == 1:
                p.fill_(1.0)  # LayerNorm scales
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    return model


def load_synchformer_state(model: Synchformer, state: Mapping[str, Any]) -> list[str]:
    """Load a released state dict strictly; returns the keys set aside.

    Accepts MOVA's `synchformer_state_dict.pth` (exactly our keys) and a training checkpoint
    `24-01-04T16-39-21.pt` read as a mapping (its `model` entry, as Verse-Bench loads it, or its
    `state_dict` entry without the `module.` prefixes, as MOVA's download script converts it). A longer `transformer.pos_emb_cfg.pos_emb` than ours is cut to our length
    (the official `Synchformer.load_state_dict` does the same). The AST position table keeps its
    first 2 + 12·6 rows when a file carries the unpatched 1214-row table. Any other missing,
    unexpected or misshapen key raises `ValueError` naming it.
    """
    for entry in (
        "model",
        "state_dict",
    ):  # a training checkpoint: Verse-Bench reads "model", MOVA "state_dict"
        if entry in state and isinstance(state[entry], Mapping):
            state = state[entry]
            break
    ours = model.state_dict()
    fixed = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}
    for key in ("transformer.pos_emb_cfg.pos_emb", "afeat_extractor.ast.embeddings.position_embeddings"):
        if key in fixed and key in ours and fixed[key].shape[1] > ours[key].shape[1]:
            fixed[key] = fixed[key][:, : ours[key].shape[1]]
    missing = sorted(set(ours) - set(fixed))
    unexpected = sorted(set(fixed) - set(ours))
    bad = [k for k in ours if k in fixed and tuple(fixed[k].shape) != tuple(ours[k].shape)]
    if missing or unexpected or bad:
        raise ValueError(
            "not a Synchformer state dict of the released architecture: "
            f"missing {missing[:5]}{'…' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}, "
            f"wrong shape {bad[:5]}"
        )
    model.load_state_dict({k: fixed[k] for k in ours}, strict=True)
    return unexpected
