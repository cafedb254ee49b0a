"""The NAVA generator behind the generate stage: benchmark Sample → nava Request → AVSample.

This is the only place that knows both vocabularies (benchmarks and nava), so neither package
imports the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nava_eval.benchmarks.base import Sample
from nava_eval.runners.spec import GenerationSettings

logger = logging.getLogger(__name__)

#: Our weight-dtype names → nava.checkpoint's.
WEIGHT_DTYPES = {
    "auto": "auto",
    "fp32": "fp32",
    "bf16": "bf16",
    "fp8": "fp8_e4m3fn",
    "fp8_e4m3fn": "fp8_e4m3fn",
}


def build_request(sample: Sample, settings: GenerationSettings, seed: int):
    """The nava Request for one benchmark sample under the run's settings."""
    from nava_eval.nava.pipeline import Request

    g = settings.guidance
    return Request(
        id=sample.id,
        prompt=sample.prompt,
        mode=sample.mode,
        image=sample.image if sample.mode == "i2av" else None,
        speaker_wavs=tuple(sample.speaker_wavs),
        seed=seed,
        width=settings.width,
        height=settings.height,
        frames=settings.latent_frames,
        fps=float(settings.fps),
        steps=settings.steps,
        duration=sample.meta.get("duration") if sample.mode == "t2a" else None,
        reference_text=sample.prompt_text if sample.mode == "tts" else None,
        video_guidance=g.video,
        audio_guidance=g.audio,
        video_align_guidance=g.video_align,
        audio_align_guidance=g.audio_align,
        timbre_guidance=g.timbre,
        align_3d=g.align_3d,
        timbre_cfg=g.timbre_cfg,
    )


@dataclass
class GeneratedClip:
    """An AVSample with stage timings named as the run records them (text, image, denoise, decode)."""

    sample: Any
    timings: dict[str, float]
    writer: Any  # nava.media.IsolatedMediaWriter: byte-reproducible encodes

    def write(self, path: Any) -> None:
        clip = self.sample
        self.writer.write(path, clip.video, clip.audio, fps=clip.fps, sample_rate=clip.sample_rate)


class NavaGenerator:
    """A loaded NavaPipeline that generates benchmark samples."""

    def __init__(self, pipeline: Any, settings: GenerationSettings, output_kind: str):
        from nava_eval.nava.media import IsolatedMediaWriter

        self.pipeline = pipeline
        self.settings = settings
        self.output_kind = output_kind
        self.writer = IsolatedMediaWriter()

    def close(self) -> None:
        self.writer.close()

    def generate(self, sample: Sample, seed: int, on_step: Callable[[int, int], None]) -> GeneratedClip:
        request = build_request(sample, self.settings, seed)
        clip = self.pipeline(request, progress=on_step)
        if clip.extension != self.output_kind:
            raise ValueError(
                f"request {sample.id!r}: mode {sample.mode} produced a .{clip.extension} but the benchmark "
                f"expects .{self.output_kind} outputs"
            )
        timings = {k.removesuffix("_s"): float(v) for k, v in clip.timings.items() if k != "total_s"}
        return GeneratedClip(clip, timings, self.writer)


def load_nava_generator(prepared: Any, ctx: Any) -> NavaGenerator:
    """Build the components of the run's model preset on this rank's device, with SP when asked."""
    from nava_eval.nava.components import build_components
    from nava_eval.nava.pipeline import NavaPipeline, PipelineOptions
    from nava_eval.nava.video_vae import TilingConfig
    from nava_eval.runners.distributed import apply_sequence_parallel

    settings: GenerationSettings = prepared.spec.generation
    if settings.weight_dtype not in WEIGHT_DTYPES:
        raise ValueError(f"unknown weight dtype {settings.weight_dtype!r}; valid: {', '.join(WEIGHT_DTYPES)}")
    components = build_components(
        settings.model,
        prepared.request.weights_dir,
        device=ctx.device,
        weight_dtype=WEIGHT_DTYPES[settings.weight_dtype],
        t5_offload=prepared.request.t5_offload,
    )
    if apply_sequence_parallel(components.model, ctx):
        logger.info("Ulysses sequence parallel over %d ranks", ctx.sp_size)
    options = PipelineOptions(
        vae_tiling=TilingConfig() if settings.vae_tiling else None,
        cfg_batch=settings.cfg_batch,
        image_size=settings.image_bucket,
    )
    return NavaGenerator(NavaPipeline(components, options), settings, prepared.benchmark.output_kind)
