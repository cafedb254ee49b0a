"""Writing and reading generated clips: mp4 (H.264 crf 18 + AAC stereo) and wav, through PyAV.

Audio is peak-normalised to 0.95 before writing, as the official inference script does. The caller
chooses the path (the runner writes to a temporary name and renames it).

Audio timing in the mp4 (`audio_timing`): the release writes through `torchvision.io.write_video`,
which hands the AAC encoder one frame without a timestamp, so the encoder's 1024 priming samples stay
at the start of the decoded audio (64 ms of lag at 16 kHz, what every decoder, ffmpeg included, plays).
"official" reproduces that; "exact" stamps the frame at pts 0 so the muxer writes an edit list that
trims the priming and the audio starts with the video.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

if TYPE_CHECKING:  # torch is imported lazily so the encoder process starts fast
    import torch

logger = logging.getLogger(__name__)

OUTPUT_SAMPLE_RATE = 16000
PEAK = 0.95
AUDIO_TIMINGS = ("official", "exact")
AUDIO_ARITHMETICS = ("fp32", "bf16")


@dataclass(frozen=True)
class DecodedMedia:
    """What `read_mp4` returns: uint8 frames [F, H, W, 3], float32 audio [C, N], their rates."""

    frames: np.ndarray
    fps: float
    audio: np.ndarray | None
    sample_rate: int | None


def _is_tensor(x: object) -> bool:
    return type(x).__module__.startswith("torch")


def _as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().float().cpu().numpy() if _is_tensor(x) else np.asarray(x)


def round_to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32)


def peak_normalize(
    audio: torch.Tensor | np.ndarray, peak: float = PEAK, arithmetic: str = "fp32"
) -> np.ndarray:
    """x·peak/max|x|, clamped to ±1; silence stays silence. Returns float32 [C, N].

    arithmetic "bf16" repeats the release's arithmetic on its bf16 waveform (the release computes
    `x * (0.95 / peak)` on a bf16 tensor: reciprocal, product and result each rounded to bf16).
    """
    if arithmetic not in AUDIO_ARITHMETICS:
        raise ValueError(f"arithmetic must be one of {', '.join(AUDIO_ARITHMETICS)}, got {arithmetic!r}")
    wav = _as_numpy(audio).astype(np.float32)
    top = float(np.abs(wav).max()) if wav.size else 0.0
    if top > 0 and arithmetic == "bf16":
        wav = round_to_bf16(wav)
        top = float(np.abs(wav).max())
        inverse = round_to_bf16(np.float32(1.0) / np.array([top], np.float32))
        scale = round_to_bf16(inverse * np.float32(peak))
        wav = round_to_bf16(wav * scale[0])
    elif top > 0:
        wav = wav * (peak / top)
    return np.clip(wav, -1.0, 1.0)


def frames_to_uint8(video: torch.Tensor) -> torch.Tensor:
    """[F, 3, H, W] in [-1, 1] → uint8 [F, H, W, 3] with the official truncating conversion."""
    if video.ndim != 4 or video.shape[1] != 3:
        raise ValueError(f"expected video [F, 3, H, W], got {tuple(video.shape)}")
    import torch

    scaled = ((video.float() + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _check_audio(audio: np.ndarray) -> np.ndarray:
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or audio.shape[0] not in (1, 2):
        raise ValueError(f"expected audio [channels(1|2), samples], got {audio.shape}")
    return audio


def _encode_audio(
    container: av.container.OutputContainer, stream, wav: np.ndarray, sample_rate: int, stamped: bool = True
) -> None:
    layout = "stereo" if wav.shape[0] == 2 else "mono"
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(wav, dtype=np.float32), format="fltp", layout=layout
    )
    frame.sample_rate = sample_rate
    if stamped:
        # An explicit pts lets the encoder emit the AAC priming packet at a negative pts, which the mp4
        # muxer turns into an edit list; without it, readers see 1024 extra samples at the start.
        frame.pts = 0
        frame.time_base = Fraction(1, sample_rate)
    for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_mp4(
    path: str | Path,
    frames: torch.Tensor | np.ndarray,
    fps: float,
    audio: torch.Tensor | np.ndarray | None = None,
    sample_rate: int = OUTPUT_SAMPLE_RATE,
    crf: int = 18,
    audio_bit_rate: int | None = None,
    audio_timing: str = "official",
    audio_arithmetic: str = "fp32",
) -> Path:
    """Write uint8 frames [F, H, W, 3] (+ optional audio [C, N]) as H.264/AAC mp4 at `path`.

    audio_bit_rate None keeps the AAC encoder's default (128 kb/s, what the release gets); audio_timing
    "official" keeps the AAC priming at the start as the release does, "exact" trims it (module doc).
    """
    if audio_timing not in AUDIO_TIMINGS:
        raise ValueError(f"audio_timing must be one of {', '.join(AUDIO_TIMINGS)}, got {audio_timing!r}")
    path = Path(path)
    pixels = _as_numpy(frames) if not isinstance(frames, np.ndarray) else frames
    if pixels.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [F, H, W, 3], got dtype {pixels.dtype}")
    if pixels.ndim != 4 or pixels.shape[-1] != 3 or pixels.shape[0] < 1:
        raise ValueError(f"frames must be uint8 [F, H, W, 3] with F >= 1, got {pixels.shape}")
    height, width = pixels.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"H.264 yuv420p needs even height and width, got {height}x{width}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as container:
        video_stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        video_stream.width, video_stream.height = width, height
        video_stream.pix_fmt = "yuv420p"
        video_stream.options = {"crf": str(crf)}
        audio_stream = None
        if audio is not None:
            wav = peak_normalize(_check_audio(_as_numpy(audio)), arithmetic=audio_arithmetic)
            audio_stream = container.add_stream("aac", rate=sample_rate)
            audio_stream.layout = "stereo" if wav.shape[0] == 2 else "mono"
            if audio_bit_rate is not None:
                audio_stream.bit_rate = audio_bit_rate
        for image in pixels:
            for packet in video_stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video_stream.encode(None):
            container.mux(packet)
        if audio_stream is not None:
            _encode_audio(container, audio_stream, wav, sample_rate, stamped=audio_timing == "exact")
    return path


def write_wav(
    path: str | Path,
    audio: torch.Tensor | np.ndarray,
    sample_rate: int = OUTPUT_SAMPLE_RATE,
    audio_arithmetic: str = "fp32",
) -> Path:
    """Write audio [C, N] as 16-bit PCM wav at `path`, peak-normalised to 0.95."""
    path = Path(path)
    wav = peak_normalize(_check_audio(_as_numpy(audio)), arithmetic=audio_arithmetic)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=sample_rate)
        stream.layout = "stereo" if wav.shape[0] == 2 else "mono"
        _encode_audio(container, stream, wav, sample_rate)
    return path


def _decode_audio(container: av.container.InputContainer, sample_rate: int | None) -> tuple[np.ndarray, int]:
    stream = container.streams.audio[0]
    rate = sample_rate or stream.codec_context.sample_rate
    layout = "stereo" if stream.codec_context.channels >= 2 else "mono"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    chunks: list[np.ndarray] = []
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray())
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray())
    channels = 2 if layout == "stereo" else 1
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    return data.astype(np.float32), rate


def read_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of any file PyAV reads → (float32 [C, N], rate); optional resampling.

    Raises ValueError when the file cannot be decoded or holds no audio.
    """
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ValueError(f"{path}: no audio stream")
            return _decode_audio(container, sample_rate)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: unreadable audio ({err})") from err


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a wav written by `write_wav` → (float32 [C, N], sample rate)."""
    return read_audio(path)


def read_mp4(path: str | Path) -> DecodedMedia:
    """Decode frames (uint8 RGB) and audio of an mp4."""
    path = Path(path)
    with av.open(str(path)) as container:
        vstream = container.streams.video[0]
        fps = float(vstream.average_rate) if vstream.average_rate else 0.0
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(vstream)])
    audio, rate = None, None
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio, rate = _decode_audio(container, None)
    return DecodedMedia(frames=frames, fps=fps, audio=audio, sample_rate=rate)


def _encode_npz_job(
    path: str,
    arrays: str,
    fps: float,
    sample_rate: int,
    crf: int,
    audio_timing: str = "official",
    audio_arithmetic: str = "fp32",
) -> None:
    """Runs in the encoder process: read the arrays the parent saved, encode to `path`."""
    with np.load(arrays) as data:
        audio = data["audio"]
        if "frames" in data.files:
            write_mp4(
                path,
                data["frames"],
                fps,
                audio=audio,
                sample_rate=sample_rate,
                crf=crf,
                audio_timing=audio_timing,
                audio_arithmetic=audio_arithmetic,
            )
        else:
            write_wav(path, audio, sample_rate, audio_arithmetic=audio_arithmetic)


class IsolatedMediaWriter:
    """Encodes each mp4/wav in a fresh child process (numpy + PyAV only, no torch).

    libx264 was seen to produce different bytes for identical frames depending on what the process
    did before (heavy torch work, or even an earlier encode of other frames: decoded pixels up to
    ±28 apart on noise-like content). A process that encodes one file and exits always gives the
    same file for the same frames, so generation outputs go through here and a rerun reproduces
    them bit for bit. The cost is one short-lived interpreter per file (well under a second).
    """

    def write(
        self,
        path: str | Path,
        frames: torch.Tensor | np.ndarray | None,
        audio: torch.Tensor | np.ndarray,
        fps: float = 24.0,
        sample_rate: int = OUTPUT_SAMPLE_RATE,
        crf: int = 18,
        audio_timing: str = "official",
        audio_arithmetic: str = "fp32",
    ) -> Path:
        """mp4 when `frames` is given, else wav, at exactly `path` (arrays travel through a temp .npz)."""
        if audio_timing not in AUDIO_TIMINGS or audio_arithmetic not in AUDIO_ARITHMETICS:
            raise ValueError(f"bad audio_timing {audio_timing!r} or audio_arithmetic {audio_arithmetic!r}")
        import subprocess
        import sys
        import tempfile

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"audio": _as_numpy(audio)}
        if frames is not None:
            # uint8 frames stay uint8 (_as_numpy would make them float).
            arrays["frames"] = frames.cpu().numpy() if _is_tensor(frames) else np.asarray(frames)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            code = (
                "import sys; from nava_eval.nava.media import _encode_npz_job as j; "
                "j(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), *sys.argv[6:])"
            )
            args = [
                str(path),
                tmp,
                repr(float(fps)),
                str(sample_rate),
                str(crf),
                audio_timing,
                audio_arithmetic,
            ]
            done = subprocess.run(
                [sys.executable, "-c", code, *args],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise RuntimeError(f"encoding {path} failed in the encoder process:\n{done.stderr[-2000:]}")
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path

    def close(self) -> None:
        """Nothing to release (each encode runs in its own process); kept for symmetry with writers."""
