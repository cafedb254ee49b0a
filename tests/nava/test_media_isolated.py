"""IsolatedMediaWriter: every encode in a fresh process, so identical frames give identical bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from nava_eval.nava.media import IsolatedMediaWriter, read_mp4, read_wav


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_frames_same_bytes_whatever_was_encoded_before(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (9, 64, 96, 3), dtype=np.uint8)
    other = rng.integers(0, 255, (9, 64, 96, 3), dtype=np.uint8)
    audio = (rng.standard_normal((2, 16000)) * 0.1).astype(np.float32)
    writer = IsolatedMediaWriter()
    first = writer.write(tmp_path / "a.mp4", torch.from_numpy(frames), torch.from_numpy(audio), fps=8)
    # Heavy torch work and an unrelated encode in between changed libx264's output in-process.
    x = torch.randn(512, 512)
    for _ in range(3):
        x = x @ x / 512
    writer.write(tmp_path / "other.mp4", other, audio, fps=8)
    second = writer.write(tmp_path / "b.mp4", frames, audio, fps=8)
    assert _sha(first) == _sha(second)
    decoded = read_mp4(second)
    assert decoded.frames.shape == frames.shape and decoded.audio.shape[0] == 2
    assert not list(tmp_path.glob("*.npz"))  # the temp arrays are removed


def test_wav_without_frames_and_clear_error(tmp_path):
    audio = np.sin(np.linspace(0, 200, 16000, dtype=np.float32))[None].repeat(2, 0)
    path = IsolatedMediaWriter().write(tmp_path / "x.wav", None, audio)
    wav, rate = read_wav(path)
    assert rate == 16000 and wav.shape == (2, 16000)
    assert abs(float(np.abs(wav).max()) - 0.95) < 1e-3  # peak-normalised, 16-bit rounding
    odd_height = np.zeros((3, 11, 10, 3), dtype=np.uint8)  # yuv420p needs even sizes
    with pytest.raises(
        RuntimeError, match=r"bad\.mp4 failed in the encoder process(.|\n)*even height and width"
    ):
        IsolatedMediaWriter().write(tmp_path / "bad.mp4", odd_height, audio)
