"""The 48 kHz → 16 kHz resampler against torchaudio's default resampling (the release's)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from nava_eval.nava.resample import sinc_resample, sinc_resample_kernel

DATA = Path(__file__).parent / "data"


def test_matches_torchaudio_reference_vector() -> None:
    # Made outside the project with torchaudio 2.11.0's functional.resample (see the file's "source").
    ref = json.loads((DATA / "resample_48k_16k.json").read_text())
    n = torch.arange(300, dtype=torch.float64)
    x = (0.5 * torch.sin(0.37 * n) + 0.1 * torch.cos(2.9 * n)).float()[None]
    out = sinc_resample(x, ref["orig_freq"], ref["new_freq"])
    expected = torch.tensor(ref["output"], dtype=torch.float32)[None]
    assert out.shape == expected.shape == (1, 100)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_lengths_rates_and_passband() -> None:
    for orig, new, n in ((48000, 16000, 3001), (16000, 48000, 101), (44100, 16000, 4410)):
        assert sinc_resample(torch.zeros(2, n), orig, new).shape == (2, math.ceil(new * n / orig))
    t = torch.arange(48000, dtype=torch.float64) / 48000
    tone = torch.sin(2 * torch.pi * 440 * t).float()[None]
    out = sinc_resample(tone, 48000, 16000)[0]
    expected = torch.sin(2 * torch.pi * 440 * torch.arange(16000, dtype=torch.float64) / 16000).float()
    assert (out[100:-100] - expected[100:-100]).abs().max() < 2e-3
    # A tone above the 8 kHz Nyquist of the output is removed, not aliased.
    high = torch.sin(2 * torch.pi * 12000 * t).float()[None]
    assert sinc_resample(high, 48000, 16000)[0, 100:-100].abs().max() < 0.01
    kernel, width = sinc_resample_kernel(48000, 16000)
    assert kernel.shape == (1, 1, 2 * width + 3) and width == 19
    assert torch.equal(sinc_resample(tone, 16000, 16000), tone)
