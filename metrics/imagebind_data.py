"""IB-Score inputs as MOVA's evaluation toolkit builds them (`av_bench/data/media_dataset.py`).

Video (`video_transform` + `encode_video_with_imagebind`): frames through libavfilter's `fps=0.5`
(what torio's StreamingMediaDecoder, the toolkit's decoder, runs), the first ⌊0.5·duration⌋ kept and
short videos padded with their last frame; each frame resized so its short side is 224 (bicubic,
antialiased, on uint8), scaled to [0, 1], CLIP-normalised; three 224×224 crops along the long side
(ImageBind's SpatialCrop); every pair of consecutive frames is one 2-frame clip per crop.

Audio (`imagebind_audio_transform`): every channel of the track as float, resampled to 16 kHz with
torchaudio's Hann-windowed sinc (width 6, roll-off 0.99); three 2-s clips starting at 0, 1/3 and
2/3 of (track length − 2 s) (pytorchvideo's ConstantClipsPerVideoSampler); per clip the mean of the clip is
subtracted in place (so overlapping clips see each other's subtraction, as the toolkit's view
slicing does), Kaldi fbank of its first channel (128 mel bins, 25/10 ms, Hann, HTK mel, no dither),
cut or zero-padded to 204 frames, normalised with mean −4.268 and std 9.138.

The toolkit drops an item (it never enters the mean) when its audio, mixed to mono at 16 kHz, is
shorter than the clip duration: its dataset also builds the Synchformer input and raises
"Audio is too short". `audio_too_short` reproduces that rule.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from nava_eval.metrics.shared_media import DecodedAudio, MediaCache, MediaDecodeProblem

IB_FPS = Fraction(1, 2)
IB_SIZE = 224
IB_SAMPLE_RATE = 16000
CLIP_SECONDS = 2
CLIPS_PER_VIDEO = 3
MEL_BINS = 128
MEL_FRAMES = 204
MEL_MEAN, MEL_STD = -4.268, 9.138
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class IBInputError(MediaDecodeProblem):
    """An item the toolkit cannot turn into IB inputs (the message says why)."""


# ------------------------------------------------------------------------------------------
# Decoding


def decode_audio(path: Path) -> DecodedAudio:
    """Every channel of the first audio stream as float32 in [-1, 1] (torchaudio.load, normalize=True)."""
    return MediaCache(max_bytes=0).audio(path)


def decode_frames_fps(path: Path, fps: Fraction, limit: int) -> np.ndarray:
    """Up to `limit` RGB frames [T, H, W, 3] through libavfilter's `fps` filter (torio's decoder path)."""
    return MediaCache(max_bytes=0).frames(path, fps, limit)


# ------------------------------------------------------------------------------------------
# Vision


def vision_frame_count(duration: float) -> int:
    """⌊0.5 · duration⌋: the toolkit's `int(_IMAGEBIND_FPS * duration_sec)`."""
    return int(float(IB_FPS) * duration)


def pad_frames(frames: np.ndarray, count: int) -> np.ndarray:
    """The first `count` frames; a shorter video repeats its last frame (as the toolkit does)."""
    if len(frames) < count:
        frames = np.concatenate([frames, np.repeat(frames[-1:], count - len(frames), axis=0)])
    return frames[:count]


def vision_clips(frames: np.ndarray) -> torch.Tensor:
    """[T, H, W, 3] uint8 → [3·max(T−1, 1), 3, 2, 224, 224]: three crops of each consecutive frame pair."""
    from torchvision.transforms import v2

    if len(frames) == 0:
        raise IBInputError("no vision frame: the clip duration is under 2 s (⌊0.5·duration⌋ = 0)")
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # uint8 [T, 3, H, W]
    x = v2.Resize(IB_SIZE, interpolation=v2.InterpolationMode.BICUBIC, antialias=True)(x)
    x = v2.Normalize(CLIP_MEAN, CLIP_STD)(v2.ToDtype(torch.float32, scale=True)(x))
    crops = torch.stack(three_crops(x))  # [3, T, 3, 224, 224]
    if crops.shape[1] == 1:
        crops = torch.cat([crops, crops], dim=1)
    pairs = [crops[:, i : i + 2] for i in range(crops.shape[1] - 1)]  # each [3, 2, C, H, W]
    return torch.cat(pairs, dim=0).permute(0, 2, 1, 3, 4).contiguous()  # [n, C, 2, H, W]


def three_crops(x: torch.Tensor, size: int = IB_SIZE) -> list[torch.Tensor]:
    """ImageBind's SpatialCrop(224, 3): start, centre, end along the longer side (centre on the other)."""
    h, w = x.shape[-2:]
    y0, x0 = math.ceil((h - size) / 2), math.ceil((w - size) / 2)
    out = []
    for k in range(3):
        top, left = y0, x0
        if h > w:
            top = (0, y0, h - size)[k]
        else:
            left = (0, x0, w - size)[k]
        out.append(x[..., top : top + size, left : left + size])
    return out


# ------------------------------------------------------------------------------------------
# Audio


