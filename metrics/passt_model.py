"""PaSST-S as hear21passt's `get_basic_model(mode="logits")` runs it in eval mode, torch only.

The Verse-Bench toolkit's KL (`kl/kld_inferencer.py`) feeds 32 kHz windows to hear21passt 0.0.26's
`PasstBasicWrapper(AugmentMelSTFT, PaSST "passt_s_swa_p16_128_ap476")` and takes its logits. This is
that forward pass written out, with the module names of hear21passt's network, so the released
checkpoint (`passt-s-f128-p16-s10-ap.476-swa.pt`) loads strictly into `PasstNet`:

* front end (`AugmentMelSTFT`, eval: no masking, no frequency jitter): pre-emphasis conv [-0.97, 1],
  `torch.stft(n_fft 1024, hop 320, win_length 800, symmetric Hann, center, reflect)`, power,
  Kaldi mel banks (128 bins, 0–15000 Hz, a zero column appended), `log(mel + 1e-5)`, `(x + 4.5) / 5`;
* PaSST-S: 16×16 patches at stride 10×10 over a [128, T] spectrogram, frequency and time positional
  embeddings (the time one cut to the clip's patches), class and distillation tokens, 12 pre-norm
  blocks (LayerNorm eps 1e-6, exact GELU), final LayerNorm; the logits are `head((cls + dist) / 2)`
  (`head` = LayerNorm eps 1e-5 + Linear to the 527 AudioSet classes; `head_dist` is loaded, unused).

Attention uses `F.scaled_dot_product_attention` (the same arithmetic as hear21passt's explicit
softmax(q·kᵀ/√d)·v up to float32 rounding). Windows of one length run as one batch.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

SAMPLE_RATE = 32_000
N_MELS = 128
N_FFT = 1024
WIN_LENGTH = 800
HOP = 320
F_MIN = 0.0
F_MAX = SAMPLE_RATE // 2 - 2000 // 2  # AugmentMelSTFT: fmax None → sr // 2 - fmax_aug_range // 2
PREEMPHASIS = (-0.97, 1.0)
#: The shortest window PaSST takes: 1 + (n - 1) // 320 STFT frames (n - 1 after the pre-emphasis)
#: must cover one 16-frame patch; shorter ones make hear21passt's patch conv raise.
MIN_SAMPLES = (16 - 1) * HOP + 1


@dataclass(frozen=True)
class PasstConfig:
    """PaSST's constructor arguments as hear21passt's `get_model(arch="passt_s_swa_p16_128_ap476")` sets them."""

    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    patch_size: int = 16
    stride: int = 10
    input_fdim: int = 128
    input_tdim: int = 998
    num_classes: int = 527
    qkv_bias: bool = True
    distilled: bool = True

    @property
    def grid(self) -> tuple[int, int]:
        return self.input_fdim // self.stride, self.input_tdim // self.stride


OFFICIAL = PasstConfig()
#: The smoke network and the fast tests: the official structure, sizes scaled down.
TINY = PasstConfig(embed_dim=32, depth=2, num_heads=2)
SIZE_FIELDS = ("embed_dim", "depth", "num_heads")


def config_without_sizes(config: PasstConfig) -> dict[str, Any]:
    """Every field but the sizes (a tiny config must equal the official one there)."""
    return {f.name: getattr(config, f.name) for f in fields(config) if f.name not in SIZE_FIELDS}


# ----------------------------------------------------------------------------------- front end


@lru_cache(maxsize=4)
def kaldi_mel_banks(device: str = "cpu") -> Any:
    """torchaudio.compliance.kaldi.get_mel_banks(128, 1024, 32000, 0, 15000, 100, -500, 1) padded by one
    zero column: [128, 513] float32, computed with the same float32 steps."""
    import torch

    def mel_scalar(f: float) -> float:
        return 1127.0 * math.log(1.0 + f / 700.0)

    num_fft_bins = N_FFT / 2
    fft_bin_width = SAMPLE_RATE / N_FFT
    mel_low, mel_high = mel_scalar(F_MIN), mel_scalar(F_MAX)
    delta = (mel_high - mel_low) / (N_MELS + 1)
    b = torch.arange(N_MELS).unsqueeze(1)
    left = mel_low + b * delta
    center = mel_low + (b + 1.0) * delta
    right = mel_low + (b + 2.0) * delta
    mel = (1127.0 * (1.0 + (fft_bin_width * torch.arange(num_fft_bins)) / 700.0).log()).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.max(torch.zeros(1), torch.min(up, down))
    return torch.nn.functional.pad(banks, (0, 1), mode="constant", value=0).to(device)


def log_mel(wave: Any) -> Any:
    """[B, T] float32 waveforms at 32 kHz → [B, 128, frames] normalised log-mel (AugmentMelSTFT, eval)."""
    import torch
    import torch.nn.functional as F

    coeff = torch.tensor([[list(PREEMPHASIS)]], dtype=wave.dtype, device=wave.device)
    x = F.conv1d(wave.unsqueeze(1), coeff).squeeze(1)
    window = torch.hann_window(WIN_LENGTH, periodic=False, device=wave.device, dtype=wave.dtype)
    spec = torch.stft(
        x,
        N_FFT,
        hop_length=HOP,
        win_length=WIN_LENGTH,
        center=True,
        normalized=False,
        window=window,
        return_complex=True,
    )
    power = (torch.view_as_real(spec) ** 2).sum(dim=-1)
    mel = torch.matmul(kaldi_mel_banks(str(wave.device)).to(wave.dtype), power)
    return ((mel + 0.00001).log() + 4.5) / 5.0


# ----------------------------------------------------------------------------------- network


def _modules() -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class PatchEmbed(nn.Module):
        def __init__(self, cfg: PasstConfig) -> None:
            super().__init__()
            self.proj = nn.Conv2d(1, cfg.embed_dim, kernel_size=cfg.patch_size, stride=cfg.stride)

        def forward(self, x: Any) -> Any:
            return self.proj(x)

    class Attention(nn.Module):
        def __init__(self, cfg: PasstConfig) -> None:
            super().__init__()
            self.num_heads = cfg.num_heads
            self.qkv = nn.Linear(cfg.embed_dim, cfg.embed_dim * 3, bias=cfg.qkv_bias)
            self.proj = nn.Linear(cfg.embed_dim, cfg.embed_dim)

        def forward(self, x: Any) -> Any:
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
            out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
            return self.proj(out.transpose(1, 2).reshape(b, n, c))

    class Mlp(nn.Module):
        def __init__(self, cfg: PasstConfig) -> None:
            super().__init__()
            hidden = int(cfg.embed_dim * cfg.mlp_ratio)
            self.fc1 = nn.Linear(cfg.embed_dim, hidden)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(hidden, cfg.embed_dim)

        def forward(self, x: Any) -> Any:
            return self.fc2(self.act(self.fc1(x)))

    class Block(nn.Module):
        def __init__(self, cfg: PasstConfig) -> None:
            super().__init__()
            self.norm1 = nn.LayerNorm(cfg.embed_dim, eps=1e-6)
            self.attn = Attention(cfg)
            self.norm2 = nn.LayerNorm(cfg.embed_dim, eps=1e-6)
            self.mlp = Mlp(cfg)

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class PasstNet(nn.Module):
        """hear21passt's PaSST (distilled, eval): [B, 1, 128, T] spectrogram → [B, classes] logits."""

        def __init__(self, cfg: PasstConfig) -> None:
            super().__init__()
            e = cfg.embed_dim
            f, t = cfg.grid
            self.config = cfg
            self.patch_embed = PatchEmbed(cfg)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, e))
            self.dist_token = nn.Parameter(torch.zeros(1, 1, e))
            self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, e))
            self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, e, f, 1))
            self.time_new_pos_embed = nn.Parameter(torch.zeros(1, e, 1, t))
            self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg.depth)])
            self.norm = nn.LayerNorm(e, eps=1e-6)
            self.head = nn.Sequential(nn.LayerNorm(e), nn.Linear(e, cfg.num_classes))
            self.head_dist = nn.Linear(e, cfg.num_classes)

        def forward(self, spec: Any) -> Any:
            x = self.patch_embed(spec)  # [B, E, F, T]
            b = x.shape[0]
            x = x + self.time_new_pos_embed[:, :, :, : x.shape[-1]]
            x = x + self.freq_new_pos_embed
            x = x.flatten(2).transpose(1, 2)
            cls = self.cls_token.expand(b, -1, -1) + self.new_pos_embed[:, :1, :]
            dist = self.dist_token.expand(b, -1, -1) + self.new_pos_embed[:, 1:, :]
            x = self.norm(self.blocks(torch.cat((cls, dist, x), dim=1)))
            return self.head((x[:, 0] + x[:, 1]) / 2)

    class Passt(nn.Module):
        """PasstBasicWrapper(mode="logits"): [B, samples] at 32 kHz → [B, classes] logits."""

        def __init__(self, cfg: PasstConfig) -> None:
            super().__init__()
            self.net = PasstNet(cfg)

        def forward(self, wave: Any) -> Any:
            return self.net(log_mel(wave).unsqueeze(1))

    return {"PasstNet": PasstNet, "Passt": Passt}


