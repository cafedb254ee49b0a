"""The test wavs behind the audiobox and CLAP reference vectors, rebuilt at test time.

The reference scripts (data/reference_scripts/make_audiobox.py, make_clap.py, make_clap_long.py)
wrote these signals as PCM16 before feeding them to the official code; the same numpy code writes
the same bytes here (a test compares their sha256 with the ones the scripts recorded), so no audio
file has to live in the repository.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: name → (sample rate, seconds, f0, channels), in the order the script drew its noise (seed 7).
AUDIOBOX_FILES = {
    "long_4k_mono.wav": (4000, 11.3, 180.0, 1),
    "short_22k_stereo.wav": (22050, 1.5, 240.0, 2),
    "exact20s_1k_mono.wav": (1000, 20.0, 90.0, 1),
}
#: name → (sample rate, seconds, kind, channels), in the order the script drew its noise (seed 5).
CLAP_FILES = {
    "tone_16k_3s.wav": (16000, 3.0, "tone", 1),
    "bursts_24k_2s_stereo.wav": (24000, 2.0, "noise", 2),
    "tone_8k_10s.wav": (8000, 10.0, "tone", 1),
}
CLAP_LONG_FILE = "long_4k_12s.wav"
#: make_clap_pins.py's clips (seed 9): 44.1/22.05/11.025 kHz lengths where librosa's ceil(n · (48000/sr))
#: is one sample more than the exact ceil, at whole divisors of 10 s (one repeat fewer), plus a stereo one.
CLAP_PIN_FILES = {
    "tone_44k_2p5s.wav": (44100, 2.5, "tone", 1),
    "bursts_22k_5s_stereo.wav": (22050, 5.0, "noise", 2),
    "tone_11k_1s.wav": (11025, 1.0, "tone", 1),
    "bursts_44k_3p7s.wav": (44100, 3.7, "noise", 1),
}
#: make_kl.py's clips (seed 11), at 32 kHz after librosa: under one 10 s PaSST window (padded), under
#: 15 % of a window (fed unpadded), three windows with the last padded, exactly one window, silence,
#: and 0.1 s (shorter than one PaSST patch: the toolkit fails on it); 44.1/22.05 kHz and stereo among them.
KL_FILES = {
    "bursts_44k_3p7s_stereo.wav": (44100, 3.7, "noise", 2),
    "tone_22k_16p5s.wav": (22050, 16.5, "tone", 1),
    "chirp_44k_1p2s.wav": (44100, 1.2, "chirp", 1),
    "silence_16k_4s.wav": (16000, 4.0, "silence", 1),
    "noise_16k_10s.wav": (16000, 10.0, "noise", 1),
    "tone_48k_5s_stereo.wav": (48000, 5.0, "tone", 2),
    "tiny_44k_0p1s.wav": (44100, 0.1, "tone", 1),
}


def _write(path: Path, data: np.ndarray, sr: int) -> None:
    import soundfile as sf

    sf.write(path, data, sr, subtype="PCM_16")


def write_audiobox_wavs(folder: Path) -> Path:
    """make_audiobox.py's voices: harmonics with vibrato and a tremolo, plus seeded noise."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for name, (sr, secs, f0, ch) in AUDIOBOX_FILES.items():
        t = np.arange(int(sr * secs)) / sr
        sig = sum(
            np.sin(2 * np.pi * f0 * k * t * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))) / k for k in range(1, 6)
        )
        sig = sig * (0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t) ** 2) + 0.05 * rng.standard_normal(t.size)
        sig = 0.7 * sig / np.abs(sig).max()
        _write(folder / name, np.stack([sig * (1 - 0.3 * c) for c in range(ch)], 1), sr)
    return folder


def write_clap_wavs(folder: Path) -> Path:
    """make_clap.py's tones and noise bursts, and make_clap_long.py's 12.5 s clip."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for name, (sr, secs, kind, ch) in CLAP_FILES.items():
        t = np.arange(int(sr * secs)) / sr
        if kind == "tone":
            s = np.sin(2 * np.pi * 440 * t) * np.exp(-t) + 0.3 * np.sin(2 * np.pi * 1200 * t)
        else:
            s = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 1.5 * t) > 0.3)
        s = 0.4 * s / np.abs(s).max()
        _write(folder / name, np.stack([s * (1 - 0.4 * c) for c in range(ch)], 1) if ch > 1 else s, sr)
    sr = 4000
    t = np.arange(int(sr * 12.5)) / sr
    s = np.sin(2 * np.pi * 300 * t) * (0.3 + 0.7 * (t > 6)) + 0.2 * np.sin(2 * np.pi * 1700 * t) * (t < 3)
    _write(folder / CLAP_LONG_FILE, 0.5 * s / np.abs(s).max(), sr)
    return folder


def write_clap_pin_wavs(folder: Path) -> Path:
    """make_clap_pins.py's clips: the same tones and noise bursts as make_clap.py, other rates (seed 9)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(9)
    for name, (sr, secs, kind, ch) in CLAP_PIN_FILES.items():
        t = np.arange(int(sr * secs)) / sr
        if kind == "tone":
            s = np.sin(2 * np.pi * 440 * t) * np.exp(-t) + 0.3 * np.sin(2 * np.pi * 1200 * t)
        else:
            s = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 1.5 * t) > 0.3)
        s = 0.4 * s / np.abs(s).max()
        _write(folder / name, np.stack([s * (1 - 0.4 * c) for c in range(ch)], 1) if ch > 1 else s, sr)
    return folder


def write_kl_wavs(folder: Path) -> Path:
    """make_kl.py's clips: decaying tones with a tremolo, a chirp, noise bursts and silence (seed 11)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    for name, (sr, secs, kind, ch) in KL_FILES.items():
        t = np.arange(int(sr * secs)) / sr
        if kind == "tone":
            s = np.sin(2 * np.pi * 330 * t) * np.exp(-t / 4) + 0.3 * np.sin(2 * np.pi * 2500 * t) * (
                t % 2 < 1
            )
        elif kind == "chirp":
            s = np.sin(2 * np.pi * (200 + 3000 * t) * t)
        elif kind == "noise":
            s = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 0.7 * t) > -0.2)
        else:
            s = np.zeros(t.size)
        peak = np.abs(s).max()
        s = 0.5 * s / peak if peak > 0 else s
        _write(folder / name, np.stack([s * (1 - 0.5 * c) for c in range(ch)], 1) if ch > 1 else s, sr)
    return folder
