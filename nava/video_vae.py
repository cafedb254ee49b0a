"""Wan2.2 video VAE (z 48, 4× time, 16× space) through diffusers `AutoencoderKLWan`.

The DiT works on per-channel normalised latents: z = (μ − mean_c) / std_c with the 48 official
Wan2.2 TI2V-5B constants. Encoding returns the posterior mean (no sampling), decoding un-normalises and
clamps to [-1, 1]. An optional tiled decode (latent tiles 22×40, stride 14×26, linear feathering over
the overlaps, blended on CPU) bounds peak memory for large frames, as the official `--vae_tiling` does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

# Official Wan2.2 TI2V-5B latent statistics (reference §5.1).
# fmt: off
WAN22_LATENT_MEAN = (
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557,
    -0.1382, 0.0542, 0.2813, 0.0891, 0.1570, -0.0098, 0.0375, -0.1825,
    -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
    -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230,
    -0.0313, -0.1649, 0.0117, 0.0723, -0.2839, -0.2083, -0.0520, 0.3748,
    0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
)
WAN22_LATENT_STD = (
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013,
    0.8158, 1.0344, 0.5894, 1.0901, 0.6885, 0.6165, 0.8454, 0.4978,
    0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
    0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093,
    0.5709, 0.6065, 0.6415, 0.4944, 0.5726, 1.2042, 0.5458, 1.6887,
    0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
)
# fmt: on

# Architecture of Wan2.2_VAE.pth in diffusers terms (encoder width 160, decoder width 256).
WAN22_VAE_CONFIG: dict[str, object] = {
    "base_dim": 160,
    "decoder_base_dim": 256,
    "z_dim": 48,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
    "is_residual": True,
    "in_channels": 12,
    "out_channels": 12,
    "patch_size": 2,
    "scale_factor_temporal": 4,
    "scale_factor_spatial": 16,
    "latents_mean": list(WAN22_LATENT_MEAN),
    "latents_std": list(WAN22_LATENT_STD),
}


@dataclass(frozen=True)
class TilingConfig:
    """Spatial tiling of the latent for decode (official defaults)."""

    tile: tuple[int, int] = (22, 40)
    stride: tuple[int, int] = (14, 26)

    def __post_init__(self) -> None:
        for t, s in zip(self.tile, self.stride, strict=True):
            if not 0 < s <= t:
                raise ValueError(
                    f"tile stride must be in (0, tile]; got tile {self.tile}, stride {self.stride}"
                )


def _tile_spans(size: int, tile: int, stride: int) -> list[tuple[int, int]]:
    """Official placement: tiles start every `stride`, a start is dropped when the previous tile
    already reaches the end, and the last tile is cut at the edge."""
    spans = []
    for start in range(0, size, stride):
        if start - stride >= 0 and start - stride + tile >= size:
            continue
        spans.append((start, min(start + tile, size)))
    return spans


def _ramp(length: int, border: int, ramp_start: bool, ramp_end: bool) -> torch.Tensor:
    """1-D weights: linear ramp (1/border … 1) over `border` samples at each inner edge, 1 elsewhere."""
    w = torch.ones(length)
    border = min(border, length)
    if border > 0:
        up = (torch.arange(border, dtype=torch.float32) + 1) / border
        if ramp_start:
            w[:border] = torch.minimum(w[:border], up)
        if ramp_end:
            w[length - border :] = torch.minimum(w[length - border :], up.flip(0))
    return w


class WanVideoVAE:
    """Normalised-latent encode/decode around a diffusers `AutoencoderKLWan`."""

    def __init__(
        self,
        model: torch.nn.Module,
        latents_mean: tuple[float, ...] = WAN22_LATENT_MEAN,
        latents_std: tuple[float, ...] = WAN22_LATENT_STD,
        spatial_factor: int = 16,
        temporal_factor: int = 4,
    ) -> None:
        self.model = model.eval()
        self.mean = torch.tensor(latents_mean, dtype=torch.float32)
        self.std = torch.tensor(latents_std, dtype=torch.float32)
        self.spatial_factor = spatial_factor
        self.temporal_factor = temporal_factor

    @property
    def z_dim(self) -> int:
        return int(self.mean.numel())

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @torch.no_grad()
    def round_weights_to_bf16(self) -> None:
        """Round every floating weight to bf16 in place, keeping its storage dtype.

        The release keeps the Wan VAE's weights in bf16 and runs it under an fp32 autocast, which
        casts them back up before every conv: fp32 arithmetic on bf16-rounded weights. Rounded fp32
        weights give that arithmetic on any device (CPU autocast has no fp32 mode).
        """
        for tensor in [*self.model.parameters(), *self.model.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(torch.bfloat16).to(tensor.dtype))

    def _stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, -1, 1, 1, 1)
        return self.mean.view(shape).to(like), self.std.view(shape).to(like)

    def pixel_frames(self, latent_frames: int) -> int:
        """Causal temporal compression: F = 4(T − 1) + 1."""
        return self.temporal_factor * (latent_frames - 1) + 1

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """[B, 3, F, H, W] in [-1, 1] → normalised latent mean [B, 48, T, H/16, W/16] (fp32)."""
        posterior = self.model.encode(video.to(self.device, self.dtype)).latent_dist
        mu = posterior.mode().float()
        mean, std = self._stats(mu)
        return (mu - mean) / std

    @torch.no_grad()
    def _decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(z.float())
        latent = z.float() * std + mean
        out = self.model.decode(latent.to(self.device, self.dtype)).sample
        return out.float().clamp(-1.0, 1.0)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, tiling: TilingConfig | None = None) -> torch.Tensor:
        """Normalised latent [B, 48, T, h, w] → video [B, 3, 4(T−1)+1, 16h, 16w] in [-1, 1] (fp32, CPU if tiled)."""
        if z.ndim != 5 or z.shape[1] != self.z_dim:
            raise ValueError(f"expected latent [B, {self.z_dim}, T, h, w], got {tuple(z.shape)}")
        if tiling is None:
            return self._decode_raw(z)
        return self._decode_tiled(z, tiling)

    def _decode_tiled(self, z: torch.Tensor, tiling: TilingConfig) -> torch.Tensor:
        b, _, t, h, w = z.shape
        f = self.spatial_factor
        (tile_h, tile_w), (stride_h, stride_w) = tiling.tile, tiling.stride
        rows, cols = _tile_spans(h, tile_h, stride_h), _tile_spans(w, tile_w, stride_w)
        acc = torch.zeros(b, 3, self.pixel_frames(t), h * f, w * f)
        weight = torch.zeros(1, 1, 1, h * f, w * f)
        for r0, r1 in rows:
            for c0, c1 in cols:
                pixels = self._decode_raw(z[:, :, :, r0:r1, c0:c1]).cpu()
                # Feather only the edges that overlap a neighbour; frame borders keep full weight.
                mask_h = _ramp((r1 - r0) * f, (tile_h - stride_h) * f, r0 > 0, r1 < h)
                mask_w = _ramp((c1 - c0) * f, (tile_w - stride_w) * f, c0 > 0, c1 < w)
                mask = torch.minimum(mask_h[:, None], mask_w[None, :])[None, None, None]
                acc[..., r0 * f : r1 * f, c0 * f : c1 * f] += pixels * mask
                weight[..., r0 * f : r1 * f, c0 * f : c1 * f] += mask
        logger.debug("tiled decode: %d x %d tiles", len(rows), len(cols))
        return (acc / weight).clamp(-1.0, 1.0)


def build_wan22_autoencoder(config: Mapping[str, object] | None = None) -> torch.nn.Module:
    """An `AutoencoderKLWan` with the Wan2.2 layout (or `config` overrides), randomly initialised."""
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(**dict(config or WAN22_VAE_CONFIG))


# Original Wan2.2 VAE names → diffusers `AutoencoderKLWan` names (rules follow the public conversion in
# diffusers' scripts/convert_wan_to_diffusers.py, `convert_vae_22`).
_RESIDUAL_PARTS = (
    (".residual.0.gamma", ".norm1.gamma"),
    (".residual.2.", ".conv1."),
    (".residual.3.gamma", ".norm2.gamma"),
    (".residual.6.", ".conv2."),
    (".shortcut.", ".conv_shortcut."),
)
_WAN_VAE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"^(encoder|decoder)\.middle\.1\.", r"\1.mid_block.attentions.0."),
        (r"^(encoder|decoder)\.middle\.0\.", r"\1.mid_block.resnets.0."),
        (r"^(encoder|decoder)\.middle\.2\.", r"\1.mid_block.resnets.1."),
        (r"^(encoder|decoder)\.head\.0\.gamma$", r"\1.norm_out.gamma"),
        (r"^(encoder|decoder)\.head\.2\.", r"\1.conv_out."),
        (r"^(encoder|decoder)\.conv1\.", r"\1.conv_in."),
        (r"^conv1\.", "quant_conv."),
        (r"^conv2\.", "post_quant_conv."),
        (
            r"^encoder\.downsamples\.(\d+)\.downsamples\.\d+\.(resample|time_conv)",
            r"encoder.down_blocks.\1.downsampler.\2",
        ),
        (r"^encoder\.downsamples\.(\d+)\.downsamples\.(\d+)\.", r"encoder.down_blocks.\1.resnets.\2."),
        (
            r"^decoder\.upsamples\.(\d+)\.upsamples\.\d+\.(resample|time_conv)",
            r"decoder.up_blocks.\1.upsampler.\2",
        ),
        (r"^decoder\.upsamples\.(\d+)\.upsamples\.(\d+)\.", r"decoder.up_blocks.\1.resnets.\2."),
    )
)


def wan_vae_to_diffusers(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an original `Wan2.2_VAE.pth` state dict to diffusers' `AutoencoderKLWan` layout."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        for pattern, repl in _WAN_VAE_RULES:
            new, hits = pattern.subn(repl, new)
            if hits:
                break
        if ".resnets." in new:
            for old, rep in _RESIDUAL_PARTS:
                new = new.replace(old, rep)
        out[new] = value
    return out


def load_wan22_vae(path: str | Path, config: Mapping[str, object] | None = None) -> torch.nn.Module:
    """Load the official `Wan2.2_VAE.pth` (torch.load weights_only) into `AutoencoderKLWan`, strictly."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Wan2.2 VAE weights not found: {path}")
    from nava_eval.weight_files import read_torch_file

    state = read_torch_file(path, "the Wan2.2 VAE", mmap=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    converted = wan_vae_to_diffusers(state)
    with torch.device("meta"):
        model = build_wan22_autoencoder(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{path}: not a Wan2.2 VAE checkpoint: missing {missing[:6]} ({len(missing)}), "
            f"unexpected {unexpected[:6]} ({len(unexpected)})"
        )
    model.load_state_dict(converted, strict=True, assign=True)
    return model.eval()