def build_passt(config: PasstConfig = OFFICIAL) -> Any:
    """An uninitialised (zeros/default) Passt wrapper of `config`; load weights into `.net`."""
    return _modules()["Passt"](config)


class PasstCheckpointError(ValueError):
    """The checkpoint does not have hear21passt's PaSST layout (the message says what is off)."""


def prepare_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """hear21passt's `checkpoint_filter_fn` + `adapt_input_conv(1, ...)` for a PaSST checkpoint.

    A `model` entry is unwrapped, a flat patch projection is reshaped, and an input conv with 3
    channels is summed to 1 (as hear21passt does); ImageNet ViT checkpoints (no PaSST positional
    embeddings) are refused.
    """
    if "model" in state_dict and isinstance(state_dict["model"], Mapping):
        state_dict = state_dict["model"]
    out = dict(state_dict)
    if "time_new_pos_embed" not in out:
        raise PasstCheckpointError(
            "no time_new_pos_embed: not a PaSST AudioSet checkpoint (hear21passt would adapt an ImageNet ViT)"
        )
    w = out.get("patch_embed.proj.weight")
    if w is not None and w.dim() == 4 and w.shape[1] != 1:
        if w.shape[1] > 3:
            raise PasstCheckpointError(f"patch_embed.proj.weight has {w.shape[1]} input channels")
        out["patch_embed.proj.weight"] = w.float().sum(dim=1, keepdim=True).to(w.dtype)
    return out


