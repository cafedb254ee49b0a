"""Audio amplitude (RMS) and loudness (LUFS) as MOVA's toolkit computes them (`amplitude/mova-rms-lufs-v1`).

MOVA's `evaluation/metrics/audio_amplitude/eval_audio_amplitude.py` (OpenMOSS/MOVA, commit 595a976):
1. torchcodec `AudioDecoder(mp4).get_samples_played_in_range(0, None)`: every channel at the
   stream's own rate, float32 (we decode the same stream with PyAV, float planar);
2. `torchaudio.functional.resample(waveform, sr, 48000)` per channel (default windowed-sinc kernel:
   `speech_audio.resample_sinc`);
3. a stream whose first sample is played after 0 s (`pts_seconds > 0`) gets `round(pts · 48000)`
   zeros in front;
4. channels averaged (`mean(dim=0)`);
5. RMS = `sqrt(mean(w²))` (float32); LUFS = pyloudnorm `Meter(48000).integrated_loudness(w)` (BS.1770-4,
   the fallback MOVA's requirements install: descript-audiotools is optional there and not installed);
6. per category the mean over the clips that decoded, `all` = mean of the category means.

No network: the smoke preset computes the real values (protocol unchanged). A silent clip has an
integrated loudness of −inf (every block under the −70 LUFS gate), which would turn MOVA's mean into
−inf: it is `skipped` with the reason (known-differences.md). There is no better direction for these
values (MOVA: "context-dependent"), so both fields are `neutral`: levels to read, never ranked.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome

log = logging.getLogger(__name__)

PROTOCOL = "amplitude/mova-rms-lufs-v1"
SAMPLING_RATE = 48_000
FIELDS = (
    MetricField(
        "amplitude_rms",
        "neutral",
        "",
        "RMS of the 48 kHz mono waveform (MOVA; context-dependent, no better direction)",
    ),
    MetricField(
        "loudness_lufs",
        "neutral",
        "LUFS",
        "BS.1770-4 integrated loudness (pyloudnorm) of the same waveform (MOVA; context-dependent)",
    ),
)


class AmplitudeInputError(ValueError):
    """A clip this protocol cannot score; the message says why."""


def decode_played_from_zero(path: Path) -> tuple[np.ndarray, int, float]:
    """[C, T] float32 of audio stream 0 from 0 s on, its rate and the time of its first sample."""
    import av

    path = Path(path)
    if not path.is_file():
        raise AmplitudeInputError(f"{path}: file not found (was the output generated?)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AmplitudeInputError(f"{path}: no audio stream (MOVA's decoder fails on it too)")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or stream.rate)
            resampler = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=rate)
            chunks: list[np.ndarray] = []
            first: float | None = None
            for frame in container.decode(stream):
                if first is None and frame.time is not None:
                    first = float(frame.time)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
    except AmplitudeInputError:
        raise
    except Exception as exc:
        raise AmplitudeInputError(f"{path}: cannot decode audio ({type(exc).__name__}: {exc})") from exc
    if not chunks:
        raise AmplitudeInputError(f"{path}: the audio stream decoded to no samples")
    data = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    start = first or 0.0
    if start < 0:  # samples played before 0 s are outside the range MOVA asks for
        data = data[:, int(round(-start * rate)) :]
        start = 0.0
    if data.shape[1] == 0:
        raise AmplitudeInputError(f"{path}: the audio stream has no samples after 0 s")
    return data, rate, start


def mova_waveform(path: Path) -> np.ndarray:
    """extract_audio_from_video(path, target_sr=48000): 48 kHz, start padded, channel mean, float32."""
    from nava_eval.metrics.speech_audio import resample_sinc

    data, rate, start = decode_played_from_zero(path)
    if rate != SAMPLING_RATE:
        data = np.stack([resample_sinc(ch, rate, SAMPLING_RATE) for ch in data])
    if start > 0:
        pad = int(round(start * SAMPLING_RATE))
        data = np.concatenate([np.zeros((data.shape[0], pad), np.float32), data], axis=1)
    if data.shape[0] > 1:
        data = data.mean(axis=0, keepdims=True, dtype=np.float32)
    return data


def rms(waveform: np.ndarray) -> float:
    return float(np.sqrt(np.mean(waveform**2)))


def integrated_loudness(waveform: np.ndarray, sr: int = SAMPLING_RATE) -> float:
    import pyloudnorm as pyln

    return float(pyln.Meter(sr).integrated_loudness(waveform.flatten()))


class AudioAmplitude(BaseMetric):
    """RMS amplitude and LUFS loudness per clip, MOVA's decoding and resampling."""

    name = "audio_amplitude"
    protocol = PROTOCOL
    fields = FIELDS
    # MOVA decodes the mp4 itself: an imported <id>.mp4 + <id>.wav item is read from its mp4.
    requires = frozenset({"audio", "video"})
    description = (
        "MOVA's audio amplitude and loudness (no network): mp4 audio at 48 kHz, channel mean, "
        "RMS and pyloudnorm LUFS"
    )
    default_batch_size = 8
    smoke_networks = False  # no network: the same computation either way

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, Any] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        **options: Any,
    ) -> None:
        self.reject_options(options, "batch_size")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size)

    def _loaded(self) -> bool:
        return True  # nothing to load

    def _load(self, device: str) -> None:
        pass

    def score_one(self, path: Path) -> ScoreOutcome:
        try:
            wave = mova_waveform(path)
        except AmplitudeInputError as exc:
            return ScoreOutcome.failed(str(exc))
        amplitude = rms(wave)
        loudness = integrated_loudness(wave)
        seconds = wave.shape[-1] / SAMPLING_RATE
        if not math.isfinite(loudness):
            return ScoreOutcome.skipped(
                f"{path}: integrated loudness is {loudness} (silent: every 400 ms block is under the "
                "−70 LUFS gate); MOVA's mean would become −inf",
                amplitude_rms=amplitude,
                seconds=seconds,
            )
        return ScoreOutcome.ok(amplitude_rms=amplitude, loudness_lufs=loudness, seconds=seconds)

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        # Each clip is its own computation (no network to batch); results are in item order.
        return [self.score_one(Path(item.output)) for item in items]
