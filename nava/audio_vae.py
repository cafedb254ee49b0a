"""LTX-2.3 audio VAE decoder + vocoder (diffusers `AutoencoderKLLTX2Audio`, `LTX2Vocoder[WithBWE]`).

The DiT's audio latent is token-major [La, 128] with La = 25 tokens per second; the 128 channels are
8 latent channels × 16 latent mel bins ("b c t f → b t (c f)"), normalised with the checkpoint's
per-channel statistics. Decoding: un-normalise → [B, 8, La, 16] → stereo log-mel → vocoder waveform at
the vocoder's rate → resampled to 16 kHz with torchaudio's default windowed-sinc filter → clamped to
±0.99 (as NAVA writes it). The release runs all of it under the bf16 autocast of its sampler on CUDA
(`decode(..., autocast_dtype=torch.bfloat16)`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from nava_eval.nava.resample import sinc_resample

logger = logging.getLogger(__name__)

LATENT_TOKENS_PER_SECOND = 25
LATENT_CHANNELS = 8
LATENT_MEL_BINS = 16
OUTPUT_SAMPLE_RATE = 16000
OUTPUT_CLAMP = 0.99

# Key renames from the LTX-core names of the official file to diffusers' (public in diffusers'
# scripts/convert_ltx2_to_diffusers.py).
_VOCODER_RENAMES = (
    (".ups.", ".upsamplers."),
    (".resblocks.", ".resnets."),
    (".conv_pre.", ".conv_in."),
    (".conv_post.", ".conv_out."),
    (".act_post.", ".act_out."),
    (".downsample.lowpass.filter", ".downsample.filter"),
)
_STAT_RENAMES = {"mean-of-means": "latents_mean", "std-of-means": "latents_std"}


def audio_tokens_for_duration(seconds: float) -> int:
    """T2A length: ceil(d · 25); rounded first so 0.2 s is 5 tokens, not 6 from float error."""
    if seconds <= 0:
        raise ValueError(f"duration must be > 0 seconds, got {seconds}")
    return math.ceil(round(seconds * LATENT_TOKENS_PER_SECOND, 6))


def audio_tokens_for_frames(pixel_frames: int, video_fps: float = 24.0) -> int:
    """AV length: La = ceil(F_pix / video_fps · 25) with the training video_fps (24), not the mp4 fps."""
    return math.ceil(round(pixel_frames / video_fps * LATENT_TOKENS_PER_SECOND, 6))


def pack_audio_latent(latent: torch.Tensor) -> torch.Tensor:
    """[B, 8, T, 16] → [B, T, 128] with channel index c·16 + f."""
    return latent.transpose(1, 2).flatten(2, 3)


def unpack_audio_latent(tokens: torch.Tensor, mel_bins: int = LATENT_MEL_BINS) -> torch.Tensor:
    """[B, T, 128] → [B, 8, T, 16]."""
    return tokens.unflatten(2, (-1, mel_bins)).transpose(1, 2)


def resample(wav: torch.Tensor, rate_in: int, rate_out: int) -> torch.Tensor:
    """torchaudio's default resampling (Hann-windowed sinc) along the last axis, float32 out."""
    return sinc_resample(wav.detach().float(), rate_in, rate_out)


