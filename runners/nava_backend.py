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
from nava_eval.errors import InvalidValue
from nava_eval.rundir.run_file import GenerationSettings

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
    from nava_eval.nava.pipeline import RELEASED_TTS_REFERENCE_TOKENS, Request

    g = settings.guidance
    released_tts = sample.mode == "tts" and settings.tts_speaker == "released-fallback"
    duration = sample.meta.get("duration") if sample.mode == "t2a" else None
    return Request(
        id=sample.id,
        prompt=sample.prompt,
        mode=sample.mode,
        image=sample.image if sample.mode == "i2av" else None,
        speaker_wavs=tuple(sample.speaker_wavs),
        seed=seed,
        # A prompt line's own shape (jsonl: width/height/frames) wins over the run's.
        width=sample.meta.get("width", settings.width),
        height=sample.meta.get("height", settings.height),
        frames=sample.meta.get("frames", settings.latent_frames),
        fps=float(settings.fps),
        steps=settings.steps,
        duration=(duration or settings.t2a_seconds) if sample.mode == "t2a" else None,
        reference_text=sample.prompt_text if sample.mode == "tts" else None,
        video_guidance=g.video,
        audio_guidance=g.audio,
        video_align_guidance=g.video_align,
        audio_align_guidance=g.audio_align,
        timbre_guidance=g.timbre,
        align_3d=g.align_3d,
        timbre_cfg=g.timbre_cfg,
        embed_speakers=not released_tts,
        reference_tokens=RELEASED_TTS_REFERENCE_TOKENS if released_tts else None,
    )


@dataclass
class GeneratedClip:
    """An AVSample with stage timings named as the run records them (text, image, denoise, decode)."""

    sample: Any
    timings: dict[str, float]
    writer: Any  # nava.media.IsolatedMediaWriter: byte-reproducible encodes
    audio_timing: str = "official"

    @property
    def record_meta(self) -> dict[str, Any]:
        """What samples.jsonl records about how this clip was made (effective on this device)."""
        meta = self.sample.meta
        return {
            "decode_precision": meta.get("decode_precision"),
            "audio_timing": self.audio_timing if self.sample.video is not None else None,
            "speaker_embedded": meta.get("speaker_embedded"),
            "guidance_passes": meta.get("passes"),
        }

    def write(self, path: Any) -> None:
        clip = self.sample
        self.writer.write(
            path,
            clip.video,
            clip.audio,
            fps=clip.fps,
            sample_rate=clip.sample_rate,
            audio_timing=self.audio_timing,
            audio_arithmetic=clip.meta.get("audio_arithmetic", "fp32"),
        )


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

    def noise_stream(self, seed: int) -> Any:
        """A noise generator seeded once, as the official `set_seed(seed + rank)` (official-rank policy)."""
        return self.pipeline.noise_generator(seed)

    def draw_noise(self, sample: Sample, stream: Any) -> Any:
        """This sample's initial noise, drawn from `stream` in the official order (video, then audio)."""
        return self.pipeline.draw_noise(build_request(sample, self.settings, 0), stream)

    def generate(
        self, sample: Sample, seed: int, on_step: Callable[[int, int], None], noise: Any = None
    ) -> GeneratedClip:
        request = build_request(sample, self.settings, seed)
        clip = self.pipeline(request, progress=on_step, noise=noise)
        if clip.extension != self.output_kind:
            raise ValueError(
                f"request {sample.id!r}: mode {sample.mode} produced a .{clip.extension} but the benchmark "
                f"expects .{self.output_kind} outputs"
            )
        timings = {k.removesuffix("_s"): float(v) for k, v in clip.timings.items() if k != "total_s"}
        return GeneratedClip(clip, timings, self.writer, self.settings.audio_timing)


def load_nava_generator(prepared: Any, ctx: Any) -> NavaGenerator:
    """Build the components of the run's model preset on this rank's device, with SP when asked."""
    from nava_eval.nava.components import build_components
    from nava_eval.nava.pipeline import NavaPipeline, PipelineOptions
    from nava_eval.nava.video_vae import TilingConfig
    from nava_eval.runners.distributed import apply_sequence_parallel

    settings: GenerationSettings = prepared.spec.generation
    check_weights(settings, prepared.request.weights_dir)  # before any weights load
    components = build_components(
        settings.model,
        prepared.request.weights_dir,
        device=ctx.device,
        weight_dtype=WEIGHT_DTYPES[settings.weight_dtype],
        dit_file=settings.dit_file,
        t5_offload=prepared.request.t5_offload,
    )
    if apply_sequence_parallel(components.model, ctx):
        logger.info("Ulysses sequence parallel over %d ranks", ctx.sp_size)
    group_size = getattr(prepared.request, "group_offload", None)
    if group_size:
        from nava_eval.nava.offload import apply_group_offload

        offload = apply_group_offload(components.model, group_size, ctx.device)
        logger.info("DiT group offload: %d groups of %d block(s)", len(offload.groups), group_size)
    options = PipelineOptions(
        vae_tiling=TilingConfig() if settings.vae_tiling else None,
        cfg_batch=settings.cfg_batch,
        image_size=settings.image_bucket,
        decode_precision=settings.decode_precision,
        sampler=getattr(settings, "sampler", "unipc"),
    )
    return NavaGenerator(NavaPipeline(components, options), settings, prepared.benchmark.output_kind)


def check_weights(settings: GenerationSettings, weights_dir: Any) -> None:
    """The preset's weight files exist and hold what the preset expects; reads file headers only.

    An fp8 checkpoint under a bf16/fp32 preset (or the reverse) is an error naming the file and the
    preset that fits it, before anything is loaded.
    """
    if settings.weight_dtype not in WEIGHT_DTYPES:
        raise InvalidValue(
            f"unknown weight dtype {settings.weight_dtype!r}; valid: {', '.join(WEIGHT_DTYPES)}"
        )
    if settings.model != "nava-6b":
        return
    from nava_eval.nava.checkpoint import read_header
    from nava_eval.nava.components import release_files, resolve_weights_dir

    files = release_files(
        resolve_weights_dir(weights_dir), WEIGHT_DTYPES[settings.weight_dtype], settings.dit_file
    )
    header = read_header(files["dit"])
    wanted_fp8 = WEIGHT_DTYPES[settings.weight_dtype] == "fp8_e4m3fn"
    if header.is_fp8 and not wanted_fp8 and settings.weight_dtype != "auto":
        raise InvalidValue(
            f"{files['dit']} holds fp8 weights but the preset loads {settings.weight_dtype}; use the fp8 "
            "preset (--preset versebench) or point --weights-dir at a folder with the full-precision "
            "NAVA.safetensors"
        )
    if wanted_fp8 and not header.is_fp8:
        raise InvalidValue(
            f"{files['dit']} holds no fp8 weights but the preset expects NAVA_fp8.safetensors; use "
            "--preset versebench-bf16, or fetch the fp8 file with `nava-eval weights download nava`"
        )
