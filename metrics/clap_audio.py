"""LAION-CLAP's audio input path as the Verse-Bench toolkit feeds it (`fd/clap_inferencer.py`), numpy/torch only.

1. `librosa.load(path, sr=48000, mono=True)`: float32 samples, channels averaged, resampled with
   soxr at "HQ" quality (librosa's default `soxr_hq`), length fixed to ceil(n × 48000 / sr);
2. `pyloudnorm.normalize.peak(audio, -1.0)`: gain 10^(−1/20) / max|x| (in float64);
3. int16 round trip: clip to ±1, ×32767 truncated toward zero, /32767 as float32;
4. `get_audio_features(..., 480000, data_truncating="fusion", data_filling="repeatpad")`: a clip of
   at most 10 s is repeated whole `int(480000 / n)` times and zero-padded to 480000 samples, its mel
   spectrogram stacked four times (`longer` False); a longer clip gives [the whole mel shrunk to
   1001 frames, three 1001-frame chunks from the front, middle and back thirds] (`longer` True);
5. mel: torchaudio `MelSpectrogram(48000, n_fft=1024, win_length=1024, hop_length=480, center,
   reflect padding, power 2, HTK mel scale without norm, 64 bins, 50–14000 Hz)` then
   `AmplitudeToDB(top_db=None)` (10·log10(max(x, 1e-10))), transposed to [frames, 64].

Known difference (docs/known-differences.md): the toolkit picks the three chunks of a clip longer
than 10 s with an unseeded `np.random.choice`, so its embedding of such a clip changes from run to
run; we draw them from a generator seeded per clip (recorded) so the value is reproducible.
A silent clip (peak 0) makes pyloudnorm divide by zero (NaN samples whose int16 cast is undefined);
we keep it silent instead.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.metrics.speech_audio import load_audio

SAMPLE_RATE = 48_000
MAX_SAMPLES = 480_000
N_FFT = 1024
HOP = 480
N_MELS = 64
F_MIN, F_MAX = 50.0, 14_000.0
PEAK_DB = -1.0


@dataclass(frozen=True)
class ClapInput:
    """One clip's model input: `mel_fusion` [4, frames, 64] and whether it is longer than 10 s."""

    mel_fusion: Any  # torch.Tensor
    longer: bool
    chunk_starts: tuple[int, int, int] | None = None  # the three chunk frames of a longer clip


