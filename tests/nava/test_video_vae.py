"""Wan2.2 video VAE wrapper: normalisation, tiled decode, original-checkpoint key map."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from nava_eval.nava.video_vae import (
    WAN22_LATENT_MEAN,
    WAN22_LATENT_STD,
    WAN22_VAE_CONFIG,
    TilingConfig,
    WanVideoVAE,
    build_wan22_autoencoder,
    load_wan22_vae,
    wan_vae_to_diffusers,
)

TINY = dict(WAN22_VAE_CONFIG, base_dim=8, decoder_base_dim=8, num_res_blocks=1)


@dataclass
class _Decoded:
    sample: torch.Tensor


class _LocalDecoder(torch.nn.Module):
    """A decoder whose output pixel depends only on its own latent cell (no receptive field), so a
    correct tiled decode must reproduce the untiled one exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = torch.nn.Parameter(torch.randn(3, 48, generator=torch.Generator().manual_seed(0)) / 7)

    def decode(self, z: torch.Tensor) -> _Decoded:
        rgb = torch.einsum("oc,bcthw->bothw", self.mix, z)
        rgb = rgb.repeat_interleave(16, dim=-1).repeat_interleave(16, dim=-2)
        frames = torch.cat([rgb[:, :, :1], rgb[:, :, 1:].repeat_interleave(4, dim=2)], dim=2)
        return _Decoded(torch.tanh(frames))


def test_latent_statistics_are_the_official_48() -> None:
    assert len(WAN22_LATENT_MEAN) == len(WAN22_LATENT_STD) == 48
    assert WAN22_LATENT_MEAN[:3] == (-0.2289, -0.0052, -0.1323) and WAN22_LATENT_MEAN[-2:] == (
        -0.1681,
        -0.0667,
    )
    assert WAN22_LATENT_STD[:3] == (0.4765, 1.0364, 0.4514) and WAN22_LATENT_STD[-2:] == (0.7468, 0.7744)


def test_tile_placement_follows_the_official_rule() -> None:
    from nava_eval.nava.video_vae import _tile_spans

    # 704×1280 frames: latent 44×80 → 3 × 3 tiles with the official 22×40 / 14×26 setting.
    assert _tile_spans(44, 22, 14) == [(0, 22), (14, 36), (28, 44)]
    assert _tile_spans(80, 40, 26) == [(0, 40), (26, 66), (52, 80)]
    assert _tile_spans(20, 22, 14) == [(0, 20)]


