"""The decode steps of the official syncnet_python scripts, reproduced with a pinned ffmpeg.

The official code never reads a video directly: it shells out to ffmpeg, writes JPEG files and
reads them back with `cv2.imread`, and writes a 16 kHz wav read with `scipy.io.wavfile`. The JPEG
round trip is lossy and moves Sync-D by a few hundredths, so we do the same, with the ffmpeg binary
bundled by imageio-ffmpeg (`NAVA_EVAL_FFMPEG` overrides it).

One difference between ffmpeg releases matters: writing JPEGs converts limited-range YUV to the
full range the mjpeg encoder takes, and ffmpeg ≥ 7.1 rounds the chroma of that conversion
differently from the ffmpeg 5.1 the reference vectors were made with. For 8-bit limited-range
planar YUV input (what H.264/MPEG-4 files hold) we decode to raw YUV with ffmpeg, apply the
legacy swscale conversion (`legacy_range_luts`) in numpy and hand full-range YUV to ffmpeg's mjpeg
encoder, which then needs no conversion. That reproduces the reference JPEG pixels bit for bit on
the fixture clip. Other pixel formats go through ffmpeg's own conversion (documented deviation).
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from nava_eval.errors import UserError
from nava_eval.interrupts import reraise_interrupts
from nava_eval.user_files import file_problem

#: planar 8-bit formats whose range conversion we do ourselves → the full-range name ffmpeg 5.1 picked
_LEGACY_RANGE_FORMATS = {"yuv420p": "yuvj420p", "yuv422p": "yuvj422p", "yuv444p": "yuvj444p"}
_CHROMA_SHIFT = {"yuv420p": (1, 1), "yuv422p": (1, 0), "yuv444p": (0, 0)}


class MediaDecodeError(UserError, RuntimeError):
    """ffmpeg could not read or write a file; the message carries ffmpeg's last error lines."""


