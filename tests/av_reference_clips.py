"""The synthetic mp4 clips behind the AV-Align reference vectors, rebuilt at test time.

tests/metrics/data/reference_scripts/make_av_align.py built these clips with this very module and
ran MOVA's official `av_align_score.py` on them; the test rebuilds them and checks each file's
sha256 against the one the script recorded, so no media lives in the repository. The encode is
deterministic (libx264 and ffmpeg's aac, one thread, bitexact muxing) with the ffmpeg bundled by
imageio-ffmpeg; another ffmpeg build may write other bytes, and the test then says so instead of
comparing scores of different clips.

Each clip is a textured background with a bright block that jumps at "click" frames (and drifts
slowly otherwise), and an audio track of decaying noise bursts at chosen times: the flow peaks and
the audio onsets then land where the clip spec puts them. numpy, the standard library and the ffmpeg
binary only, so the official script's venv can import it too.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ClipSpec:
    """One synthetic clip: size (w, h), frame rate, frame count, audio, and where clicks and jumps are."""

    name: str
    size: tuple[int, int]
    fps: Fraction
    n_frames: int
    sample_rate: int | None  # None: no audio stream at all
    channels: int = 1
    jump_frames: tuple[int, ...] = ()
    click_seconds: tuple[float, ...] = ()
    silent: bool = False
    seed: int = 0
    audio_seconds: float | None = None  # default: the video's length
    extra: dict = field(default_factory=dict)


CLIPS: tuple[ClipSpec, ...] = (
    # landscape, 25 fps, 44.1 kHz stereo, motion on the clicks (and one click without motion)
    ClipSpec(
        "landscape_25fps_sync",
        (320, 240),
        Fraction(25),
        100,
        44100,
        2,
        jump_frames=(12, 30, 51, 70, 88),
        click_seconds=(0.48, 1.2, 2.04, 2.8, 3.52, 3.9),
        seed=1,
    ),
    # portrait, 29.97 fps, 22.05 kHz mono, clicks one frame before the jumps
    ClipSpec(
        "portrait_2997fps",
        (180, 320),
        Fraction(30000, 1001),
        75,
        22050,
        1,
        jump_frames=(15, 33, 56),
        click_seconds=(14 / 29.97, 32 / 29.97, 55 / 29.97),
        seed=2,
    ),
    # a silent track (all-zero samples) under moving video
    ClipSpec(
        "silent_track_24fps",
        (256, 144),
        Fraction(24),
        48,
        48000,
        2,
        jump_frames=(10, 30),
        silent=True,
        seed=3,
    ),
    # shorter than one window of the other AV metrics (0.4 s), 16 kHz mono
    ClipSpec(
        "short_0p4s",
        (160, 120),
        Fraction(25),
        10,
        16000,
        1,
        jump_frames=(4,),
        click_seconds=(0.16,),
        seed=4,
    ),
    # a single frame: the official script scores it 0.0 (fewer than 2 frames)
    ClipSpec("one_frame", (160, 120), Fraction(25), 1, 44100, 1, click_seconds=(0.01,), seed=5),
    # no audio stream at all
    ClipSpec("no_audio_stream", (160, 120), Fraction(25), 40, None, jump_frames=(10, 25), seed=6),
    # longer, 8.04 s at 24 fps (NAVA's and MOVA's clip length), 44.1 kHz stereo, busy
    ClipSpec(
        "long_8s_24fps",
        (256, 160),
        Fraction(24),
        193,
        44100,
        2,
        jump_frames=tuple(range(9, 190, 13)),
        click_seconds=tuple(f / 24 for f in range(9, 190, 13)) + (7.5, 7.6),
        seed=7,
    ),
)


def _frames(spec: ClipSpec) -> np.ndarray:
    w, h = spec.size
    rng = np.random.default_rng([spec.seed, 1])
    background = rng.integers(40, 120, (h, w, 3), dtype=np.uint8)
    block = max(8, min(w, h) // 5)
    frames = np.empty((spec.n_frames, h, w, 3), np.uint8)
    x, y = w // 4, h // 3
    for i in range(spec.n_frames):
        if i in spec.jump_frames:
            x = int(rng.integers(0, w - block))
            y = int(rng.integers(0, h - block))
        else:
            x = min(w - block, x + 1)
        img = background.copy()
        img[y : y + block, x : x + block] = (230, 220, 200)
        img[y + block // 3 : y + 2 * block // 3, x + block // 3 : x + 2 * block // 3] = (20, 30, 40)
        frames[i] = img
    return frames


def _audio(spec: ClipSpec) -> np.ndarray:
    sr = spec.sample_rate
    seconds = spec.audio_seconds if spec.audio_seconds is not None else spec.n_frames / float(spec.fps)
    n = int(round(sr * seconds))
    rng = np.random.default_rng([spec.seed, 2])
    t = np.arange(n) / sr
    sig = 0.01 * np.sin(2 * np.pi * 150 * t)
    burst = int(0.03 * sr)
    for s in spec.click_seconds:
        a = int(round(s * sr))
        if a >= n:
            continue
        m = min(burst, n - a)
        sig[a : a + m] += 0.6 * rng.standard_normal(m) * np.exp(-np.arange(m) / (0.006 * sr))
    out = np.stack([sig * (1.0 - 0.25 * c) for c in range(spec.channels)], 1)
    if spec.silent:
        out[:] = 0
    return np.clip(out, -1, 1)


def _write_wav(path: Path, data: np.ndarray, sr: int) -> None:
    pcm = (data * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(data.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sr)
        wav.writeframes(pcm.tobytes())


def build_clip(spec: ClipSpec, folder: Path, ffmpeg: str) -> Path:
    """Encode one clip to folder/<name>.mp4 (H.264 yuv420p + AAC), deterministically."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{spec.name}.mp4"
    w, h = spec.size
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "video.bgr"
        raw.write_bytes(_frames(spec).tobytes())
        cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-fflags", "+bitexact"]
        cmd += ["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}"]
        cmd += ["-r", f"{spec.fps.numerator}/{spec.fps.denominator}", "-i", str(raw)]
        if spec.sample_rate is not None:
            wav = Path(tmp) / "audio.wav"
            _write_wav(wav, _audio(spec), spec.sample_rate)
            cmd += ["-i", str(wav)]
        cmd += ["-map_metadata", "-1", "-c:v", "libx264", "-preset", "medium", "-crf", "18"]
        cmd += ["-pix_fmt", "yuv420p", "-threads", "1", "-x264-params", "threads=1:sliced-threads=0"]
        cmd += ["-flags:v", "+bitexact"]
        if spec.sample_rate is not None:
            cmd += ["-c:a", "aac", "-b:a", "128k", "-flags:a", "+bitexact"]
        cmd += [str(out)]
        subprocess.run(cmd, check=True)
    return out


def build_all(folder: Path, ffmpeg: str) -> dict[str, Path]:
    """Every clip of CLIPS, by name."""
    return {spec.name: build_clip(spec, folder, ffmpeg) for spec in CLIPS}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
