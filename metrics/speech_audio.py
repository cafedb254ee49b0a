"""Audio decoding and resampling for the speech metrics (WER, SIM).

No system ffmpeg: wav/flac/ogg are read with soundfile, anything else (mp4, m4a, ...) with PyAV.
Two resamplers, because the two official scripts use two different ones and the numbers depend
on it: seed-tts-eval's WER path uses `scipy.signal.resample` (FFT, on float64 from soundfile),
its SIM path uses `torchaudio.transforms.Resample` (windowed sinc, Hann window, width 6,
rolloff 0.99). torchaudio has no build for our torch, so `resample_sinc` re-implements that
kernel in plain torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nava_eval.errors import UserError
from nava_eval.interrupts import reraise_interrupts
from nava_eval.user_files import file_problem

TARGET_SR = 16_000
_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}


class AudioLoadError(UserError, RuntimeError):
    """An output's audio cannot be read; the message names the file and what to do."""


class NoAudioStreamError(AudioLoadError):
    """The file has no audio stream at all (a video-only clip)."""


class EmptyAudioError(AudioLoadError):
    """The audio stream decodes to zero samples."""


@dataclass(frozen=True)
class Audio:
    """Decoded audio: `samples` is [channels, T] (float64 for soundfile input, float32 for PyAV)."""

    samples: np.ndarray
    sample_rate: int
    path: Path

    def first_channel(self) -> np.ndarray:
        """Channel 0, as both official scripts use (they never downmix)."""
        return self.samples[0]

    def channel_mean(self) -> np.ndarray:
        """The mean over channels (torchaudio/librosa/funasr downmix), float32."""
        return self.samples.astype(np.float32, copy=False).mean(axis=0)


def load_audio(path: Path | str) -> Audio:
    """Read every channel at the file's own rate; raise AudioLoadError with the reason."""
    path = Path(path)
    problem = file_problem(path)
    if problem == "no such file":
        raise AudioLoadError(f"{path}: file not found (was the output generated?)")
    if problem is not None:  # a FIFO or device would block the decoder for ever
        raise AudioLoadError(f"{path}: is {problem}, not a regular file")
    try:
        if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
            samples, sr = _read_soundfile(path)
        else:
            samples, sr = _read_pyav(path)
    except AudioLoadError:
        raise
    except Exception as exc:  # decoder errors come in many types; report them uniformly
        reraise_interrupts(exc)
        raise AudioLoadError(f"{path}: cannot decode audio ({type(exc).__name__}: {exc})") from exc
    if samples.shape[-1] == 0:
        raise EmptyAudioError(f"{path}: the audio stream has no samples")
    return Audio(samples=samples, sample_rate=int(sr), path=path)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    # float64 like seed-tts-eval's `sf.read`, so the FFT resample sees the same input.
    data, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return np.ascontiguousarray(data.T), sr


def _read_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise NoAudioStreamError(f"{path}: no audio stream (an audio metric needs the generated audio)")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        # Planar float keeps channels apart whatever the codec's native sample format is.
        resampler = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=rate)
        chunks: list[np.ndarray] = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    if not chunks:
        raise EmptyAudioError(f"{path}: the audio stream decoded to no samples")
    return np.concatenate(chunks, axis=1).astype(np.float32, copy=False), int(rate)


def resample_fft(wav: np.ndarray, sr: int, target_sr: int = TARGET_SR) -> np.ndarray:
    """seed-tts-eval's WER resampling: `scipy.signal.resample(wav, int(len(wav) * 16000 / sr))`."""
    if sr == target_sr:
        return wav
    import scipy.signal

    return scipy.signal.resample(wav, int(len(wav) * target_sr / sr))


def _sinc_kernel(orig: int, new: int, width_zero_crossings: int = 6, rolloff: float = 0.99):
    import torch

    base = min(orig, new) * rolloff
    width = math.ceil(width_zero_crossings * orig / base)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=torch.float32)[:, None, None] / new + idx
    t = (t * base).clamp(-width_zero_crossings, width_zero_crossings)
    window = torch.cos(t * math.pi / width_zero_crossings / 2) ** 2
    t = t * math.pi
    kernel = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t)
    kernel = kernel * window * (base / orig)
    return kernel.to(torch.float32), width


def resample_sinc(wav: np.ndarray, sr: int, target_sr: int = TARGET_SR) -> np.ndarray:
    """torchaudio's default `Resample(sr, target_sr)` (sinc_interp_hann) on a 1-D float32 signal."""
    if sr == target_sr:
        return wav.astype(np.float32, copy=False)
    import torch
    import torch.nn.functional as F

    gcd = math.gcd(int(sr), int(target_sr))
    orig, new = int(sr) // gcd, int(target_sr) // gcd
    kernel, width = _sinc_kernel(orig, new)
    x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[None]
    length = x.shape[-1]
    x = F.pad(x, (width, width + orig))
    out = F.conv1d(x[:, None], kernel, stride=orig).transpose(1, 2).reshape(1, -1)
    target_len = math.ceil(new * length / orig)
    return out[0, :target_len].numpy()
