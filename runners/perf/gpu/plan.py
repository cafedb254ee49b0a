"""What `nava-eval bench gpu` measures: the VerseBench shapes on a GPU, or tiny ones on CPU.

Every shape is derived from the generation preset (runners.spec) and the model preset
(nava.config), never written here: the VerseBench plan is 1280×704, 37 latent frames, 50 steps and
3D CFG because the `versebench` preset says so. The small plan runs the same code on the `smoke`
preset's shapes and tiny components, so the CPU tests reach every path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from nava_eval.nava.config import NavaConfig
from nava_eval.nava.video_vae import TilingConfig

SDPA_BACKENDS = ("flash", "efficient", "cudnn", "math")
FLASH_ATTN = "flash-attn"  # the flash-attn package through the model's "flash" backend
NEGATIVE_TEXT_TOKENS = 120  # any count up to text_len costs the same: the model pads to text_len


@dataclass(frozen=True)
class StepPlan:
    """One denoising step of a benchmark item."""

    latent_grid: tuple[int, int, int]  # video latent (T, H/16, W/16) before patchify
    audio_tokens: int
    passes: tuple[str, ...]  # guidance passes (C, U, M, S)
    first_frame_clean: bool  # I2AV: the first latent frame is the clean image latent
    steps: int
    text_tokens: int  # unpadded positive prompt rows
    harness_weights: str  # the preset's DiT weights: "fp8" (weight-only, dequantised) or "bf16"
    release_decode: bool  # the preset decodes at the release's precision (decode_precision "release")


@dataclass(frozen=True)
class ClipPlan:
    """Synthetic talking-face clips for the scoring section."""

    count: int
    frames: int
    width: int
    height: int
    fps: int = 25


@dataclass(frozen=True)
class BenchPlan:
    name: str  # "versebench" | "small"
    device: str
    model_preset: str
    config: NavaConfig
    step: StepPlan
    weights: str  # "bf16" (autocast, as the harness on CUDA) | "fp32" (CPU)
    matmul_size: int  # square GEMM of the ceiling measurement
    attention_backends: tuple[str, ...]
    compile_backend: str
    video_vae: str  # "wan2.2" (the release architecture) | "tiny"
    vae_tiling: TilingConfig | None
    vae_modes: tuple[
        str, ...
    ]  # "release" (bf16-rounded weights, fp32 math: the release and the harness), "bf16"
    audio_vae: str  # "ltx-2.3" | "tiny"
    clips: ClipPlan
    siglip: str  # "so400m" (the aesthetic predictor's encoder) | "tiny"
    sync_package: bool  # also time syncnet-python's own per-clip pipeline
    items: int  # benchmark items and GPUs of the projection
    gpus: int
    max_repeats: int = 3
    budget_s: float = 450.0
    notes: tuple[str, ...] = field(default=())

    def replace(self, **changes: object) -> BenchPlan:
        return dataclasses.replace(self, **changes)


def _step_from_preset(preset_name: str, config: NavaConfig, first_frame_clean: bool) -> StepPlan:
    from nava_eval.nava.audio_vae import audio_tokens_for_frames
    from nava_eval.nava.sampling import GuidanceScales, required_passes
    from nava_eval.runners.presets import get_preset

    gen = get_preset(preset_name).generation
    spatial = 16  # Wan2.2 VAE: 16× in space (nava.pipeline.SPATIAL_FACTOR)
    grid = (gen.latent_frames, gen.height // spatial, gen.width // spatial)
    pixel_frames = 4 * (gen.latent_frames - 1) + 1
    # The training video fps (24) sets the AV audio length, as PipelineOptions' default; nava.pipeline
    # itself is not imported here because it needs PyAV, which the GPU machine lacks.
    audio = audio_tokens_for_frames(pixel_frames)
    scales = GuidanceScales(**dataclasses.asdict(gen.guidance))
    return StepPlan(
        latent_grid=grid,
        audio_tokens=audio,
        passes=required_passes(scales, has_video=True, has_speaker=False),
        first_frame_clean=first_frame_clean,
        steps=gen.steps,
        text_tokens=min(160, config.text_len),
        harness_weights="fp8" if gen.weight_dtype in ("fp8", "fp8_e4m3fn") else "bf16",
        release_decode=gen.decode_precision == "release",
    )


def versebench_plan(device: str = "cuda") -> BenchPlan:
    """The release model at NAVA's VerseBench setting (I2AV items: 600 of them, 8 GPUs in the goal).

    The `versebench` preset runs the fp8 checkpoint (weight-only, dequantised to bf16): its step is the
    fp8 section's "dequant" row; the `step` section times the bf16 model (`versebench-bf16`).
    """
    from nava_eval.benchmarks.versebench import EXPECTED_COUNTS

    config = NavaConfig.for_model("nava-6b")
    return BenchPlan(
        name="versebench",
        device=device,
        model_preset="nava-6b",
        config=config,
        step=_step_from_preset("versebench", config, first_frame_clean=True),
        weights="bf16",
        matmul_size=8192,
        attention_backends=(*SDPA_BACKENDS, FLASH_ATTN),
        compile_backend="inductor",
        video_vae="wan2.2",
        vae_tiling=TilingConfig(),
        vae_modes=("release", "bf16"),
        audio_vae="ltx-2.3",
        clips=ClipPlan(count=4, frames=125, width=1280, height=720),
        siglip="so400m",
        sync_package=True,
        items=sum(EXPECTED_COUNTS.values()),
        gpus=8,
    )


def small_plan(device: str = "cpu") -> BenchPlan:
    """Tiny shapes and components on the smoke preset: every section's code, in seconds on CPU."""
    config = NavaConfig.for_model("nava-tiny")
    return BenchPlan(
        name="small",
        device=device,
        model_preset="nava-tiny",
        config=config,
        step=_step_from_preset("smoke", config, first_frame_clean=True),
        weights="bf16" if device.startswith("cuda") else "fp32",
        matmul_size=256,
        attention_backends=(*SDPA_BACKENDS, FLASH_ATTN),
        compile_backend="inductor",
        video_vae="tiny",
        vae_tiling=TilingConfig(tile=(3, 3), stride=(2, 2)),  # 2×2 overlapping tiles
        vae_modes=("release", "bf16"),
        audio_vae="tiny",
        clips=ClipPlan(count=2, frames=30, width=160, height=128),
        siglip="tiny",
        sync_package=False,
        items=6,
        gpus=2,
        max_repeats=2,
        budget_s=300.0,
        notes=("small plan: tiny random components; the figures measure the code paths, not NAVA",),
    )
