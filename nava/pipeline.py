"""NavaPipeline: one Request → one AVSample, for every NAVA generation mode.

Modes: "t2av" (text → audio+video), "i2av" (first frame from an image), "t2a" (text → audio, length
from `duration`) and "tts" (Seed-TTS: speak `prompt` in the voice of the single speaker wav, length
from the prompt/transcript character ratio). Timbre control: every `<S>…<E>` span of the prompt is
bound, in order, to one speaker wav; a count mismatch is an error.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import torch

from nava_eval.nava.audio_vae import (
    LATENT_CHANNELS,
    LATENT_MEL_BINS,
    audio_tokens_for_duration,
    audio_tokens_for_frames,
)
from nava_eval.nava.components import Components
from nava_eval.nava.media import frames_to_uint8, read_audio, write_mp4, write_wav
from nava_eval.nava.sampling import (
    GuidanceScales,
    denoise,
    flow_unipc_schedule,
    required_passes,
    video_to_channel_first,
)
from nava_eval.nava.shapes import check_t2a_seconds, shape_problems
from nava_eval.nava.speaker import embed_speaker_files
from nava_eval.nava.text import SPEAKER_CLOSE, SPEAKER_OPEN, count_speaker_spans
from nava_eval.nava.video_vae import TilingConfig

logger = logging.getLogger(__name__)

MODES = ("t2av", "i2av", "t2a", "tts")
AUDIO_ONLY_MODES = ("t2a", "tts")
AUDIO_LATENT_DIM = LATENT_CHANNELS * LATENT_MEL_BINS
VIDEO_LATENT_DIM = 48
SPATIAL_FACTOR = 16
DEFAULT_T2A_SECONDS = 6.0  # scripts/inference_t2a.sh (the CLI's own default, 5.0, is never used)
#: Seed-TTS reference length the released `t2a_seedtts.py` falls back to (its speaker path fails).
RELEASED_TTS_REFERENCE_TOKENS = 313

# Exact negative prompts of the release (reference §6.5; the MMDiT variant for video).
NEGATIVE_PROMPT_AUDIO = "机械音、闷糊、回音、失真、电流声、爆音、杂音"
NEGATIVE_PROMPT_VIDEO = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
    "杂乱的背景，三条腿，背景人很多，倒着走, 音频带有机械音、闷糊、回音、失真、电流声、爆音、杂音"
)

# Guidance defaults of the shipped configs: nava.yaml (AV) and nava_seedtts.yaml (audio-only).
AV_GUIDANCE = GuidanceScales(video=3.0, audio=2.0, video_align=3.0, audio_align=2.0, timbre=3.0)
AUDIO_GUIDANCE = GuidanceScales(audio=2.0, audio_align=2.0, timbre=3.0, align_3d=False)

# I2V aspect buckets at resolution 960: (ratio short/long, short side, long side) (reference §5.3).
IMAGE_BUCKETS_960 = ((1.0, 960, 960), (4 / 5, 864, 1056), (3 / 4, 832, 1088), (2 / 3, 736, 1184),
                     (9 / 16, 704, 1280), (1 / 2, 672, 1344), (2 / 5, 608, 1536))  # fmt: skip


def image_bucket(width: int, height: int, resolution: int = 960) -> tuple[int, int]:
    """(width, height) of the I2V bucket for an image.

    The bucket is the first ratio whose midpoint with the next ratio is <= min(h/w, w/h), as the
    official adapter does; portrait images swap the sides. Resolutions other than 960 (tiny models)
    scale the 960 sides and round them to multiples of 32.
    """
    ratio = min(height / width, width / height)
    chosen = IMAGE_BUCKETS_960[-1]
    for bucket, following in zip(IMAGE_BUCKETS_960, IMAGE_BUCKETS_960[1:], strict=False):
        if ratio >= (bucket[0] + following[0]) / 2:
            chosen = bucket
            break
    _, short, long = chosen
    if resolution != 960:
        short, long = (max(32, round(s * resolution / 960 / 32) * 32) for s in (short, long))
    return (short, long) if height > width else (long, short)


@dataclass(frozen=True)
class Request:
    """One generation; cheap checks run on construction, file checks in `validate_files`.

    frames: latent frames (pixel frames = 4(frames − 1) + 1); fps: mp4 frame rate only. Guidance fields
    left None take the mode's shipped defaults. reference_text: Seed-TTS transcript of the speaker wav.
    embed_speakers: False runs as the released Seed-TTS code does (no speaker embedding: the raw
    `<extra_id_2>` vector stays in the prompt and timbre CFG has nothing to drop); reference_tokens
    fixes the Seed-TTS reference length (the released code's fallback, 313) instead of measuring the wav.
    """

    id: str
    prompt: str
    mode: str = "t2av"
    image: Path | None = None
    speaker_wavs: tuple[Path, ...] = ()
    seed: int = 100
    width: int = 1280
    height: int = 704
    frames: int = 37
    fps: float = 24.0
    steps: int = 50
    duration: float | None = None
    reference_text: str | None = None
    video_guidance: float | None = None
    audio_guidance: float | None = None
    video_align_guidance: float | None = None
    audio_align_guidance: float | None = None
    timbre_guidance: float | None = None
    align_3d: bool | None = None
    timbre_cfg: bool | None = None
    embed_speakers: bool = True
    reference_tokens: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", None if self.image is None else Path(self.image))
        object.__setattr__(self, "speaker_wavs", tuple(Path(p) for p in self.speaker_wavs))
        if self.mode not in MODES:
            self._fail("mode", f"{self.mode!r} is not one of {', '.join(MODES)}")
        if self.mode == "i2av" and self.image is None:
            self._fail("image", "mode i2av needs an image path")
        if self.mode != "i2av" and self.image is not None:
            self._fail("image", f"an image is only used in mode i2av, not {self.mode}")
        if not self.audio_only:
            problems = shape_problems(self.width, self.height, self.frames)
            if problems:
                field_name, text = problems[0]
                self._fail(field_name, "; ".join([text, *(f"{n}: {t}" for n, t in problems[1:])]))
        if self.steps < 1:
            self._fail("steps", f"must be >= 1, got {self.steps}")
        if not self.fps > 0:
            self._fail("fps", f"must be > 0, got {self.fps}")
        if self.duration is not None:
            try:
                check_t2a_seconds(self.duration)
            except ValueError as err:
                self._fail("duration", str(err))
        if self.reference_tokens is not None and self.reference_tokens < 1:
            self._fail("reference_tokens", f"must be >= 1, got {self.reference_tokens}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_guidance") and value is not None and not value >= 0:
                self._fail(f.name, f"guidance scale must be >= 0, got {value}")
        spans, opens_closed = count_speaker_spans(self.prompt), self.prompt.count(SPEAKER_CLOSE)
        if self.mode == "tts":
            if len(self.speaker_wavs) != 1:
                self._fail(
                    "speaker_wavs", f"mode tts needs exactly one speaker wav, got {len(self.speaker_wavs)}"
                )
            if not self.reference_text:
                self._fail("reference_text", "mode tts needs the transcript of the speaker wav")
            if spans:
                self._fail("prompt", "mode tts takes the plain text to speak, without <S>…<E> markers")
        else:
            if spans != opens_closed:
                self._fail("prompt", f"{spans} '<S>' but {opens_closed} '<E>' markers")
            # Speech spans without any wav are ordinary NAVA prompts (no timbre control); once wavs
            # are given, each span needs exactly one, in order.
            if self.speaker_wavs and spans != len(self.speaker_wavs):
                self._fail(
                    "speaker_wavs",
                    f"prompt has {spans} <S>…<E> speech span(s) but {len(self.speaker_wavs)} speaker wav(s) "
                    "were given; timbre control binds one wav to each span, in order",
                )

    def _fail(self, name: str, problem: str) -> None:
        raise ValueError(f"request {self.id!r}: {name}: {problem}")

    def validate_files(self) -> None:
        """Image and speaker wavs exist and decode; ValueError naming the field and the request id."""
        if self.image is not None:
            if not self.image.is_file():
                self._fail("image", f"{self.image} does not exist")
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(self.image) as img:
                    img.verify()
            except (UnidentifiedImageError, OSError) as err:
                self._fail("image", f"{self.image} is not a readable image ({err})")
        for i, wav in enumerate(self.speaker_wavs):
            if not wav.is_file():
                self._fail(f"speaker_wavs[{i}]", f"{wav} does not exist")
            try:
                audio, _ = read_audio(wav)
            except ValueError as err:
                self._fail(f"speaker_wavs[{i}]", str(err))
            if audio.shape[-1] == 0:
                self._fail(f"speaker_wavs[{i}]", f"{wav} holds no samples")

    @property
    def audio_only(self) -> bool:
        return self.mode in AUDIO_ONLY_MODES

    def guidance_scales(self) -> GuidanceScales:
        base = AUDIO_GUIDANCE if self.audio_only else AV_GUIDANCE
        overrides = {
            "video": self.video_guidance,
            "audio": self.audio_guidance,
            "video_align": self.video_align_guidance,
            "audio_align": self.audio_align_guidance,
            "timbre": self.timbre_guidance,
            "align_3d": self.align_3d,
            "timbre_cfg": self.timbre_cfg,
        }
        values = {f.name: getattr(base, f.name) for f in fields(base)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return GuidanceScales(**values)

    def caption(self) -> str:
        """The text the encoder sees (Seed-TTS wraps the text in one speech span)."""
        return f"{SPEAKER_OPEN}{self.prompt}{SPEAKER_CLOSE}" if self.mode == "tts" else self.prompt


@dataclass(frozen=True)
class AVSample:
    """A generated clip. video: uint8 [F, H, W, 3] (None for audio-only modes); audio: float32 [2, N]
    at `sample_rate`, clamped to ±0.99 (peak normalisation happens when writing)."""

    request_id: str
    mode: str
    video: torch.Tensor | None
    audio: torch.Tensor
    sample_rate: int
    fps: float
    seed: int
    timings: dict[str, float]
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def extension(self) -> str:
        return "wav" if self.video is None else "mp4"

    def write(self, path: str | Path) -> Path:
        """mp4 (H.264 + AAC) for clips with video, wav otherwise, at exactly `path`."""
        if self.video is None:
            return write_wav(path, self.audio, self.sample_rate)
        return write_mp4(path, self.video.numpy(), self.fps, audio=self.audio, sample_rate=self.sample_rate)


DecodePrecision = Literal["release", "fp32"]
DECODE_PRECISIONS: tuple[str, ...] = ("release", "fp32")
SAMPLERS: tuple[str, ...] = ("unipc", "dmd2-student")


@dataclass(frozen=True)
class PipelineOptions:
    """vae_tiling: tiled video decode (official --vae_tiling); cfg_batch: guidance passes per DiT forward
    (1 = the official sequential order, 4 = one batched forward per step); image_size: I2V bucket
    resolution; video_fps_for_audio: the training video fps that sets the AV audio length;
    decode_precision: "release" decodes as the release does on CUDA (audio VAE decoder, vocoder and
    resampler under bf16 autocast; the video VAE's weights in bf16, computed in fp32), "fp32" keeps
    every decode in fp32. On CPU both run fp32 (the release has no CPU path)."""

    vae_tiling: TilingConfig | None = None
    cfg_batch: int = 4
    image_size: int = 960
    video_fps_for_audio: float = 24.0
    decode_precision: DecodePrecision = "release"
    sampler: str = "unipc"  # "unipc" (the release's guided sampler) | "dmd2-student" (nava.sampling.student)

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if self.decode_precision not in DECODE_PRECISIONS:
            raise ValueError(
                f"decode_precision must be one of {', '.join(DECODE_PRECISIONS)}, got {self.decode_precision!r}"
            )


@dataclass(frozen=True)
class InitialNoise:
    """The starting latents of one request: video [T·h·w, 48] (None for audio-only) and audio [La, 128]."""

    video: torch.Tensor | None
    audio: torch.Tensor


@dataclass(frozen=True)
class NoiseShapes:
    """Latent geometry of one request: video grid (T, h, w) or None, and the audio token count."""

    t_h_w: tuple[int, int, int] | None
    audio_tokens: int
    width: int | None = None  # output size in pixels (I2V: the image's bucket)
    height: int | None = None


class NavaPipeline:
    """`NavaPipeline(components)(request, progress=...) -> AVSample`."""

    def __init__(self, components: Components, options: PipelineOptions | None = None) -> None:
        self.components = components
        self.options = options or PipelineOptions()
        if self.options.cfg_batch < 1:
            raise ValueError(f"cfg_batch must be >= 1, got {self.options.cfg_batch}")
        if self.release_decode:
            # The release's video VAE holds bf16 weights computed in fp32 (see WanVideoVAE).
            components.video_vae.round_weights_to_bf16()

    @property
    def device(self) -> torch.device:
        return self.components.device

    @property
    def release_decode(self) -> bool:
        """Whether decoding follows the release's CUDA precision (see PipelineOptions)."""
        return self.options.decode_precision == "release" and self.device.type == "cuda"

    # ------------------------------------------------------------------------------------------------
    def noise_shapes(self, request: Request) -> NoiseShapes:
        """The latent geometry of `request` (reads an I2V image's header or a Seed-TTS wav, nothing more)."""
        t_h_w, width, height = None, None, None
        if not request.audio_only:
            width, height = request.width, request.height
            if request.mode == "i2av":
                from PIL import Image

                with Image.open(request.image) as img:
                    width, height = image_bucket(img.width, img.height, self.options.image_size)
            t_h_w = (request.frames, height // SPATIAL_FACTOR, width // SPATIAL_FACTOR)
        return NoiseShapes(t_h_w, self._audio_tokens(request), width, height)

    def draw_noise(self, request: Request, generator: torch.Generator) -> InitialNoise:
        """Video noise, then audio noise, token-major, from `generator` (the official order)."""
        shapes = self.noise_shapes(request)
        video = None
        if shapes.t_h_w is not None:
            video = torch.randn(
                (math.prod(shapes.t_h_w), VIDEO_LATENT_DIM), generator=generator, device=self.device
            )
        audio = torch.randn((shapes.audio_tokens, AUDIO_LATENT_DIM), generator=generator, device=self.device)
        return InitialNoise(video, audio)

    def noise_generator(self, seed: int) -> torch.Generator:
        """A generator on the pipeline's device seeded like the official `set_seed(seed)`."""
        return torch.Generator(device=self.device).manual_seed(int(seed))

    # ------------------------------------------------------------------------------------------------
    def __call__(
        self,
        request: Request,
        progress: Callable[[int, int], None] | None = None,
        noise: InitialNoise | None = None,
    ) -> AVSample:
        """Generate one clip; `noise` (from `draw_noise`) replaces a fresh draw seeded with request.seed."""
        request.validate_files()
        c = self.components
        scales = request.guidance_scales()
        timings: dict[str, float] = {}
        started = time.perf_counter()

        # 1) text (+ speaker): positive prompt alone, the two negatives together
        t0 = time.perf_counter()
        (positive,) = c.text_encoder.encode([request.caption()])
        neg_video, neg_audio = c.text_encoder.encode([NEGATIVE_PROMPT_VIDEO, NEGATIVE_PROMPT_AUDIO])
        spk_embed = spk_pos = None
        if request.speaker_wavs and request.embed_speakers:
            if positive.speaker_positions.numel() != len(request.speaker_wavs):
                raise ValueError(
                    f"request {request.id!r}: speaker_wavs: {len(request.speaker_wavs)} wav(s) but "
                    f"{positive.speaker_positions.numel()} speaker slot(s) survived tokenisation "
                    f"(prompt truncated at {c.text_encoder.max_length} tokens?)"
                )
            spk_embed = embed_speaker_files(c.speaker, request.speaker_wavs).to(self.device)
            spk_pos = positive.speaker_positions.to(self.device)
        timings["text_s"] = time.perf_counter() - t0

        # 2) latent geometry, first frame, noise (video first, then audio, token-major)
        t0 = time.perf_counter()
        shapes = self.noise_shapes(request)
        first_frame = None
        if request.mode == "i2av":
            first_frame = self._image_latent(request.image, (shapes.width, shapes.height))
        if noise is None:
            noise = self.draw_noise(request, self.noise_generator(request.seed))
        self._check_noise(request, noise, shapes)
        timings["image_s"] = time.perf_counter() - t0

        # 3) denoise
        t0 = time.perf_counter()
        schedule = flow_unipc_schedule(request.steps) if self.options.sampler == "unipc" else None
        negative = neg_audio if request.audio_only else neg_video  # U uses the video negative in AV modes
        from nava_eval.nava.checkpoint import inference_autocast

        def on_step(record: Any) -> None:
            if progress is not None:
                progress(record.index + 1, record.num_steps)

        student = self.options.sampler == "dmd2-student"
        with torch.no_grad(), inference_autocast(self.device):
            if student:
                from nava_eval.nava.sampling.student import student_denoise, student_schedule

                result = student_denoise(
                    c.model,
                    student_schedule(request.steps),
                    noise_video=noise.video,
                    noise_audio=noise.audio,
                    t_h_w=shapes.t_h_w,
                    context_pos=positive.features.float(),
                    spk_embed=spk_embed,
                    spk_pos=spk_pos,
                    first_frame=first_frame,
                    on_step=on_step,
                )
            else:
                result = denoise(
                    c.model,
                    schedule,
                    scales,
                    noise_video=noise.video,
                    noise_audio=noise.audio,
                    t_h_w=shapes.t_h_w,
                    context_pos=positive.features.float(),
                    context_neg=negative.features.float(),
                    spk_embed=spk_embed,
                    spk_pos=spk_pos,
                    first_frame=first_frame,
                    max_batch=self.options.cfg_batch,
                    on_step=on_step,
                )
        timings["denoise_s"] = time.perf_counter() - t0

        # 4) decode
        t0 = time.perf_counter()
        video = None
        if result.video is not None:
            latent = video_to_channel_first(result.video, shapes.t_h_w)[None]
            pixels = c.video_vae.decode(latent, tiling=self.options.vae_tiling)[0]  # [3, F, H, W]
            video = frames_to_uint8(pixels.permute(1, 0, 2, 3).cpu())
        audio_dtype = torch.bfloat16 if self.release_decode else None
        audio = c.audio_decoder.decode(result.audio, autocast_dtype=audio_dtype)[0]
        timings["decode_s"] = time.perf_counter() - t0
        timings["total_s"] = time.perf_counter() - started

        has_speaker = spk_embed is not None
        meta = {
            "model": c.model_name,
            "smoke": c.smoke,
            "latent_grid": list(shapes.t_h_w) if shapes.t_h_w else None,
            "audio_tokens": shapes.audio_tokens,
            "steps": request.steps,
            "sampler": self.options.sampler,
            "passes": ["C"]
            if student
            else list(required_passes(scales, shapes.t_h_w is not None, has_speaker)),
            "cfg_batch": self.options.cfg_batch,
            "guidance": {f.name: getattr(scales, f.name) for f in fields(scales)},
            "speaker_embedded": has_speaker,
            "decode_precision": self.options.decode_precision if self.device.type == "cuda" else "fp32",
            # The release's final waveform is a bf16 tensor; the writer's peak normalisation repeats that.
            "audio_arithmetic": "bf16" if audio_dtype is not None else "fp32",
        }
        logger.info(
            "request %s (%s): %s", request.id, request.mode, {k: round(v, 3) for k, v in timings.items()}
        )
        return AVSample(
            request_id=request.id,
            mode=request.mode,
            video=video,
            audio=audio,
            sample_rate=c.audio_decoder.sample_rate,
            fps=request.fps,
            seed=request.seed,
            timings=timings,
            meta=meta,
        )

    # ------------------------------------------------------------------------------------------------
    @staticmethod
    def _check_noise(request: Request, noise: InitialNoise, shapes: NoiseShapes) -> None:
        want_video = None if shapes.t_h_w is None else (math.prod(shapes.t_h_w), VIDEO_LATENT_DIM)
        got_video = None if noise.video is None else tuple(noise.video.shape)
        want_audio = (shapes.audio_tokens, AUDIO_LATENT_DIM)
        if got_video != want_video or tuple(noise.audio.shape) != want_audio:
            raise ValueError(
                f"request {request.id!r}: noise shapes video {got_video}, audio {tuple(noise.audio.shape)} do "
                f"not match the request's latents (video {want_video}, audio {want_audio})"
            )

    def _audio_tokens(self, request: Request) -> int:
        if request.mode == "t2a":
            return audio_tokens_for_duration(request.duration or DEFAULT_T2A_SECONDS)
        if request.mode == "tts":
            # Official: int(len(text) / len(transcript) · reference tokens), the reference measured in
            # latent tokens (25 per second of the speaker wav), or the released code's fixed fallback.
            ref_tokens = request.reference_tokens
            if ref_tokens is None:
                wav, rate = read_audio(request.speaker_wavs[0])
                ref_tokens = audio_tokens_for_duration(wav.shape[-1] / rate)
            return max(1, int(len(request.prompt) / len(request.reference_text or "") * ref_tokens))
        pixel_frames = self.components.video_vae.pixel_frames(request.frames)
        return audio_tokens_for_frames(pixel_frames, self.options.video_fps_for_audio)

    def _image_latent(self, path: Path | None, size: tuple[int | None, int | None]) -> torch.Tensor:
        """Resize (LANCZOS, cover) + centre-crop to the bucket `size`, encode as a 1-frame video → [48, 1, h, w]."""
        from PIL import Image

        assert path is not None
        width, height = size
        assert width is not None and height is not None
        with Image.open(path) as img:
            img = img.convert("RGB")
            scale = max(width / img.width, height / img.height)
            resized = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
        left, top = (resized.width - width) // 2, (resized.height - height) // 2
        crop = resized.crop((left, top, left + width, top + height))
        pixels = torch.frombuffer(bytearray(crop.tobytes()), dtype=torch.uint8).view(height, width, 3)
        video = (pixels.float() / 255.0 * 2.0 - 1.0).permute(2, 0, 1)[None, :, None]  # [1, 3, 1, H, W]
        latent = self.components.video_vae.encode(video.to(self.device))[0]
        return latent.float()
