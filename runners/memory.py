"""Estimated peak GPU memory of a generation preset, and the switches that bring it under a budget.

An estimate from parameter counts and tensor sizes at the preset's shape, not a measurement (no
profiler runs here); docs/parallel.md explains each term. All sizes are bytes per GPU:

  weights     DiT (bf16, or fp8 block Linears + bf16 rest), umt5-xxl in bf16 unless offloaded,
              Wan2.2 VAE and LTX-2.3 audio VAE in fp32 (the pipeline keeps them fp32), ReDimNet
  DiT pass    per local token: hidden state, time embedding and 6-way modulation (8·D bf16), plus the
              larger of the attention block (q, k, v, out in bf16, RoPE's float64 q/k, and with SP
              the all-to-all buffers) and the FFN (two ffn_dim rows in bf16); with SP every rank
              also briefly holds the full-sequence modulation (6·D bf16 per token); × passes per forward
  decode      Wan2.2 decoder, one latent frame (4 pixel frames) at a time: ~6 live fp32 maps of 256
              channels at half the pixel resolution, of the whole frame or of one tile
  overhead    CUDA context and allocator slack

peak = weights + max(DiT activations, decode) + overhead.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

GIB = 1024**3
BF16 = 2
FP32 = 4
#: CUDA context + allocator fragmentation, a round middle of the 1-3 GiB usually seen.
OVERHEAD_BYTES = int(1.5 * GIB)
#: LTX-2.3 audio VAE + vocoder: the release file (params/LTX2/..._audio_vae.safetensors, 348 MB, fp32).
AUDIO_VAE_BYTES = 348 * 10**6
#: ReDimNet-M: a few million parameters.
REDIMNET_BYTES = 100 * 2**20
DECODE_LIVE_MAPS = 6
DECODE_CHANNELS = 256  # WAN22_VAE_CONFIG decoder_base_dim: the widest full-resolution stage
DECODE_FRAMES = 4  # pixel frames decoded per latent frame


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as doctor sees it."""

    name: str
    total_bytes: int


