"""Hann-windowed sinc resampling with the semantics of `torchaudio.functional.resample` (its defaults).

The release turns the vocoder's 48 kHz waveform into 16 kHz with torchaudio's default resampler:
a polyphase filter bank of Hann-windowed sincs (6 zero crossings, roll-off 0.99), applied as one
strided conv1d. It is written here from that definition so no torchaudio build (tied to one torch
version) is needed; a conv1d also runs under autocast exactly where the release's did.
"""

from __future__ import annotations

import math

import torch

LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99


def sinc_resample_kernel(
    orig_freq: int, new_freq: int, dtype: torch.dtype = torch.float32, device: torch.device | None = None
) -> tuple[torch.Tensor, int]:
    """The filter bank [new, 1, 2·width + orig] (rates divided by their gcd) and its half width."""
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    # The cut-off sits below the lower Nyquist frequency by the roll-off factor.
    base = min(orig, new) * ROLLOFF
    width = math.ceil(LOWPASS_FILTER_WIDTH * orig / base)
    # Row j is the output phase j/new; column k the input offset (k − width)/orig.
    offsets = torch.arange(-width, width + orig, dtype=dtype, device=device)[None, None] / orig
    phases = torch.arange(0, -new, -1, dtype=dtype, device=device)[:, None, None] / new
    t = ((phases + offsets) * base).clamp(-LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH)
    window = torch.cos(t * math.pi / LOWPASS_FILTER_WIDTH / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t)
    return sinc * window * (base / orig), width


def sinc_resample(waveform: torch.Tensor, orig_freq: int, new_freq: int) -> torch.Tensor:
    """Resample along the last axis; output length ceil(new · N / orig), as torchaudio's default."""
    if int(orig_freq) == int(new_freq):
        return waveform
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    kernel, width = sinc_resample_kernel(orig_freq, new_freq, waveform.dtype, waveform.device)
    shape = waveform.shape
    flat = waveform.reshape(-1, shape[-1])
    length = flat.shape[-1]
    padded = torch.nn.functional.pad(flat, (width, width + orig))
    out = torch.nn.functional.conv1d(padded[:, None], kernel, stride=orig)  # [B, new, frames]
    out = out.transpose(1, 2).reshape(flat.shape[0], -1)
    target = math.ceil(new * length / orig)
    return out[..., :target].reshape(*shape[:-1], -1)
