"""Synchformer's inputs as MOVA's evaluation toolkit builds them, and the shared network cache.

OpenMOSS/MOVA (commit 595a976) `evaluation/metrics/av_quality/av_bench/data/media_dataset.py`
(`video_transform`, `synchformer_audio_transform`, `MediaDataset.sync_transform`),
`av_bench/extract.py` (`encode_audio_with_sync`), `extract_video.py` (`encode_video_with_sync`) and
`av_bench/extraction_models.py` (the MelSpectrogram):

- video: frames at 25 fps through libavfilter's `fps` filter (torio's StreamingMediaDecoder, the
  toolkit's decoder, runs it), the first ⌊25·duration⌋ kept, a short video padded with its last
  frame; each frame resized so its short side is 224 (bicubic, antialiased, on uint8), centre-cropped
  to 224×224, scaled to [0, 1] and normalised with mean = std = 0.5; 16-frame segments every 8 frames;
- audio: the channels averaged, resampled to 16 kHz (torchaudio's Resample), the first
  ⌊16000·duration⌋ samples (a shorter track: "Audio is too short", the item is dropped); 10240-sample
  segments every 5120; torchaudio's MelSpectrogram (n_fft 1024, window 400, hop 160, 128 HTK mel
  bins, power 2, centred with reflection), log(x + 1e-6), zero-padded to 66 frames,
  (x + 4.2677393) / (2 · 4.5689974).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

SYNC_FPS = Fraction(25)
SYNC_SIZE = 224
SAMPLE_RATE = 16000
VIDEO_SEGMENT, VIDEO_STEP = 16, 8
AUDIO_SEGMENT, AUDIO_STEP = 10240, 5120
N_FFT, WIN_LENGTH, HOP_LENGTH, N_MELS = 1024, 400, 160, 128
MEL_FRAMES = 66
LOG_OFFSET = 1e-6
MEL_MEAN, MEL_STD = -4.2677393, 4.5689974
WINDOW_SEGMENTS = 14  # compare_v_a on the first and on the last 14 segments


class SyncInputError(ValueError):
    """A clip the toolkit does not score (the message says why); the item is skipped."""


def segment_count(length: int, size: int, step: int) -> int:
    """`(t - size) // step + 1`, the toolkit's count (0 when shorter than one segment)."""
    return max(0, (length - size) // step + 1)


# ------------------------------------------------------------------------------------------
# Video


def sync_transform(frames: torch.Tensor) -> torch.Tensor:
    """uint8 [T, 3, H, W] → float [T, 3, 224, 224]: Resize(224, bicubic, antialias), CenterCrop, ±1 scale."""
    from torchvision.transforms import v2

    transform = v2.Compose(
        [
            v2.Resize(SYNC_SIZE, interpolation=v2.InterpolationMode.BICUBIC),
            v2.CenterCrop(SYNC_SIZE),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),
        ]
    )
    return transform(frames).as_subclass(torch.Tensor)


def video_frames(path: Path, duration: float, media: Any = None) -> tuple[torch.Tensor, int]:
    """The toolkit's ⌊25·duration⌋ frames, uint8 [T, 3, H, W], and how many the stream gave.

    `media`: a `MediaCache` to read through (shared by the metrics of a pass), else a private decode.
    """
    from nava_eval.metrics.shared_media import MediaCache

    count = int(float(SYNC_FPS) * duration)
    frames = (media or MediaCache(max_bytes=0)).frames(path, SYNC_FPS, count)
    decoded = len(frames)
    if decoded < count:
        frames = np.concatenate([frames, np.repeat(frames[-1:], count - decoded, axis=0)])
    return torch.from_numpy(np.ascontiguousarray(frames[:count])).permute(0, 3, 1, 2), decoded


def video_segments(frames: torch.Tensor) -> torch.Tensor:
    """[T, ...] → [S, 16, ...], windows of 16 frames every 8 (a view)."""
    n = segment_count(frames.shape[0], VIDEO_SEGMENT, VIDEO_STEP)
    return torch.stack([frames[i * VIDEO_STEP : i * VIDEO_STEP + VIDEO_SEGMENT] for i in range(n)])


# ------------------------------------------------------------------------------------------
# Audio


def mono_16k(samples: np.ndarray, sample_rate: int) -> torch.Tensor:
    """The channels' mean, then torchaudio's Resample to 16 kHz (float32)."""
    from nava_eval.metrics.imagebind_data import resample_sinc

    wave = torch.from_numpy(np.asarray(samples, dtype=np.float32)).mean(dim=0)
    return resample_sinc(wave, int(sample_rate), SAMPLE_RATE)


def mel_filters(n_freqs: int = N_FFT // 2 + 1, n_mels: int = N_MELS, sr: int = SAMPLE_RATE) -> torch.Tensor:
    """Triangular HTK mel filters [n_freqs, n_mels], f_min 0, f_max sr/2, no normalisation."""
    all_freqs = torch.linspace(0, sr // 2, n_freqs)
    m_max = 2595.0 * math.log10(1.0 + (sr / 2) / 700.0)
    m_pts = torch.linspace(0.0, m_max, n_mels + 2)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.min(down, up), min=0.0)


_FILTERS: dict[str, torch.Tensor] = {}


def log_mels(segments: torch.Tensor) -> torch.Tensor:
    """[..., 10240] waveforms → normalised log-mels [..., 128, 66] (the toolkit's encode_audio_with_sync)."""
    shape = segments.shape
    flat = segments.reshape(-1, shape[-1])
    key = str(flat.device)
    if key not in _FILTERS:
        _FILTERS[key] = mel_filters().to(flat.device)
    window = torch.hann_window(WIN_LENGTH, device=flat.device)
    spec = torch.stft(
        flat,
        N_FFT,
        hop_length=HOP_LENGTH,
        win_length=WIN_LENGTH,
        window=window,
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    power = spec.abs().pow(2.0)
    mel = torch.matmul(power.transpose(-1, -2), _FILTERS[key]).transpose(-1, -2)
    mel = torch.log(mel + LOG_OFFSET)
    frames = mel.shape[-1]
    if frames < MEL_FRAMES:
        mel = torch.nn.functional.pad(mel, (0, MEL_FRAMES - frames), "constant", 0.0)
    elif frames > MEL_FRAMES:
        mel = mel[..., :MEL_FRAMES]
    mel = (mel - MEL_MEAN) / (2 * MEL_STD)
    return mel.reshape(*shape[:-1], N_MELS, MEL_FRAMES)


def audio_segments(wave: torch.Tensor) -> torch.Tensor:
    """[n] → [S, 10240], windows every 5120 samples."""
    n = segment_count(wave.shape[-1], AUDIO_SEGMENT, AUDIO_STEP)
    return torch.stack([wave[i * AUDIO_STEP : i * AUDIO_STEP + AUDIO_SEGMENT] for i in range(n)])


# ------------------------------------------------------------------------------------------
# One network for DeSync and AV-A

_NETWORKS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def shared_network(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """The network built once per process for `key` (weights identity, device): DeSync and AV-A share it."""
    with _LOCK:
        if key not in _NETWORKS:
            _NETWORKS[key] = build()
        return _NETWORKS[key]
