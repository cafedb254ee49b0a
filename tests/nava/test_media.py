"""mp4/wav writing and reading round trips (PyAV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.nava.media import (
    frames_to_uint8,
    peak_normalize,
    read_audio,
    read_mp4,
    read_wav,
    round_to_bf16,
    write_mp4,
    write_wav,
)


def _chirp_stereo(seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    fade = np.minimum(1.0, t / 0.05)  # soft start: AAC's first frames are not what this test is about
    left = 0.5 * np.sin(2 * np.pi * (200 + 600 * t) * t)
    right = 0.3 * np.sin(2 * np.pi * (100 + 300 * t) * t)
    return (fade * np.stack([left, right])).astype(np.float32)


def _frames(n: int = 12, height: int = 64, width: int = 96) -> np.ndarray:
    frames = np.zeros((n, height, width, 3), np.uint8)
    for i in range(n):
        frames[i, :, : 8 * (i + 1)] = (200, 40, 90)  # a bar that grows frame by frame
    return frames


def test_peak_normalize() -> None:
    wav = np.array([[0.1, -0.5], [0.25, 0.0]], np.float32)
    out = peak_normalize(wav)
    assert np.isclose(np.abs(out).max(), 0.95)
    np.testing.assert_allclose(out, wav * (0.95 / 0.5), rtol=1e-6)
    assert np.all(peak_normalize(np.zeros((2, 4))) == 0)


def test_frames_to_uint8_truncates_like_official() -> None:
    video = torch.tensor([-1.0, 0.0, 1.0, 2.0]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    out = frames_to_uint8(video)
    assert out.shape == (1, 1, 4, 3)
    assert out[0, 0, :, 0].tolist() == [0, 127, 255, 255]  # 127.5 truncates to 127


def test_wav_round_trip(tmp_path: Path) -> None:
    wav = _chirp_stereo()
    path = write_wav(tmp_path / "a.wav", wav)
    back, rate = read_wav(path)
    assert rate == 16000 and back.shape == wav.shape
    np.testing.assert_allclose(back, peak_normalize(wav), atol=1e-4)  # 16-bit PCM quantisation


def test_mp4_round_trip(tmp_path: Path) -> None:
    frames, wav = _frames(), _chirp_stereo(0.5)
    path = write_mp4(tmp_path / "clip.mp4", frames, fps=24, audio=wav, audio_timing="exact")
    media = read_mp4(path)
    assert media.frames.shape == frames.shape and media.fps == 24.0
    # crf 18 is visually lossless on flat colour blocks, not bit-exact.
    assert np.abs(media.frames.astype(int) - frames.astype(int)).mean() < 2.0
    assert media.sample_rate == 16000 and media.audio is not None and media.audio.shape[0] == 2
    ref = peak_normalize(wav)
    n = ref.shape[1]
    assert media.audio.shape[1] >= n  # AAC pads the last frame
    # No start offset (the priming packet is trimmed) and the waveform survives AAC closely.
    assert np.abs(media.audio[:, 2048:n] - ref[:, 2048:n]).max() < 0.05


def test_mp4_rejects_float_or_odd_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        write_mp4(tmp_path / "x.mp4", np.zeros((2, 64, 64, 3), np.float32), fps=24)
    with pytest.raises(ValueError, match="even"):
        write_mp4(tmp_path / "x.mp4", np.zeros((2, 63, 64, 3), np.uint8), fps=24)


def test_read_audio_resamples_and_rejects_garbage(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", _chirp_stereo(), sample_rate=16000)
    wav, rate = read_audio(path, sample_rate=8000)
    assert rate == 8000 and wav.shape[0] == 2 and abs(wav.shape[1] - 8000) <= 64
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="unreadable audio"):
        read_audio(bad)


def _tone_burst(rate: int = 16000, start: int = 8000) -> np.ndarray:
    wav = np.zeros((2, 2 * rate), np.float32)
    t = np.arange(1600) / rate
    wav[:, start : start + 1600] = 0.5 * np.sin(2 * np.pi * 1000 * t)
    return wav


def _onset(signal: np.ndarray) -> int:
    return int(np.argmax(np.abs(signal) > 0.1))


@pytest.mark.parametrize(("timing", "lag"), [("official", 1024), ("exact", 0)])
def test_audio_timing_in_the_mp4(tmp_path: Path, timing: str, lag: int) -> None:
    """official: the AAC priming (1024 samples) stays in front, as torchvision.io.write_video leaves it."""
    from nava_eval.metrics.media_decode import extract_audio_16k, read_wav_int16

    wav = _tone_burst()
    path = write_mp4(tmp_path / f"{timing}.mp4", _frames(48, 64, 64), fps=24, audio=wav, audio_timing=timing)
    decoded = read_mp4(path).audio
    assert decoded is not None
    # Onset of a burst placed at sample 8000, as PyAV and as the Sync-C/D ffmpeg extraction decode it.
    assert abs(_onset(decoded[0]) - 8000 - lag) <= 2
    extracted = read_wav_int16(extract_audio_16k(path, tmp_path / f"{timing}.wav")).astype(np.float32) / 32768
    assert abs(_onset(extracted.reshape(-1)) - 8000 - lag) <= 2
    with pytest.raises(ValueError, match="audio_timing"):
        write_mp4(tmp_path / "x.mp4", _frames(), fps=24, audio=wav, audio_timing="late")


def test_bf16_peak_normalisation_matches_torch_arithmetic() -> None:
    """The release normalises its bf16 waveform in bf16: `x * (0.95 / x.abs().max())`, clamped."""
    gen = torch.Generator().manual_seed(0)
    for scale in (0.3, 0.99, 1e-3):
        x = (torch.randn(2, 4001, generator=gen) * scale).clamp(-0.99, 0.99).bfloat16()
        peak = x.abs().max().clamp(min=1e-12)
        expected = (x * (0.95 / peak)).clamp(-1.0, 1.0).float().numpy()
        out = peak_normalize(x.float().numpy(), arithmetic="bf16")
        np.testing.assert_array_equal(out, expected)
    # fp32 arithmetic is the plain formula and differs from the bf16 one.
    plain = peak_normalize(x.float().numpy())
    assert np.isclose(np.abs(plain).max(), 0.95) and not np.array_equal(plain, out)
    assert np.array_equal(
        round_to_bf16(np.array([1.0, 1.00390625, 1.01171875], np.float32)), [1.0, 1.0, 1.015625]
    )