def ffmpeg_exe() -> str:
    """The ffmpeg executable: $NAVA_EVAL_FFMPEG, else the one bundled by imageio-ffmpeg."""
    env = os.environ.get("NAVA_EVAL_FFMPEG")
    if env:
        return env
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_version() -> str:
    out = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def run_ffmpeg(args: list[str], *, input_bytes: bytes | None = None, capture: bool = False) -> bytes:
    """Run ffmpeg with `args` (after the executable); raise MediaDecodeError with its stderr tail."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    proc = subprocess.run(
        cmd,
        input=input_bytes,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise MediaDecodeError(
            f"ffmpeg failed ({' '.join(args[:4])} ...): {' | '.join(tail) or proc.returncode}"
        )
    return proc.stdout if capture else b""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    pix_fmt: str
    color_range: str  # "tv", "pc" or "unknown"
    fps: Fraction
    has_audio: bool


def probe(path: Path) -> VideoInfo:
    """Stream facts ffmpeg's choices depend on (PyAV reads the container header only).

    Without PyAV (a GPU machine that only has the bundled ffmpeg) the same facts come from ffmpeg's
    own stream listing, see `probe_with_ffmpeg`.
    """
    try:
        import av
    except ImportError:
        return probe_with_ffmpeg(path)

    problem = file_problem(path)
    if problem is not None:  # a FIFO named *.mp4 would block the demuxer for ever
        raise MediaDecodeError(f"{path}: cannot read the container ({problem})")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaDecodeError(f"{path}: no video stream")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            rate = stream.average_rate or stream.guessed_rate or Fraction(25)
            color_range = {1: "tv", 2: "pc"}.get(int(getattr(ctx, "color_range", 0) or 0), "unknown")
            return VideoInfo(
                width=ctx.width,
                height=ctx.height,
                pix_fmt=ctx.format.name if ctx.format is not None else "unknown",
                color_range=color_range,
                fps=Fraction(rate),
                has_audio=bool(container.streams.audio),
            )
    except MediaDecodeError:
        raise
    except Exception as exc:  # av raises many kinds of errors for broken files
        reraise_interrupts(exc)
        raise MediaDecodeError(f"{path}: cannot read the container ({type(exc).__name__}: {exc})") from exc


_STREAM_LINE = re.compile(r"^\s*Stream #\d+:\d+\S*: (Video|Audio): (.*)$")
_PIX_FMT = re.compile(r"^[^,]+?, (\w+)(?:\(([^)]*)\))?")
_SIZE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_RATE = re.compile(r"([\d.]+)(k?) (fps|tbr)\b")


def _printed_rate(text: str) -> Fraction:
    """ffmpeg prints avg_frame_rate with 2 decimals: NTSC rates (N·1000/1001) are mapped back exactly."""
    value = float(text)
    if value == round(value):
        return Fraction(round(value))
    ntsc = Fraction(round(value * 1.001) * 1000, 1001)
    if f"{float(ntsc):.2f}" == f"{value:.2f}":
        return ntsc
    return Fraction(text).limit_denominator(1001)


def probe_with_ffmpeg(path: Path) -> VideoInfo:
    """`probe` from the stream lines of `ffmpeg -i FILE` (first video stream; fps, else tbr, else 25)."""
    problem = file_problem(path)
    if problem is not None:
        raise MediaDecodeError(f"{path}: cannot read the container ({problem})")
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    text = proc.stderr.decode(errors="replace")
    video = audio = None
    for line in text.splitlines():
        match = _STREAM_LINE.match(line)
        if match and match.group(1) == "Video" and video is None:
            video = match.group(2)
        elif match and match.group(1) == "Audio":
            audio = match.group(2)
    if video is None:
        if "Stream #" not in text:
            tail = " | ".join(text.strip().splitlines()[-2:])
            raise MediaDecodeError(f"{path}: cannot read the container ({tail})")
        raise MediaDecodeError(f"{path}: no video stream")
    fmt, size = _PIX_FMT.match(video), _SIZE.search(video)
    if fmt is None or size is None:
        raise MediaDecodeError(f"{path}: cannot parse ffmpeg's video stream line: {video}")
    details = [d.strip() for d in (fmt.group(2) or "").split(",")]
    rates = {unit: (num, kilo) for num, kilo, unit in _RATE.findall(video)}
    num, kilo = rates.get("fps") or rates.get("tbr") or ("25", "")
    fps = _printed_rate(num) * (1000 if kilo else 1)
    return VideoInfo(
        width=int(size.group(1)),
        height=int(size.group(2)),
        pix_fmt=fmt.group(1),
        color_range="tv" if "tv" in details else "pc" if "pc" in details else "unknown",
        fps=fps,
        has_audio=audio is not None,
    )


def legacy_range_luts() -> tuple[np.ndarray, np.ndarray]:
    """Luma and chroma LUTs of ffmpeg 5.1's swscale limited→full range conversion for 8-bit input.

    swscale works on 15-bit intermediates (x << 7), applies lumRangeToJpeg_c / chrRangeToJpeg_c and
    rounds back to 8 bits with the flat dither (+64 >> 7) used for 8-bit sources.
    """
    v = np.arange(256, dtype=np.int64) << 7
    luma = (np.minimum(v, 30189) * 19077 - 39057361) >> 14
    chroma = (np.minimum(v, 30775) * 4663 - 9289992) >> 12
    to8 = lambda x: np.clip((x + 64) >> 7, 0, 255).astype(np.uint8)  # noqa: E731
    return to8(luma), to8(chroma)


def _uses_legacy_path(info: VideoInfo) -> bool:
    return info.pix_fmt in _LEGACY_RANGE_FORMATS and info.color_range != "pc"


def dump_jpeg_frames(
    video: Path, out_dir: Path, *, qscale: int | None = None, info: VideoInfo | None = None
) -> list[Path]:
    """`ffmpeg -y -i VIDEO [-qscale:v Q] -threads 1 -f image2 OUT/%06d.jpg`, as ffmpeg 5.1 wrote it.

    Without `qscale` the mjpeg encoder runs its default 200 kb/s rate control, whose per-frame
    quality depends on the frame rate; we pass the source rate as ffmpeg does.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    info = info or probe(video)
    quality = ["-qscale:v", str(qscale)] if qscale is not None else []
    pattern = str(out_dir / "%06d.jpg")
    if _uses_legacy_path(info):
        raw = run_ffmpeg(
            ["-i", str(video), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", info.pix_fmt, "-"], capture=True
        )
        full = _legacy_convert(raw, info)
        run_ffmpeg(
            [
                "-y",
                "-f", "rawvideo",
                "-pix_fmt", _LEGACY_RANGE_FORMATS[info.pix_fmt],
                "-s", f"{info.width}x{info.height}",
                "-r", str(info.fps),
                "-i", "-",
                *quality,
                "-threads", "1",
                "-f", "image2",
                pattern,
            ],
            input_bytes=full,
        )  # fmt: skip
    else:
        run_ffmpeg(["-y", "-i", str(video), *quality, "-threads", "1", "-f", "image2", pattern])
    frames = sorted(Path(p) for p in glob.glob(str(out_dir / "*.jpg")))
    if not frames:
        raise MediaDecodeError(f"{video}: ffmpeg wrote no frames")
    return frames


def _legacy_convert(raw: bytes, info: VideoInfo) -> bytes:
    sx, sy = _CHROMA_SHIFT[info.pix_fmt]
    w, h = info.width, info.height
    cw, ch = -(-w >> sx) if sx else w, -(-h >> sy) if sy else h
    frame_size = w * h + 2 * cw * ch
    if len(raw) % frame_size:
        raise MediaDecodeError(f"raw video size {len(raw)} is not a multiple of the frame size {frame_size}")
    frames = np.frombuffer(raw, np.uint8).reshape(-1, frame_size)
    luma_lut, chroma_lut = legacy_range_luts()
    out = np.empty_like(frames)
    out[:, : w * h] = luma_lut[frames[:, : w * h]]
    out[:, w * h :] = chroma_lut[frames[:, w * h :]]
    return out.tobytes()


def read_jpeg_frames(paths: list[Path]) -> np.ndarray:
    """Stack JPEG files read with cv2.imread (BGR uint8 [T,H,W,3]), as the official code does."""
    import cv2

    images = [cv2.imread(str(p)) for p in paths]
    if any(img is None for img in images):
        raise MediaDecodeError(f"cv2 could not read {sum(img is None for img in images)} JPEG frame(s)")
    return np.stack(images)


def extract_audio_16k(video: Path, out_wav: Path, *, extra: list[str] | None = None) -> Path:
    """`ffmpeg -y -i VIDEO -async 1 -ac 1 -vn -acodec pcm_s16le -ar 16000 OUT.wav` (run_syncnet.py)."""
    run_ffmpeg(
        [
            "-y",
            "-i",
            str(video),
            *(extra or ["-async", "1"]),
            "-ac",
            "1",
            "-vn",
            "-acodec",
            "pcm_s16le",
            "-ar",
            "16000",
            str(out_wav),
        ]
    )
    return out_wav


def read_wav_int16(path: Path) -> np.ndarray:
    """scipy.io.wavfile.read, checked to be 16 kHz mono int16 (what the SyncNet MFCC expects)."""
    from scipy.io import wavfile

    rate, audio = wavfile.read(str(path))
    if rate != 16000:
        raise MediaDecodeError(f"{path}: sample rate {rate}, expected 16000")
    if audio.ndim != 1:
        raise MediaDecodeError(f"{path}: {audio.shape[1]} channels, expected mono")
    return audio


def reencode_25fps_avi(video: Path, out_avi: Path) -> Path:
    """run_pipeline.py step 1: `ffmpeg -y -i VIDEO -qscale:v 2 -async 1 -r 25 video.avi`."""
    run_ffmpeg(["-y", "-i", str(video), "-qscale:v", "2", "-async", "1", "-r", "25", str(out_avi)])
    return out_avi


def extract_pipeline_audio(avi: Path, out_wav: Path) -> Path:
    """run_pipeline.py step 2: `ffmpeg -y -i video.avi -ac 1 -vn -acodec pcm_s16le -ar 16000 audio.wav`."""
    run_ffmpeg(
        ["-y", "-i", str(avi), "-ac", "1", "-vn", "-acodec", "pcm_s16le", "-ar", "16000", str(out_wav)]
    )
    return out_wav


def cut_audio(wav: Path, start_s: float, end_s: float, out_wav: Path) -> Path:
    """crop_video's audio cut: `ffmpeg -y -i audio.wav -ss %.3f -to %.3f out.wav`."""
    run_ffmpeg(["-y", "-i", str(wav), "-ss", f"{start_s:.3f}", "-to", f"{end_s:.3f}", str(out_wav)])
    return out_wav


def mux_copy(video: Path, audio: Path, out: Path) -> Path:
    """crop_video's mux: `ffmpeg -y -i VIDEO -i AUDIO -c:v copy -c:a copy OUT`."""
    run_ffmpeg(["-y", "-i", str(video), "-i", str(audio), "-c:v", "copy", "-c:a", "copy", str(out)])
    return out