def load_passt(state_dict: Mapping[str, Any], config: PasstConfig = OFFICIAL, device: str = "cpu") -> Any:
    """A Passt with `state_dict` (the PaSST network's keys) loaded strictly, in eval mode on `device`."""
    model = build_passt(config)
    sd = prepare_state_dict(state_dict)
    expected = model.net.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = sorted(k for k in set(sd) & set(expected) if tuple(sd[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        raise PasstCheckpointError(
            f"the checkpoint does not fit PaSST-S {config.embed_dim}x{config.depth} (missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shape {wrong[:5]})"
        )
    model.net.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return model.to(device).eval()


# ----------------------------------------------------------------------------------- seeded weights

_TOKENS = ("cls_token", "dist_token", "new_pos_embed", "freq_new_pos_embed", "time_new_pos_embed")


def seeded_value(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """One tensor of seeded random weights, a function of (seed, name, shape) only (reference_scripts/make_kl.py
    draws the official network's weights with the same formula)."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    z = rng.standard_normal(shape)
    if len(shape) == 1 and name.endswith(".weight"):
        return 1.0 + 0.1 * z  # LayerNorm scales
    if len(shape) == 1:
        return 0.1 * z  # biases
    if name in _TOKENS:
        return 0.5 * z
    return z * (1.2 / math.sqrt(int(np.prod(shape[1:]))))  # linear / conv: by fan-in


def seeded_state_dict(config: PasstConfig, seed: int) -> dict[str, Any]:
    """Seeded random weights for every tensor of PaSST `config` (smoke runs and tests)."""
    import torch

    shapes = {k: tuple(v.shape) for k, v in build_passt(config).net.state_dict().items()}
    return {k: torch.from_numpy(seeded_value(k, s, seed).astype(np.float32)) for k, s in shapes.items()}
