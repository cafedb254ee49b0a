"""LTX-2.3 audio decoder wrapper: latent layout, lengths, normalisation, output format, official keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from diffusers.models.autoencoders.autoencoder_kl_ltx2_audio import AutoencoderKLLTX2Audio
from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder, LTX2VocoderWithBWE
from safetensors.torch import save_file

from nava_eval.nava.audio_vae import (
    LtxAudioDecoder,
    audio_tokens_for_duration,
    audio_tokens_for_frames,
    load_ltx_audio_decoder,
    pack_audio_latent,
    resample,
    split_official_audio_state,
    unpack_audio_latent,
    vocoder_kwargs_from_metadata,
)
from nava_eval.nava.components import TINY_AUDIO_VAE, TINY_VOCODER


def test_pack_is_b_c_t_f_to_b_t_cf() -> None:
    latent = torch.arange(2 * 8 * 3 * 16, dtype=torch.float32).view(2, 8, 3, 16)
    packed = pack_audio_latent(latent)
    assert packed.shape == (2, 3, 128)
    assert packed[1, 2, 5 * 16 + 7] == latent[1, 5, 2, 7]
    assert torch.equal(unpack_audio_latent(packed), latent)


def test_token_counts() -> None:
    assert audio_tokens_for_duration(6.0) == 150 and audio_tokens_for_duration(0.2) == 5
    assert audio_tokens_for_duration(0.21) == 6
    # Reference setting: 37 latent frames → 145 pixel frames at the training 24 fps → 152 tokens.
    assert audio_tokens_for_frames(145) == 152
    with pytest.raises(ValueError, match="duration"):
        audio_tokens_for_duration(0.0)


def test_resample_to_16k_keeps_a_tone() -> None:
    t = torch.arange(48000) / 48000
    tone = torch.sin(2 * torch.pi * 440 * t)[None]
    out = resample(tone, 48000, 16000)
    assert out.shape == (1, 16000)
    expected = torch.sin(2 * torch.pi * 440 * torch.arange(16000) / 16000)
    assert (out[0, 200:-200] - expected[200:-200]).abs().max() < 1e-2


@torch.no_grad()
def test_decode_unnormalises_then_clamps() -> None:
    torch.manual_seed(0)
    vae, vocoder = AutoencoderKLLTX2Audio(**TINY_AUDIO_VAE).eval(), LTX2Vocoder(**TINY_VOCODER).eval()
    mean, std = torch.randn(128) * 0.1, torch.rand(128) + 0.5
    decoder = LtxAudioDecoder(vae, vocoder, mean, std, vocoder_sample_rate=16000)
    tokens = torch.randn(9, 128)
    mel = decoder.decode_mel(tokens)
    assert mel.shape == (1, 2, 9 * 4 - 3, 64)
    torch.testing.assert_close(mel, vae.decode(unpack_audio_latent((tokens * std + mean)[None])).sample)
    wav = decoder.decode(tokens)
    assert wav.shape == (1, 2, (9 * 4 - 3) * 160) and wav.abs().max() <= 0.99
    loud = LtxAudioDecoder(vae, _LoudVocoder(), mean, std, vocoder_sample_rate=32000).decode(tokens)
    # 32 kHz vocoder output is resampled to 16 kHz, then clamped to ±0.99.
    assert (
        loud.shape == (1, 2, (9 * 4 - 3) * 80) and loud.max() == pytest.approx(0.99) and loud.min() >= -0.99
    )


class _LoudVocoder(torch.nn.Module):
    """A vocoder stand-in far beyond full scale: 160 samples of 5.0 per mel frame."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(5.0))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        frames = torch.ones_like(mel[..., 0]).repeat_interleave(160, dim=-1)
        return self.gain * frames