def test_tiled_blend_is_exact_for_a_local_decoder() -> None:
    vae = WanVideoVAE(_LocalDecoder())
    z = torch.randn(1, 48, 2, 30, 53, generator=torch.Generator().manual_seed(1))
    whole = vae.decode(z)
    tiled = vae.decode(z, TilingConfig())  # official 22×40 tiles, stride 14×26: 2×2 tiles here
    assert whole.shape == (1, 3, 5, 480, 848)
    torch.testing.assert_close(tiled, whole, rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_tiled_equals_untiled_on_tiny_wan_vae() -> None:
    torch.manual_seed(0)
    model = build_wan22_autoencoder(TINY)
    # The mid-block attention is the one global operator; a trained VAE barely uses it across tiles,
    # a random one does, so it is switched off to compare like with like.
    attention = model.decoder.mid_block.attentions[0]
    attention.proj.weight.zero_()
    attention.proj.bias.zero_()
    vae = WanVideoVAE(model)
    z = torch.randn(1, 48, 1, 8, 40)
    whole = vae.decode(z)
    tiled = vae.decode(z, TilingConfig(tile=(8, 36), stride=(8, 4)))
    diff = (tiled - whole).abs()
    assert diff.mean() < 2e-3 and diff.max() < 0.06
    # Where both tiles are far from their edges the blend is the untiled decode.
    torch.testing.assert_close(tiled[..., 272:368], whole[..., 272:368], rtol=1e-4, atol=1e-4)


@torch.no_grad()
def test_encode_normalises_and_decode_inverts_the_statistics() -> None:
    torch.manual_seed(0)
    vae = WanVideoVAE(build_wan22_autoencoder(TINY))
    video = torch.rand(1, 3, 5, 32, 32) * 2 - 1
    z = vae.encode(video)
    assert z.shape == (1, 48, 2, 2, 2)
    raw = vae.model.encode(video).latent_dist.mode()
    mean = torch.tensor(WAN22_LATENT_MEAN).view(1, -1, 1, 1, 1)
    std = torch.tensor(WAN22_LATENT_STD).view(1, -1, 1, 1, 1)
    torch.testing.assert_close(z, (raw - mean) / std)
    out = vae.decode(z)
    assert out.shape == (1, 3, 5, 32, 32) and out.abs().max() <= 1.0
    torch.testing.assert_close(out, vae.model.decode(raw).sample.clamp(-1, 1))


def _original_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The Wan2.2 original layout written out independently (WanVAE_ module names)."""
    import re

    parts = {".norm1.gamma": ".residual.0.gamma", ".conv1.": ".residual.2.", ".norm2.gamma": ".residual.3.gamma",
             ".conv2.": ".residual.6.", ".conv_shortcut.": ".shortcut."}  # fmt: skip
    out = {}
    for key, value in state.items():
        new = key
        if ".resnets." in new:
            for d, o in parts.items():
                new = new.replace(d, o)
        new = re.sub(r"^(encoder|decoder)\.mid_block\.resnets\.0\.", r"\1.middle.0.", new)
        new = re.sub(r"^(encoder|decoder)\.mid_block\.attentions\.0\.", r"\1.middle.1.", new)
        new = re.sub(r"^(encoder|decoder)\.mid_block\.resnets\.1\.", r"\1.middle.2.", new)
        new = re.sub(r"^(encoder|decoder)\.norm_out\.gamma$", r"\1.head.0.gamma", new)
        new = re.sub(r"^(encoder|decoder)\.conv_out\.", r"\1.head.2.", new)
        new = re.sub(r"^(encoder|decoder)\.conv_in\.", r"\1.conv1.", new)
        new = re.sub(r"^quant_conv\.", "conv1.", new)
        new = re.sub(r"^post_quant_conv\.", "conv2.", new)
        new = re.sub(
            r"^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.", r"encoder.downsamples.\1.downsamples.\2.", new
        )
        new = re.sub(
            r"^encoder\.down_blocks\.(\d+)\.downsampler\.", r"encoder.downsamples.\1.downsamples.9.", new
        )
        new = re.sub(
            r"^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.", r"decoder.upsamples.\1.upsamples.\2.", new
        )
        new = re.sub(r"^decoder\.up_blocks\.(\d+)\.upsampler\.", r"decoder.upsamples.\1.upsamples.9.", new)
        out[new] = value
    return out


def test_original_checkpoint_loads_strictly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = build_wan22_autoencoder(TINY)
    original = _original_names(reference.state_dict())
    assert not any(k.startswith(("encoder.down_blocks", "decoder.up_blocks")) for k in original)
    assert wan_vae_to_diffusers(original).keys() == reference.state_dict().keys()
    path = tmp_path / "Wan2.2_VAE.pth"
    torch.save(original, path)
    loaded = load_wan22_vae(path, TINY)
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    torch.save({**original, "decoder.extra.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=r"unexpected \['decoder.extra.weight'\]"):
        load_wan22_vae(path, TINY)


@torch.no_grad()
def test_release_precision_rounds_weights_to_bf16_cpu_twin() -> None:
    """CPU twin of tests/nava/test_cuda.py::test_release_video_decode_on_cuda: bf16 weights, fp32 math."""
    torch.manual_seed(0)
    vae = WanVideoVAE(build_wan22_autoencoder(TINY).eval())
    z = torch.randn(1, 48, 2, 2, 2)
    full = vae.decode(z)
    vae.round_weights_to_bf16()
    for p in vae.model.parameters():
        assert p.dtype == torch.float32 and torch.equal(p, p.bfloat16().float())
    rounded = vae.decode(z)
    # What the release computes: the same decoder with bf16 weights, every op upcast to fp32 (on CPU
    # the upcast is explicit, since CPU autocast has no fp32 mode).
    reference = WanVideoVAE(build_wan22_autoencoder(TINY).eval())
    reference.model.load_state_dict({k: v.bfloat16() for k, v in vae.model.state_dict().items()})
    reference.model.float()
    torch.testing.assert_close(rounded, reference.decode(z), rtol=0, atol=0)
    assert 0 < (rounded - full).abs().max() < 0.05