def resample_soxr_hq(wave: np.ndarray, sr: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """librosa.resample(res_type="soxr_hq"): soxr HQ, then fix_length to ceil(n × target / sr)."""
    if sr == target:
        return wave.astype(np.float32, copy=False)
    import soxr

    out = soxr.resample(wave, sr, target, quality="HQ")
    # librosa: `ratio = float(target_sr) / orig_sr` first, then ceil(n * ratio). For 44.1, 22.05 and
    # 11.025 kHz that is often one sample more than the exact ceil(n * target / sr) (issue 22).
    n = int(math.ceil(wave.shape[-1] * (float(target) / sr)))
    if out.shape[-1] >= n:
        return np.ascontiguousarray(out[:n], dtype=np.float32)
    return np.pad(out, (0, n - out.shape[-1])).astype(np.float32)


def load_48k_mono(path: Path, reading: Any = None) -> np.ndarray:
    """librosa.load(path, sr=48000, mono=True): float32, channel mean, soxr HQ.

    `reading` (a `metrics.channels.ChannelReading`) takes another channel instead of the mean.
    """
    audio = load_audio(path)
    wave = audio.channel_mean() if reading is None else reading.select(audio).astype(np.float32)
    return resample_soxr_hq(wave, audio.sample_rate)


def peak_normalize_int16(wave: np.ndarray) -> np.ndarray:
    """pyloudnorm peak normalisation to −1 dBFS, then the toolkit's int16 round trip (float32).

    Under the toolkit's pinned numpy 1.26 the float64 gain `10^(−1/20) / max|x|` meets a float32
    array, and value-based casting keeps the product in float32 (the gain rounded to float32 first);
    the clip and ×32767 stay in float32 too. numpy ≥ 2 would compute them in float64, which moves
    samples by one int16 step (issue 22), so the float32 steps are written out here.
    """
    wave = np.asarray(wave, dtype=np.float32)
    peak = np.max(np.abs(wave)) if wave.size else np.float32(0.0)
    if peak > 0.0:
        gain = np.float32(np.power(10.0, PEAK_DB / 20.0) / np.float64(peak))
        x = wave * gain
    else:
        x = np.zeros(wave.shape, dtype=np.float32)  # the official division by zero gives NaN
    pcm = (np.clip(x, np.float32(-1.0), np.float32(1.0)) * np.float32(32767.0)).astype(np.int16)
    return (pcm / 32767.0).astype(np.float32)


@lru_cache(maxsize=4)
def _mel_filterbank(device: str = "cpu") -> Any:
    """torchaudio.functional.melscale_fbanks(513, 50, 14000, 64, 48000, norm=None, mel_scale="htk")."""
    import torch

    n_freqs = N_FFT // 2 + 1
    all_freqs = torch.linspace(0, SAMPLE_RATE // 2, n_freqs)

    def hz_to_mel(f: float) -> float:
        return 2595.0 * math.log10(1.0 + f / 700.0)

    m_pts = torch.linspace(hz_to_mel(F_MIN), hz_to_mel(F_MAX), N_MELS + 2)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.max(torch.zeros(1), torch.min(down, up)).to(device)


def log_mel(wave: Any) -> Any:
    """[T] float32 tensor → [frames, 64] dB mel, as the toolkit's `get_mel` (torchaudio)."""
    import torch

    window = torch.hann_window(N_FFT, device=wave.device)
    spec = torch.stft(
        wave,
        n_fft=N_FFT,
        hop_length=HOP,
        win_length=N_FFT,
        window=window,
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    power = spec.abs().pow(2.0)
    mel = torch.matmul(power.transpose(-1, -2), _mel_filterbank(str(wave.device))).transpose(-1, -2)
    db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
    return db.T


def clip_seed(seed: int, key: str) -> int:
    """The chunk-drawing seed of one clip (stable across runs and machines)."""
    return int(zlib.crc32(f"{seed}:{key}".encode()))


def fusion_input(
    wave: np.ndarray, seed: int | None = None, chunk_starts: tuple[int, int, int] | None = None
) -> ClapInput:
    """`get_audio_features` in fusion/repeatpad mode for one 48 kHz clip (already int16-rounded).

    A clip longer than 10 s takes its three chunks from `chunk_starts` when given (tests), else draws
    one start uniformly from each third with a generator seeded by `seed`.
    """
    import torch

    audio = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    n = audio.shape[0]
    if n == 0:
        raise ValueError("empty audio: the toolkit cannot repeat-pad a clip of length 0")
    if n > MAX_SAMPLES:
        mel = log_mel(audio)
        chunk = MAX_SAMPLES // HOP + 1
        total = mel.shape[0]
        if chunk == total:  # the official corner case: just over 10 s → the whole mel, not "longer"
            return ClapInput(torch.stack([mel] * 4), False)
        ranges = np.array_split(np.arange(0, total - chunk + 1), 3)
        ranges = [r if len(r) else np.array([0]) for r in ranges]
        if chunk_starts is None:
            rng = np.random.default_rng(seed)
            chunk_starts = (
                int(rng.choice(ranges[0])),
                int(rng.choice(ranges[1])),
                int(rng.choice(ranges[2])),
            )
        starts = chunk_starts
        from torchvision.transforms import Resize

        shrunk = Resize(size=[chunk, N_MELS])(mel[None])[0]
        parts = [shrunk] + [mel[s : s + chunk] for s in starts]
        return ClapInput(torch.stack(parts), True, starts)
    if n < MAX_SAMPLES:
        audio = audio.repeat(MAX_SAMPLES // n)
        audio = torch.nn.functional.pad(audio, (0, MAX_SAMPLES - audio.shape[0]))
    mel = log_mel(audio)
    return ClapInput(torch.stack([mel] * 4), False)