def resample_sinc(
    wave: torch.Tensor, orig: int, new: int, width_zeros: int = 6, rolloff: float = 0.99
) -> torch.Tensor:
    """Band-limited resampling along the last axis with a Hann-windowed sinc (torchaudio's Resample).

    The filter bank is computed in float64 and applied in float32, with both rates reduced by their
    gcd; the output has ⌈n · new / orig⌉ samples.
    """
    if orig == new:
        return wave
    g = math.gcd(orig, new)
    orig_g, new_g = orig // g, new // g
    cutoff = min(orig_g, new_g) * rolloff
    half = math.ceil(width_zeros * orig_g / cutoff)
    taps = torch.arange(-half, half + orig_g, dtype=torch.float64)[None, None] / orig_g
    # the output phase offsets are an integer range divided in float32, then promoted (as torchaudio does)
    phase = torch.arange(0, -new_g, -1)[:, None, None] / new_g
    t = ((phase + taps) * cutoff).clamp(-width_zeros, width_zeros)
    window = torch.cos(t * math.pi / width_zeros / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones((), dtype=t.dtype), torch.sin(t) / t)
    kernel = (sinc * (window * (cutoff / orig_g))).to(torch.float32)  # [new_g, 1, taps]
    shape = wave.shape
    flat = wave.reshape(-1, 1, shape[-1]).to(torch.float32)
    flat = torch.nn.functional.pad(flat, (half, half + orig_g))
    out = torch.nn.functional.conv1d(flat, kernel, stride=orig_g).transpose(1, 2).reshape(flat.shape[0], -1)
    length = math.ceil(new_g * shape[-1] / orig_g)
    return out[:, :length].reshape(*shape[:-1], -1)


def resampled_length(n: int, orig: int, new: int) -> int:
    if orig == new:
        return n
    g = math.gcd(orig, new)
    return math.ceil((new // g) * n / (orig // g))


def _mel_filters(n_fft: int, sample_rate: int, bins: int, low: float = 20.0) -> torch.Tensor:
    """Kaldi's triangular filters on the HTK mel scale (1127·ln(1 + f/700)), [bins, n_fft/2 + 1]."""

    def mel(f):
        return (
            1127.0 * torch.log(1.0 + f / 700.0) if torch.is_tensor(f) else 1127.0 * math.log(1.0 + f / 700.0)
        )

    high = 0.5 * sample_rate
    lo, hi = mel(low), mel(high)
    delta = (hi - lo) / (bins + 1)
    index = torch.arange(bins).unsqueeze(1)
    left, centre, right = lo + index * delta, lo + (index + 1.0) * delta, lo + (index + 2.0) * delta
    fft_mel = mel((sample_rate / n_fft) * torch.arange(n_fft / 2)).unsqueeze(0)
    up = (fft_mel - left) / (centre - left)
    down = (right - fft_mel) / (right - centre)
    filters = torch.clamp(torch.minimum(up, down), min=0.0)
    return torch.nn.functional.pad(filters, (0, 1))  # the Nyquist bin gets no weight


def kaldi_fbank(wave: torch.Tensor, sample_rate: int = IB_SAMPLE_RATE, bins: int = MEL_BINS) -> torch.Tensor:
    """Log-mel filterbank of `wave[0]` as Kaldi computes it with ImageBind's options → [frames, bins].

    25 ms frames every 10 ms fully inside the signal, per-frame DC removal, pre-emphasis 0.97, a
    symmetric Hann window, FFT of 512, power spectrum, log with float eps floor.
    """
    x = wave[0]
    size, shift = int(sample_rate * 0.025), int(sample_rate * 0.010)
    if x.numel() < size:
        raise IBInputError(
            f"an audio clip of {x.numel()} samples is shorter than one {size}-sample fbank frame"
        )
    n_fft = 1 << (size - 1).bit_length()
    frames = x.unfold(0, size, shift)
    frames = frames - frames.mean(dim=1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - 0.97 * previous
    frames = frames * torch.hann_window(size, periodic=False, dtype=frames.dtype)
    frames = torch.nn.functional.pad(frames, (0, n_fft - size))
    power = torch.fft.rfft(frames).abs().pow(2.0)
    energies = power @ _mel_filters(n_fft, sample_rate, bins).to(power.dtype).T
    return torch.clamp(energies, min=torch.finfo(torch.float32).eps).log()


def clip_bounds(
    duration: float, clip: int = CLIP_SECONDS, count: int = CLIPS_PER_VIDEO
) -> list[tuple[Fraction, Fraction]]:
    """pytorchvideo's ConstantClipsPerVideoSampler: clip k starts at k · (duration − clip) / count.

    pytorchvideo divides the last possible start by the clip count (not count − 1), so the last
    clip ends a third of the slack before the end of the track.
    """
    step = Fraction(max(duration - clip, 0)) / count
    return [(step * i, step * i + clip) for i in range(count)]


def audio_mels(audio: DecodedAudio) -> torch.Tensor:
    """The toolkit's ImageBind audio input for one item: [3, 1, 128, 204]."""
    wave = torch.from_numpy(audio.samples.copy())
    wave = resample_sinc(wave, audio.sample_rate, IB_SAMPLE_RATE)
    duration = wave.shape[1] / IB_SAMPLE_RATE
    mels = []
    for start, end in clip_bounds(duration):
        clip = wave[:, int(start * IB_SAMPLE_RATE) : int(end * IB_SAMPLE_RATE)]
        clip -= clip.mean()  # in place on the shared buffer, as the toolkit's view slicing does
        fbank = kaldi_fbank(clip).T  # [bins, frames]
        fbank = torch.nn.functional.pad(fbank, (0, max(0, MEL_FRAMES - fbank.shape[1])))[:, :MEL_FRAMES]
        mels.append(((fbank - MEL_MEAN) / MEL_STD).unsqueeze(0))
    return torch.stack(mels)


def audio_too_short(audio: DecodedAudio, duration: float) -> str | None:
    """Why the toolkit drops the item for its audio length (None: it keeps it)."""
    needed = int(IB_SAMPLE_RATE * duration)
    have = resampled_length(audio.samples.shape[1], audio.sample_rate, IB_SAMPLE_RATE)
    if have < needed:
        return (
            f"audio is {have / IB_SAMPLE_RATE:.2f} s, shorter than the clip duration {duration:g} s: "
            "MOVA's dataset raises 'Audio is too short' and drops the item from IB-Score"
        )
    return None