def _official_state(vae: torch.nn.Module, vocoder: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Write the diffusers modules under the official file's LTX-core names."""
    state = {}
    for key, value in vae.state_dict().items():
        if key == "latents_mean":
            state["audio_vae.per_channel_statistics.mean-of-means"] = value
        elif key == "latents_std":
            state["audio_vae.per_channel_statistics.std-of-means"] = value
        else:
            state[f"audio_vae.{key}"] = value
    state["audio_vae.per_channel_statistics.mean-of-stds"] = torch.ones(128)
    renames = ((".upsamplers.", ".ups."), (".resnets.", ".resblocks."), (".conv_in.", ".conv_pre."),
               (".conv_out.", ".conv_post."), (".act_out.", ".act_post."),
               (".downsample.filter", ".downsample.lowpass.filter"))  # fmt: skip
    for key, value in vocoder.state_dict().items():
        name = "." + key
        for new, old in renames:
            name = name.replace(new, old)
        state[f"vocoder{name}"] = value
    return {k: v.contiguous().clone() for k, v in state.items()}


def _ltx_metadata(vae_cfg: dict, voc_cfg: dict) -> dict:
    """The same hyper-parameters in LTX-core's metadata layout."""

    def stage(prefix: str) -> dict:
        return {
            "upsample_initial_channel": voc_cfg[f"{prefix}hidden_channels"],
            "stereo": True,
            "upsample_kernel_sizes": voc_cfg[f"{prefix}upsample_kernel_sizes"],
            "upsample_rates": voc_cfg[f"{prefix}upsample_factors"],
            "resblock_kernel_sizes": voc_cfg[f"{prefix}resnet_kernel_sizes"],
            "resblock_dilation_sizes": voc_cfg[f"{prefix}resnet_dilations"],
            "activation": "snakebeta",
            "use_tanh_at_final": False,
            "use_bias_at_final": False,
        }

    dd = {"ch": vae_cfg["base_channels"], "out_ch": 2, "ch_mult": list(vae_cfg["ch_mult"]),
          "num_res_blocks": vae_cfg["num_res_blocks"], "attn_resolutions": [], "in_channels": 2,
          "resolution": 256, "z_channels": 8, "norm_type": "pixel", "causality_axis": "height",
          "dropout": 0.0, "mid_block_add_attention": False, "mel_bins": 64, "double_z": True}  # fmt: skip
    return {
        "audio_vae": {
            "model": {"params": {"ddconfig": dd, "sampling_rate": 16000}},
            "preprocessing": {"stft": {"hop_length": 160, "causal": True}},
        },
        "vocoder": {
            "vocoder": stage(""),
            "bwe": {
                **stage("bwe_"),
                "n_fft": 512,
                "hop_length": 80,
                "win_size": 512,
                "num_mels": 64,
                "input_sampling_rate": 16000,
                "output_sampling_rate": 48000,
            },  # fmt: skip
        },
    }


def test_official_file_loads_with_bwe_vocoder(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vae_cfg = {**TINY_AUDIO_VAE, "base_channels": 128}  # diffusers sizes its statistics by base_channels
    voc_cfg = {
        "hidden_channels": 64, "upsample_kernel_sizes": [11, 8, 4, 4, 4], "upsample_factors": [5, 4, 2, 2, 2],
        "resnet_kernel_sizes": [3], "resnet_dilations": [[1]], "bwe_hidden_channels": 64,
        "bwe_upsample_kernel_sizes": [11, 8, 7, 4, 4], "bwe_upsample_factors": [5, 4, 3, 2, 2],
        "bwe_resnet_kernel_sizes": [3], "bwe_resnet_dilations": [[1]], "hop_length": 80, "filter_length": 512,
        "window_length": 512, "input_sampling_rate": 16000, "output_sampling_rate": 48000,
    }  # fmt: skip
    vae = AutoencoderKLLTX2Audio(**vae_cfg)
    vae.latents_mean.copy_(torch.randn(128))
    vae.latents_std.copy_(torch.rand(128) + 0.5)
    vocoder = LTX2VocoderWithBWE(**voc_cfg)
    state = _official_state(vae, vocoder)
    assert any(".act_post." in k for k in state) and any(".ups." in k for k in state)
    vae_state, vocoder_state = split_official_audio_state(state)
    assert "latents_mean" in vae_state and not any("per_channel" in k for k in vae_state)
    assert vocoder_state.keys() == vocoder.state_dict().keys()
    path = tmp_path / "ltx-2.3-22b-dev_audio_vae.safetensors"
    metadata = {"config": json.dumps(_ltx_metadata(vae_cfg, voc_cfg))}
    save_file(state, str(path), metadata=metadata)
    decoder = load_ltx_audio_decoder(path)  # hyper-parameters from the metadata
    assert decoder.vocoder_sample_rate == 48000
    # LTX-core: the 16 kHz stage ends in a clamp (use_tanh_at_final false), the BWE generator in nothing.
    assert decoder.vocoder.vocoder.final_act_fn == "clamp"
    assert decoder.vocoder.bwe_generator.final_act_fn is None
    torch.testing.assert_close(decoder.mean, vae.latents_mean)
    for key, value in vocoder.state_dict().items():
        assert torch.equal(decoder.vocoder.state_dict()[key], value), key
    wav = decoder.decode(torch.randn(5, 128))
    # 5 tokens → 17 mel frames · 160 samples at 16 kHz, after the 48 kHz BWE output is resampled back.
    assert wav.shape == (1, 2, 17 * 160) and wav.abs().max() <= 0.99
    del state["audio_vae.decoder.conv_in.conv.weight"]
    save_file(state, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=r"audio VAE keys .*missing \['decoder.conv_in.conv.weight'\]"):
        load_ltx_audio_decoder(path)


def test_vocoder_final_activations_follow_ltx_core_defaults() -> None:
    stage = {
        "upsample_initial_channel": 8, "upsample_kernel_sizes": [4], "upsample_rates": [2],
        "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1]], "activation": "snakebeta",
    }  # fmt: skip
    bwe = {**stage, "n_fft": 512, "hop_length": 80, "win_size": 512, "num_mels": 64,
           "input_sampling_rate": 16000, "output_sampling_rate": 48000}  # fmt: skip
    defaults = vocoder_kwargs_from_metadata({"vocoder": stage, "bwe": bwe})
    # Absent keys take LTX-core's defaults: tanh and a bias at the end of the vocoder; never on the BWE.
    assert defaults["final_act_fn"] == "tanh" and defaults["final_bias"] is True
    assert defaults["bwe_final_act_fn"] is None
    clamped = vocoder_kwargs_from_metadata(
        {"vocoder": {**stage, "use_tanh_at_final": False}, "bwe": {**bwe, "use_tanh_at_final": False}}
    )
    assert clamped["final_act_fn"] == "clamp" and clamped["bwe_final_act_fn"] is None


@torch.no_grad()
def test_bf16_autocast_decode_cpu_twin() -> None:
    """CPU twin of tests/nava/test_cuda.py::test_release_audio_decode_on_cuda: the release's bf16 decode."""
    torch.manual_seed(0)
    vae, vocoder = AutoencoderKLLTX2Audio(**TINY_AUDIO_VAE).eval(), LTX2Vocoder(**TINY_VOCODER).eval()
    decoder = LtxAudioDecoder(vae, vocoder, torch.zeros(128), torch.ones(128), vocoder_sample_rate=16000)
    tokens = torch.randn(6, 128)
    full = decoder.decode(tokens)
    half = decoder.decode(tokens, autocast_dtype=torch.bfloat16)
    assert half.dtype == torch.float32 and half.shape == full.shape
    # The vocoder's last conv ran in bf16, so every sample sits on the bf16 grid ...
    assert torch.equal(half, half.bfloat16().float())
    assert not torch.equal(full, full.bfloat16().float())
    # ... and stays close to the fp32 decode (bf16 has 8 mantissa bits).
    assert 0 < (half - full).abs().max() < 0.05 * full.abs().max()
