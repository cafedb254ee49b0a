"""Output shapes NAVA can generate: pixel size and clip length, checked against the model's strides.

One checkpoint makes landscape, portrait and square clips (1280×704, 704×1280, 960×960) of any length
up to the RoPE tables' reach. What constrains a shape (reference §3.1, §3.6, §5.3):
- width and height: the Wan2.2 VAE maps 16 pixels to one latent cell (2× pixel patchify, 8× CNN), so
  both must be multiples of 16. The release takes `height // 16` and silently drops the remainder; here
  such a size is refused, naming the nearest valid one. The DiT's (1, 2, 2) patch needs an even latent
  grid: an odd one (e.g. 720 px → 45 cells) is zero-padded at the bottom/right and cropped back, as the
  release does, so multiples of 16 are enough.
- frames: latent frames T; the causal VAE decodes 4(T − 1) + 1 pixel frames. The audio track follows
  the clip: La = ceil((4(T − 1) + 1) / 24 · 25) tokens, with the training video fps 24 (not the mp4 fps).
- RoPE tables hold 1024 positions per axis, so La ≤ 1024 (T ≤ 246, about 40.9 s) and the padded latent
  grid ≤ 1024 patches per side; T2A lengths likewise La = ceil(d · 25) ≤ 1024.
Pure arithmetic, no torch: the runners check a request with it before any weights load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nava_eval.errors import InvalidValue

SPATIAL_STRIDE = 16  # pixels per latent cell (Wan2.2 VAE)
PATCH = 2  # DiT patch along latent height and width; odd grids are zero-padded to it
TEMPORAL_STRIDE = 4  # pixel frames per latent frame after the first (causal VAE)
ROPE_POSITIONS = 1024  # positions per RoPE axis (video t/h/w and the audio axis)
AUDIO_TOKENS_PER_SECOND = 25
TRAINING_VIDEO_FPS = 24.0  # yaml data.video_fps: sets the audio length of an AV clip
MIN_SIDE = 2 * SPATIAL_STRIDE  # one DiT patch


def pixel_frames(latent_frames: int) -> int:
    """Pixel frames the causal VAE decodes from `latent_frames` latent frames."""
    return TEMPORAL_STRIDE * (latent_frames - 1) + 1


def audio_tokens_for_clip(latent_frames: int, video_fps: float = TRAINING_VIDEO_FPS) -> int:
    """AV audio length as the release computes it: ceil(pixel frames / video_fps · 25)."""
    return math.ceil(round(pixel_frames(latent_frames) / video_fps * AUDIO_TOKENS_PER_SECOND, 6))


def audio_tokens_for_seconds(seconds: float) -> int:
    """T2A audio length: ceil(d · 25)."""
    return math.ceil(round(seconds * AUDIO_TOKENS_PER_SECOND, 6))


def _max_latent_frames() -> int:
    frames = 1
    while audio_tokens_for_clip(frames + 1) <= ROPE_POSITIONS:
        frames += 1
    return frames


MAX_LATENT_FRAMES = _max_latent_frames()  # 246: the audio track's RoPE reach
MAX_SIDE = ROPE_POSITIONS * PATCH * SPATIAL_STRIDE  # 32768 px
MAX_T2A_SECONDS = ROPE_POSITIONS / AUDIO_TOKENS_PER_SECOND  # 40.96 s


def nearest_side(value: int) -> int:
    """The valid side length closest to `value` (ties go up)."""
    snapped = int(math.floor(value / SPATIAL_STRIDE + 0.5)) * SPATIAL_STRIDE
    return min(MAX_SIDE, max(MIN_SIDE, snapped))


@dataclass(frozen=True)
class ClipShape:
    """A checked AV output shape: pixels, latent grid and token counts."""

    width: int
    height: int
    frames: int  # latent frames

    @property
    def pixel_frames(self) -> int:
        return pixel_frames(self.frames)

    @property
    def latent_grid(self) -> tuple[int, int, int]:
        return (self.frames, self.height // SPATIAL_STRIDE, self.width // SPATIAL_STRIDE)

    @property
    def video_tokens(self) -> int:
        t, h, w = self.latent_grid
        return t * math.ceil(h / PATCH) * math.ceil(w / PATCH)

    @property
    def audio_tokens(self) -> int:
        return audio_tokens_for_clip(self.frames)

    def seconds(self, fps: float) -> float:
        """Clip length when written at `fps` (the mp4 frame rate)."""
        return self.pixel_frames / fps

    def describe(self, fps: float | None = None) -> dict[str, object]:
        """What the dry run shows for this shape."""
        out: dict[str, object] = {
            "width": self.width,
            "height": self.height,
            "orientation": "square"
            if self.width == self.height
            else ("portrait" if self.height > self.width else "landscape"),
            "latent_frames": self.frames,
            "pixel_frames": self.pixel_frames,
            "latent_grid": list(self.latent_grid),
            "video_tokens": self.video_tokens,
            "audio_tokens": self.audio_tokens,
            "audio_seconds": round(self.pixel_frames / TRAINING_VIDEO_FPS, 4),
        }
        if fps:
            out["seconds_at_fps"] = round(self.seconds(fps), 4)
        return out


def shape_problems(width: int, height: int, frames: int) -> list[tuple[str, str]]:
    """(field, problem) for each bad field (empty when valid); each problem names the nearest valid value."""
    problems = []
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append((name, f"must be an integer number of pixels, got {value!r}"))
        elif value % SPATIAL_STRIDE or not MIN_SIDE <= value <= MAX_SIDE:
            problems.append(
                (
                    name,
                    f"{value} is not a multiple of {SPATIAL_STRIDE} (the video VAE's stride) between "
                    f"{MIN_SIDE} and {MAX_SIDE}; nearest valid: {nearest_side(value)}",
                )
            )
    if not isinstance(frames, int) or isinstance(frames, bool):
        problems.append(("frames", f"must be an integer number of latent frames, got {frames!r}"))
    elif not 1 <= frames <= MAX_LATENT_FRAMES:
        nearest = min(MAX_LATENT_FRAMES, max(1, frames))
        problems.append(
            (
                "frames",
                f"{frames} is outside 1..{MAX_LATENT_FRAMES} latent frames (the audio track's RoPE table "
                f"holds {ROPE_POSITIONS} positions, {MAX_T2A_SECONDS:g} s); nearest valid: {nearest}",
            )
        )
    return problems


def describe_problems(problems: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name}: {text}" for name, text in problems)


def check_shape(width: int, height: int, frames: int) -> ClipShape:
    """A ClipShape, or InvalidValue (a ValueError) naming every problem and the nearest valid shape."""
    problems = shape_problems(width, height, frames)
    if problems:
        suggestion = ""
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (width, height, frames)):
            near = ClipShape(
                nearest_side(width), nearest_side(height), min(MAX_LATENT_FRAMES, max(1, frames))
            )
            suggestion = (
                f" (nearest valid shape: --width {near.width} --height {near.height} --frames {near.frames})"
            )
        raise InvalidValue(describe_problems(problems) + suggestion)
    return ClipShape(width, height, frames)


def check_t2a_seconds(seconds: float) -> int:
    """T2A audio tokens for `seconds`, or InvalidValue naming the valid range."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not seconds > 0:
        raise InvalidValue(f"duration must be a number of seconds > 0, got {seconds!r}")
    tokens = audio_tokens_for_seconds(seconds)
    if tokens > ROPE_POSITIONS:
        raise InvalidValue(
            f"duration {seconds:g} s needs {tokens} audio tokens, more than the {ROPE_POSITIONS} positions of "
            f"the audio RoPE table; nearest valid: {MAX_T2A_SECONDS:g}"
        )
    return tokens
