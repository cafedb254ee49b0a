"""Sections `video_vae` and `audio_vae`: decoding one item's latents with the release architectures.

Video: diffusers' AutoencoderKLWan in the Wan2.2 layout (random weights), the plan's latent
(48 × 37 × 44 × 80 for VerseBench) decoded through `WanVideoVAE.decode` with the official tiling
(22×40 latent tiles, stride 14×26, blended on the CPU), first at the release's precision (bf16
weights computed in fp32, also the harness default), then all in bf16 while the box allows. Audio:
the LTX-2.3 audio VAE + vocoder with bandwidth extension (diffusers' defaults), the plan's audio
tokens through `LtxAudioDecoder.decode` under the release's bf16 autocast on CUDA, resampling to
16 kHz included. No warm-up call: one decode runs
long enough that first-call overhead is noise, and the box could not afford two.
"""

from __future__ import annotations

import contextlib
import logging

import torch

from nava_eval.runners.perf.gpu.budget import Deadline
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.report import Measurement, SectionResult
from nava_eval.runners.perf.gpu.timing import measure


@contextlib.contextmanager
def _quiet_diffusers():
    """diffusers warns on every dtype cast of a model built in code (there is no from_pretrained
    here whose fp32 modules it could keep); the warning says nothing about these timings."""
    log = logging.getLogger("diffusers")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device):
    """Random init from `seed` without touching the caller's RNG streams."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def build_video_vae(ctx: BenchContext):
    from nava_eval.nava.video_vae import WAN22_VAE_CONFIG, WanVideoVAE, build_wan22_autoencoder

    if ctx.plan.video_vae == "tiny":
        from nava_eval.nava.components import TINY_VIDEO_VAE

        config = TINY_VIDEO_VAE
    else:
        config = WAN22_VAE_CONFIG
    with _seeded(0, ctx.device), torch.device(ctx.device):
        return WanVideoVAE(build_wan22_autoencoder(config))


VAE_MODES = {
    # The release keeps the Wan VAE's weights in bf16 under an fp32 autocast: fp32 arithmetic on
    # bf16-rounded weights (WanVideoVAE.round_weights_to_bf16), which is also the harness's default.
    "release": (torch.float32, "fp32 math, bf16-rounded weights (the release and the harness)"),
    "bf16": (torch.bfloat16, "bf16 weights and math (not the release: a speed reference)"),
}


def run_video(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> None:
    plan = ctx.plan
    vae = build_video_vae(ctx)
    vae.round_weights_to_bf16()
    t, h, w = plan.step.latent_grid
    latent = torch.randn(1, vae.z_dim, t, h, w, generator=torch.Generator().manual_seed(3)).to(ctx.device)
    expected = (1, 3, vae.pixel_frames(t), h * vae.spatial_factor, w * vae.spatial_factor)
    tiling = plan.vae_tiling
    section.checks["latent"] = list(latent.shape)
    section.checks["tiling"] = None if tiling is None else f"tile {tiling.tile}, stride {tiling.stride}"
    name = "Wan2.2 VAE" if plan.video_vae != "tiny" else "tiny VAE"
    for index, mode in enumerate(plan.vae_modes):
        previous = section.measurements[-1].seconds if section.measurements else None
        if previous is not None and previous * 1.5 > deadline.remaining():
            section.notes.append(
                f"{mode} decode not run: the {previous:.0f} s of the last would pass the box"
            )
            continue
        dtype, what = VAE_MODES[mode]
        with _quiet_diffusers():
            vae.model.to(dtype)
        timing, pixels = measure(
            lambda: vae.decode(latent, tiling=tiling),
            ctx.device,
            deadline.sub(deadline.remaining() / (len(plan.vae_modes) - index)),
            max_repeats=plan.max_repeats,
            warmup=False,
        )
        if tuple(pixels.shape) != expected or not bool(torch.isfinite(pixels).all()):
            raise RuntimeError(
                f"decode gave {tuple(pixels.shape)} (expected {expected}) or non-finite values"
            )
        if mode == "release":
            ctx.figures["video_decode_s"] = timing.seconds
        section.add(
            Measurement(
                label=f"{name} decode {mode}, {t} latent frames → {expected[2]}×{expected[3]}×{expected[4]}",
                seconds=timing.seconds,
                seconds_all=timing.seconds_all,
                first_s=timing.first_s,
                peak_memory_bytes=timing.peak_memory_bytes,
                per="decode",
                note=what + (", tiled as the official script" if tiling is not None else ", untiled"),
            )
        )
        del pixels


def build_audio_decoder(ctx: BenchContext):
    from diffusers.models.autoencoders.autoencoder_kl_ltx2_audio import AutoencoderKLLTX2Audio
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder, LTX2VocoderWithBWE

    from nava_eval.nava.audio_vae import LATENT_CHANNELS, LATENT_MEL_BINS, LtxAudioDecoder

    with _seeded(0, ctx.device), torch.device(ctx.device):
        if ctx.plan.audio_vae == "tiny":
            from nava_eval.nava.components import TINY_AUDIO_VAE, TINY_VOCODER

            vae, vocoder = AutoencoderKLLTX2Audio(**TINY_AUDIO_VAE), LTX2Vocoder(**TINY_VOCODER)
        else:
            vae, vocoder = AutoencoderKLLTX2Audio(), LTX2VocoderWithBWE()
        stats = torch.randn(2, LATENT_CHANNELS * LATENT_MEL_BINS)
    return LtxAudioDecoder(
        vae.eval(),
        vocoder.eval(),
        latents_mean=0.1 * stats[0].cpu(),
        latents_std=1.0 + 0.1 * stats[1].abs().cpu(),
        vocoder_sample_rate=int(vocoder.config.output_sampling_rate),
    )


def run_audio(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> None:
    decoder = build_audio_decoder(ctx)
    tokens = ctx.plan.step.audio_tokens
    # The release (and the harness by default) decodes audio under bf16 autocast on CUDA.
    autocast = torch.bfloat16 if ctx.plan.step.release_decode and ctx.device.type == "cuda" else None
    latent = torch.randn(1, tokens, 128, generator=torch.Generator().manual_seed(4)).to(ctx.device)
    timing, wav = measure(
        lambda: decoder.decode(latent, autocast_dtype=autocast),
        ctx.device,
        deadline,
        max_repeats=ctx.plan.max_repeats,
    )
    if wav.dim() != 3 or wav.shape[1] != 2 or not bool(torch.isfinite(wav).all()):
        raise RuntimeError(f"audio decode gave {tuple(wav.shape)} or non-finite values; expected [1, 2, N]")
    ctx.figures["audio_decode_s"] = timing.seconds
    section.checks["audio_tokens"] = tokens
    section.checks["waveform"] = (
        f"{list(wav.shape)} at {decoder.sample_rate} Hz ({wav.shape[-1] / decoder.sample_rate:.2f} s)"
    )
    name = "tiny audio VAE + vocoder" if ctx.plan.audio_vae == "tiny" else "LTX-2.3 audio VAE + vocoder (BWE)"
    precision = "bf16 autocast (the release)" if autocast is not None else "fp32"
    section.add(
        Measurement(
            label=f"{name}, {tokens} tokens, {precision}",
            seconds=timing.seconds,
            seconds_all=timing.seconds_all,
            first_s=timing.first_s,
            peak_memory_bytes=timing.peak_memory_bytes,
            per="decode",
            note="includes the resampling to 16 kHz",
        )
    )
