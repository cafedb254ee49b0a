"""Audio decoding (soundfile / PyAV, no ffmpeg binary) and the two official resamplers."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nava_eval.metrics.speech_audio import AudioLoadError, load_audio, resample_fft


def _write_mp4(path: Path, left: np.ndarray, right: np.ndarray, sr: int) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=sr, layout="stereo")
        stream.time_base = Fraction(1, sr)
        planar = np.stack([left, right]).astype(np.float32)
        pts = 0
        for start in range(0, planar.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planar[:, start : start + 1024]), format="fltp", layout="stereo"
            )
            frame.sample_rate = sr
            frame.pts = pts
            pts += frame.samples
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_mp4_stereo_decodes_channel_by_channel(tmp_path: Path) -> None:
    sr = 24_000
    t = np.arange(sr) / sr
    left, right = 0.3 * np.sin(2 * np.pi * 300 * t), np.zeros_like(t)
    path = tmp_path / "clip.mp4"
    _write_mp4(path, left, right, sr)
    audio = load_audio(path)
    assert audio.sample_rate == sr and audio.samples.shape[0] == 2
    assert abs(audio.samples.shape[1] - sr) <= 2048  # AAC priming/padding
    first = audio.first_channel()
    assert 0.15 < np.sqrt(np.mean(first[2048:-2048] ** 2)) < 0.25  # the 0.3-amplitude sine (rms 0.21)
    assert np.abs(audio.samples[1]).max() < 0.02  # the silent channel stays apart


def test_wav_is_float64_like_soundfile_and_fft_resample(tmp_path: Path) -> None:
    sr = 22_050
    wave = 0.5 * np.sin(2 * np.pi * 200 * np.arange(sr) / sr)
    sf.write(tmp_path / "a.wav", wave, sr, subtype="FLOAT")
    audio = load_audio(tmp_path / "a.wav")
    assert audio.samples.dtype == np.float64 and audio.samples.shape == (1, sr)
    out = resample_fft(audio.first_channel(), sr)
    assert out.shape == (16_000,)  # int(len * 16000 / sr), as the official script
    t16 = np.arange(16_000) / 16_000
    np.testing.assert_allclose(out, 0.5 * np.sin(2 * np.pi * 200 * t16), atol=1e-3)


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(AudioLoadError, match="absent.wav: file not found"):
        load_audio(tmp_path / "absent.wav")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(AudioLoadError, match="junk.mp4: cannot decode"):
        load_audio(tmp_path / "junk.mp4")
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(AudioLoadError, match="no samples"):
        load_audio(tmp_path / "empty.wav")