@dataclass(frozen=True)
class MemorySwitches:
    """The memory-relevant settings of a run (CLI: --t5-offload, --cfg-batch, --vae-tiling, --sp, fp8 preset)."""

    t5_offload: bool = False
    cfg_batch: int = 4
    vae_tiling: bool = True
    sp: int = 1
    fp8: bool = False
    group_offload: int | None = None  # --group-offload N: DiT blocks resident N at a time (+ N prefetched)


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated bytes per GPU, by term."""

    dit_weights: int
    t5_weights: int
    vae_weights: int
    dit_activations: int
    decode: int
    overhead: int
    video_tokens: int
    audio_tokens: int
    passes: int

    @property
    def peak(self) -> int:
        weights = self.dit_weights + self.t5_weights + self.vae_weights
        return weights + max(self.dit_activations, self.decode) + self.overhead


@functools.cache
def dit_parameter_counts(model: str) -> tuple[int, int]:
    """(all parameters, parameters of the 2-D Linear weights inside blocks: the fp8 ones), from a meta model."""
    import torch

    from nava_eval.nava.config import NavaConfig
    from nava_eval.nava.modeling import NavaModel

    with torch.device("meta"):
        net = NavaModel(NavaConfig.for_model(model))
    total = sum(p.numel() for p in net.parameters())
    block_linear = sum(
        m.weight.numel()
        for name, m in net.named_modules()
        if "blocks" in name and isinstance(m, torch.nn.Linear)
    )
    return total, block_linear


@functools.cache
def t5_parameter_count() -> int:
    """umt5-xxl encoder parameters (meta model of the release config)."""
    from nava_eval.nava.text import UMT5_XXL_CONFIG, build_umt5_encoder

    return sum(p.numel() for p in build_umt5_encoder(UMT5_XXL_CONFIG, "meta").parameters())


@functools.cache
def video_vae_parameter_count() -> int:
    import torch

    from nava_eval.nava.video_vae import WAN22_VAE_CONFIG, build_wan22_autoencoder

    with torch.device("meta"):
        vae = build_wan22_autoencoder(WAN22_VAE_CONFIG)
    return sum(p.numel() for p in vae.parameters())


def token_counts(
    width: int, height: int, latent_frames: int, fps: float = 24.0, video: bool = True
) -> tuple[int, int]:
    """(video tokens, audio tokens) of one sample: latent /16 then patch 2×2 (odd grids padded up);
    audio ceil(pixel frames / 24 · 25) tokens (the training fps, not the mp4 `fps`)."""
    from nava_eval.nava.shapes import ClipShape

    shape = ClipShape(width, height, latent_frames)
    return (shape.video_tokens if video else 0), shape.audio_tokens


@functools.cache
def dit_block_parameter_counts(model: str) -> tuple[int, int]:
    """(parameters of the largest block, parameters outside the blocks), from a meta model."""
    import torch

    from nava_eval.nava.config import NavaConfig
    from nava_eval.nava.modeling import NavaModel

    with torch.device("meta"):
        net = NavaModel(NavaConfig.for_model(model))
    blocks = [
        b
        for name in ("double_blocks", "single_blocks", "double_final_blocks")
        for b in getattr(net, name, [])
    ]
    sizes = [sum(p.numel() for p in b.parameters()) for b in blocks]
    return max(sizes), sum(p.numel() for p in net.parameters()) - sum(sizes)


def dit_activation_bytes(
    dim: int, ffn_dim: int, video_tokens: int, audio_tokens: int, sp: int, passes_per_forward: int
) -> int:
    """Activation bytes of one DiT forward on one rank (see the module docstring)."""
    local = math.ceil(video_tokens / sp) + math.ceil(audio_tokens / sp)
    full = video_tokens + audio_tokens
    persistent = 8 * dim * BF16
    attention = 4 * dim * BF16 + 2 * dim * 8 + (6 * dim * BF16 if sp > 1 else 0)
    ffn = 2 * ffn_dim * BF16
    per_pass = local * (persistent + max(attention, ffn))
    if sp > 1:
        per_pass += (full - local) * 6 * dim * BF16  # the full-sequence modulation every rank builds
    return per_pass * passes_per_forward


def decode_bytes(width: int, height: int, tiled: bool, tile_latent: tuple[int, int] = (22, 40)) -> int:
    """Wan2.2 decode peak: live fp32 feature maps of one latent frame, whole frame or one tile."""
    if tiled:
        height, width = min(height, 16 * tile_latent[0]), min(width, 16 * tile_latent[1])
    return DECODE_FRAMES * (height // 2) * (width // 2) * DECODE_CHANNELS * FP32 * DECODE_LIVE_MAPS


def estimate(
    preset_name: str, switches: MemorySwitches | None = None, shape: tuple[int, int, int] | None = None
) -> MemoryEstimate:
    """Estimated memory of one sample of `preset_name` on one GPU under `switches` (default: the preset's
    own), at `shape` = (width, height, latent frames) (default: the preset's)."""
    from nava_eval.nava.config import NavaConfig
    from nava_eval.nava.sampling.guidance import GuidanceScales, required_passes
    from nava_eval.runners.presets import get_preset

    preset = get_preset(preset_name)
    g = preset.generation
    sw = switches or default_switches(preset_name)
    config = NavaConfig.for_model(g.model)
    video = any(mode in ("t2av", "i2av") for mode in preset.modes)
    width, height, frames = shape or (g.width, g.height, g.latent_frames)
    v_tokens, a_tokens = token_counts(width, height, frames, g.fps, video)
    scales = GuidanceScales(
        video=g.guidance.video, audio=g.guidance.audio, video_align=g.guidance.video_align,
        audio_align=g.guidance.audio_align, timbre=g.guidance.timbre, align_3d=g.guidance.align_3d,
        timbre_cfg=g.guidance.timbre_cfg,
    )  # fmt: skip
    passes = len(required_passes(scales, has_video=video, has_speaker=True))  # worst case: a speaker sample
    total, block_linear = dit_parameter_counts(g.model)
    dit = block_linear + (total - block_linear) * BF16 if sw.fp8 else total * BF16
    if sw.group_offload:
        # Group offload (the release's --group_offload): the blocks live in pinned CPU memory; the GPU
        # holds everything outside them plus the running group and the prefetched next one.
        largest, outside = dit_block_parameter_counts(g.model)
        per_param = 1 if sw.fp8 else BF16
        dit = outside * BF16 + 2 * sw.group_offload * largest * per_param
    return MemoryEstimate(
        dit_weights=dit,
        t5_weights=0 if sw.t5_offload else t5_parameter_count() * BF16,
        vae_weights=video_vae_parameter_count() * FP32 + AUDIO_VAE_BYTES + REDIMNET_BYTES,
        dit_activations=dit_activation_bytes(
            config.dim, config.ffn_dim, v_tokens, a_tokens, sw.sp, min(sw.cfg_batch, passes)
        ),
        decode=decode_bytes(width, height, sw.vae_tiling) if video else 0,
        overhead=OVERHEAD_BYTES,
        video_tokens=v_tokens,
        audio_tokens=a_tokens,
        passes=passes,
    )


def default_switches(preset_name: str) -> MemorySwitches:
    from nava_eval.runners.presets import get_preset

    g = get_preset(preset_name).generation
    return MemorySwitches(
        cfg_batch=g.cfg_batch, vae_tiling=g.vae_tiling, fp8=g.weight_dtype.startswith("fp8")
    )


#: Switches tried in order, cheapest first: (what the user types, how it changes the switches).
#: The first three leave the protocol alone; fp8 weights change the checkpoint (NAVA's own fp8 file).
SWITCH_STEPS: tuple[tuple[str, dict[str, object]], ...] = (
    ("--t5-offload", {"t5_offload": True}),
    ("--cfg-batch 1", {"cfg_batch": 1}),
    ("--vae-tiling", {"vae_tiling": True}),
    ("--group-offload 1", {"group_offload": 1}),
    ("--preset versebench (NAVA's fp8 DiT weights)", {"fp8": True}),
)


@dataclass(frozen=True)
class FitAdvice:
    """What doctor prints for one preset on one GPU."""

    preset: str
    gpu: GpuInfo
    default_peak: int
    fits_by_default: bool
    switches: tuple[str, ...]  # what to add so it fits (empty: fits as is)
    peak_with_switches: int
    fits: bool


def advise(
    preset_name: str, gpu: GpuInfo, gpu_count: int = 1, shape: tuple[int, int, int] | None = None
) -> FitAdvice:
    """Estimated peak of `preset_name` on `gpu` (at `shape`, default the preset's), and the cheapest
    switches that make it fit (SP last)."""
    estimate = functools.partial(_estimate, shape=shape)
    base = default_switches(preset_name)
    peak = estimate(preset_name, base).peak
    if peak <= gpu.total_bytes:
        return FitAdvice(preset_name, gpu, peak, True, (), peak, True)
    chosen: list[str] = []
    switches = base
    from nava_eval.runners.presets import get_preset

    has_fp8_preset = any(m in ("t2av", "i2av") for m in get_preset(preset_name).modes)
    for label, change in SWITCH_STEPS:
        if all(getattr(switches, k) == v for k, v in change.items()):
            continue
        if "fp8" in change and not has_fp8_preset:  # only VerseBench has an fp8 preset
            continue
        switches = dataclasses.replace(switches, **change)  # type: ignore[arg-type]
        chosen.append(label)
        peak = estimate(preset_name, switches).peak
        if peak <= gpu.total_bytes:
            return FitAdvice(
                preset_name, gpu, estimate(preset_name, base).peak, False, tuple(chosen), peak, True
            )
    for sp in (2, 4, 8):
        if sp > gpu_count:
            break
        peak = estimate(preset_name, dataclasses.replace(switches, sp=sp)).peak
        if peak <= gpu.total_bytes:
            return FitAdvice(
                preset_name, gpu, estimate(preset_name, base).peak, False, (*chosen, f"--sp {sp}"), peak, True
            )
    return FitAdvice(preset_name, gpu, estimate(preset_name, base).peak, False, tuple(chosen), peak, False)


def gpu_list() -> list[GpuInfo]:
    """The CUDA devices torch sees (empty without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [
        GpuInfo(torch.cuda.get_device_name(i), torch.cuda.get_device_properties(i).total_memory)
        for i in range(torch.cuda.device_count())
    ]


def memory_table(
    presets: Sequence[str], gpus: Sequence[GpuInfo], shape: tuple[int, int, int] | None = None
) -> list[FitAdvice]:
    """One FitAdvice per (preset, distinct GPU model), at `shape` (default: each preset's)."""
    distinct = list({(g.name, g.total_bytes): g for g in gpus}.values())
    return [advise(p, g, gpu_count=len(gpus), shape=shape) for p in presets for g in distinct]


_estimate = estimate