class LtxAudioDecoder:
    """Normalised audio latent [La, 128] → stereo waveform [2, N] at 16 kHz."""

    def __init__(
        self,
        vae: torch.nn.Module,
        vocoder: torch.nn.Module,
        latents_mean: torch.Tensor,
        latents_std: torch.Tensor,
        vocoder_sample_rate: int,
        output_sample_rate: int = OUTPUT_SAMPLE_RATE,
    ) -> None:
        if (
            latents_mean.numel() != LATENT_CHANNELS * LATENT_MEL_BINS
            or latents_std.shape != latents_mean.shape
        ):
            raise ValueError(f"per-channel statistics must have 128 values, got {tuple(latents_mean.shape)}")
        self.vae = vae.eval()
        self.vocoder = vocoder.eval()
        self.mean = latents_mean.float().flatten()
        self.std = latents_std.float().flatten()
        self.vocoder_sample_rate = vocoder_sample_rate
        self.sample_rate = output_sample_rate

    @property
    def device(self) -> torch.device:
        return next(self.vae.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.vae.parameters()).dtype

    @torch.no_grad()
    def decode_mel(self, tokens: torch.Tensor) -> torch.Tensor:
        """[La, 128] or [B, La, 128] → log-mel [B, 2, T_mel, mel_bins]."""
        tokens = tokens[None] if tokens.ndim == 2 else tokens
        if tokens.ndim != 3 or tokens.shape[-1] != self.mean.numel():
            raise ValueError(f"expected audio latent [B, La, 128], got {tuple(tokens.shape)}")
        raw = tokens.float() * self.std.to(tokens.device) + self.mean.to(tokens.device)
        latent = unpack_audio_latent(raw).to(self.device, self.dtype)
        return self.vae.decode(latent).sample

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor, autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
        """[La, 128] or [B, La, 128] → float32 waveform [B, 2, N] at 16 kHz, clamped to ±0.99.

        autocast_dtype: run decoder, vocoder and resampler under autocast to this dtype, as the release
        does on CUDA (bf16); the resampler's conv then yields bf16 samples, returned as float32 values.
        """
        context = (
            torch.autocast(self.device.type, dtype=autocast_dtype)
            if autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with context:
            mel = self.decode_mel(tokens)
            vocoder_dtype = next(self.vocoder.parameters()).dtype
            wav = self.vocoder(mel.to(vocoder_dtype)).float()
            wav = sinc_resample(wav, self.vocoder_sample_rate, self.sample_rate)
            wav = wav.clamp(-OUTPUT_CLAMP, OUTPUT_CLAMP)
        return wav.float().cpu()


def split_official_audio_state(
    state: Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Official `audio_vae.*` / `vocoder.*` keys → (diffusers VAE state, diffusers vocoder state)."""
    vae: dict[str, torch.Tensor] = {}
    vocoder: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("audio_vae.per_channel_statistics."):
            stat = key.removeprefix("audio_vae.per_channel_statistics.")
            if stat in _STAT_RENAMES:
                vae[_STAT_RENAMES[stat]] = value
            # other statistics (channel index, mean-of-stds) are not used for decoding
        elif key.startswith("audio_vae."):
            vae[key.removeprefix("audio_vae.")] = value
        elif key.startswith("vocoder."):
            name = "." + key.removeprefix("vocoder.")  # leading dot so renames also match the first part
            for old, new in _VOCODER_RENAMES:
                name = name.replace(old, new)
            vocoder[name[1:]] = value
    return vae, vocoder


def _strict_load(module: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str, path: Path) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        raise ValueError(
            f"{path}: {what} keys do not match diffusers' layout: missing {missing[:6]} ({len(missing)}), "
            f"unexpected {unexpected[:6]} ({len(unexpected)}), wrong shape {wrong[:6]} ({len(wrong)})"
        )
    module.load_state_dict(state, strict=True)


def load_ltx_audio_decoder(
    path: str | Path,
    vae_config: Mapping[str, Any] | None = None,
    vocoder_config: Mapping[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> LtxAudioDecoder:
    """Build the decoder from the official `ltx-2.3-22b-dev_audio_vae.safetensors`.

    Hyper-parameters come from the arguments, else from the file's `config` metadata (LTX-core
    sections `audio_vae` / `vocoder`), else from diffusers' LTX-2.3 defaults; any key or shape mismatch
    is reported by name.
    """
    from diffusers.models.autoencoders.autoencoder_kl_ltx2_audio import AutoencoderKLLTX2Audio
    from diffusers.pipelines.ltx2.vocoder import LTX2VocoderWithBWE

    from nava_eval.weight_files import read_safetensors_file, read_safetensors_metadata

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LTX-2.3 audio VAE file not found: {path}")
    metadata = read_safetensors_metadata(path, "the LTX-2.3 audio VAE")
    meta_config = json.loads(metadata["config"]) if "config" in metadata else {}
    vae_kwargs = dict(
        vae_config or _from_metadata(meta_config, "audio_vae", audio_vae_kwargs_from_metadata, path)
    )
    vocoder_kwargs = dict(
        vocoder_config or _from_metadata(meta_config, "vocoder", vocoder_kwargs_from_metadata, path)
    )
    vae_state, vocoder_state = split_official_audio_state(
        read_safetensors_file(path, "the LTX-2.3 audio VAE")
    )
    vae = AutoencoderKLLTX2Audio(**vae_kwargs)
    vocoder = LTX2VocoderWithBWE(**vocoder_kwargs)
    _strict_load(vae, vae_state, "audio VAE", path)
    _strict_load(vocoder, vocoder_state, "vocoder", path)
    if dtype != torch.float32:  # diffusers warns on every dtype cast, so only cast when asked to
        vae, vocoder = vae.to(dtype), vocoder.to(dtype)
    return LtxAudioDecoder(
        vae,
        vocoder,
        vae.latents_mean.detach().clone(),
        vae.latents_std.detach().clone(),
        vocoder_sample_rate=int(vocoder.config.output_sampling_rate),
    )


def audio_vae_kwargs_from_metadata(section: Mapping[str, Any]) -> dict[str, Any]:
    """LTX-core audio VAE config (model.params.ddconfig + preprocessing.stft) → diffusers kwargs."""
    params = section["model"]["params"]
    dd = params["ddconfig"]
    stft = section["preprocessing"]["stft"]
    return {
        "base_channels": dd["ch"],
        "output_channels": dd["out_ch"],
        "ch_mult": tuple(dd["ch_mult"]),
        "num_res_blocks": dd["num_res_blocks"],
        "attn_resolutions": tuple(dd.get("attn_resolutions") or ()) or None,
        "in_channels": dd["in_channels"],
        "resolution": dd["resolution"],
        "latent_channels": dd["z_channels"],
        "norm_type": dd["norm_type"],
        "causality_axis": dd["causality_axis"],
        "dropout": dd.get("dropout", 0.0),
        "mid_block_add_attention": bool(dd.get("mid_block_add_attention", False)),
        "sample_rate": params["sampling_rate"],
        "mel_hop_length": stft["hop_length"],
        "is_causal": bool(stft["causal"]),
        "mel_bins": dd["mel_bins"],
        "double_z": bool(dd.get("double_z", True)),
    }


def vocoder_kwargs_from_metadata(section: Mapping[str, Any]) -> dict[str, Any]:
    """LTX-core vocoder + bandwidth-extension config (sections `vocoder`, `bwe`) → diffusers kwargs.

    Defaults and final activations follow LTX-core's configurator: the 16 kHz vocoder ends in tanh or,
    with `use_tanh_at_final: false` (LTX-2.3), a clamp to [-1, 1] before the bandwidth extension; the
    BWE generator has no final activation (its sum with the resampled skip is clamped instead).
    """
    voc, bwe = section["vocoder"], section["bwe"]

    def final_activation(cfg: Mapping[str, Any], applied: bool) -> str | None:
        if not applied:
            return None
        return "tanh" if cfg.get("use_tanh_at_final", True) else "clamp"

    def stage(cfg: Mapping[str, Any], prefix: str, final_applied: bool) -> dict[str, Any]:
        return {
            f"{prefix}hidden_channels": cfg["upsample_initial_channel"],
            f"{prefix}out_channels": 2 if cfg.get("stereo", True) else 1,
            f"{prefix}upsample_kernel_sizes": list(cfg["upsample_kernel_sizes"]),
            f"{prefix}upsample_factors": list(cfg["upsample_rates"]),
            f"{prefix}resnet_kernel_sizes": list(cfg["resblock_kernel_sizes"]),
            f"{prefix}resnet_dilations": [list(d) for d in cfg["resblock_dilation_sizes"]],
            f"{prefix}act_fn": cfg["activation"],
            f"{prefix}final_act_fn": final_activation(cfg, final_applied),
            f"{prefix}final_bias": bool(cfg.get("use_bias_at_final", True)),
        }

    return {
        **stage(voc, "", final_applied=True),
        **stage(bwe, "bwe_", final_applied=False),
        "filter_length": bwe["n_fft"],
        "hop_length": bwe["hop_length"],
        "window_length": bwe["win_size"],
        "num_mel_channels": bwe["num_mels"],
        "input_sampling_rate": bwe["input_sampling_rate"],
        "output_sampling_rate": bwe["output_sampling_rate"],
    }


def _from_metadata(config: Mapping[str, Any], name: str, convert: Any, path: Path) -> dict[str, Any]:
    section = config.get(name)
    if not section:
        logger.warning("%s: no %r config in the metadata; using diffusers' defaults", path, name)
        return {}
    try:
        return convert(section)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: unexpected {name!r} config metadata (missing {err})") from err
