"""The test wavs behind MOVA's IS and CLAP-score reference vectors, rebuilt at test time.

make_audio_is.py and make_clap_mova.py (tests/metrics/data/reference_scripts/) fed these clips to
MOVA's own code; the same numpy code writes the same PCM16 bytes here, and the tests compare their
sha256 with the ones the scripts recorded, so no audio file lives in the repository. They stress
the protocol's 32 kHz path: 44.1 and 22.05 kHz sources (non-integer ratios to 32 kHz), stereo, a
clip under one window (IS: 10 s; CLAP: 480 000 samples = 15 s at 32 kHz), silence, and a clip longer
than both windows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

#: name → (sample rate, seconds, kind, channels), in the order the noise is drawn (seed 22).
MOVA_AUDIO_FILES = {
    "tone_44k_3s.wav": (44100, 3.0, "tone", 1),
    "bursts_22k_7s_stereo.wav": (22050, 7.0, "noise", 2),
    "silence_48k_4s.wav": (48000, 4.0, "silence", 1),
    "chirp_16k_0p5s.wav": (16000, 0.5, "chirp", 1),
    "mix_44k_16p2s_stereo.wav": (44100, 16.2, "mix", 2),
}


def _signal(kind: str, sr: int, secs: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(round(sr * secs))) / sr
    if kind == "silence":
        return np.zeros_like(t)
    if kind == "tone":
        s = np.sin(2 * np.pi * 440 * t) * np.exp(-0.5 * t) + 0.3 * np.sin(2 * np.pi * 2300 * t)
    elif kind == "noise":
        s = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 1.5 * t) > 0.2)
    elif kind == "chirp":
        s = np.sin(2 * np.pi * (200 + 3000 * t) * t)
    else:
        s = (
            np.sin(2 * np.pi * 330 * t) * (0.3 + 0.7 * (t > 8))
            + 0.4 * rng.standard_normal(t.size) * (t < 5)
            + 0.3 * np.sin(2 * np.pi * 5000 * t) * (t > 12)
        )
    return 0.6 * s / np.abs(s).max()


def write_mova_audio_wavs(folder: Path) -> Path:
    """Write MOVA_AUDIO_FILES as PCM16 wavs (the second channel of a stereo clip is 0.5× and delayed)."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(22)
    for name, (sr, secs, kind, ch) in MOVA_AUDIO_FILES.items():
        s = _signal(kind, sr, secs, rng)
        data = np.stack([s, 0.5 * np.roll(s, 37)], 1) if ch == 2 else s
        sf.write(folder / name, data, sr, subtype="PCM_16")
    return folder


def sha256s(folder: Path) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in MOVA_AUDIO_FILES}
