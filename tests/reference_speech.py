"""The speech clips behind the DNSMOS (and loudness) reference vectors, rebuilt at test time.

Real speech comes from `espeak-ng` (Debian package; the CI script installs it): one sentence at
22.05 kHz, the only signal that is not made here with numpy. Everything else is derived from it with
seeded numpy and soundfile, so the reference script (data/reference_scripts/make_dnsmos.py, run in a
venv with MOVA's own pins) and the tests write the same bytes; the tests compare their sha256 with
the ones the script recorded and fail naming the file (and espeak-ng's version) when they differ.

No third-party audio code runs here: this file is imported by path from the reference venv too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

SENTENCE = (
    "The quick brown fox jumps over the lazy dog. "
    "Speech quality is measured without a reference, one window at a time."
)
ESPEAK_ARGS = ("-v", "en-us", "-s", "150")

#: name → how it is made (see write_speech_files).
SPEECH_FILES = (
    "speech_22k.wav",  # espeak-ng as is: 22.05 kHz mono (non-integer ratio to 16 kHz), < one 9.01 s window
    "noisy_22k.wav",  # + white noise at about 5 dB SNR (seed 11)
    "speech_16k.wav",  # 16 kHz (no resampling), three sentences with pauses: > one window, two hops
    "noisy_long_44k_stereo.wav",  # 44.1 kHz stereo, 19 s: left clean, right noisier (seed 12)
    "silence_16k.wav",  # 3 s of digital silence
    "speech_44k_stereo.mp4",  # the 44.1 kHz stereo clip muxed as FLAC in mp4 (MOVA's mp4 route)
)


def espeak(out: Path, text: str = SENTENCE) -> Path:
    subprocess.run(["espeak-ng", *ESPEAK_ARGS, "-w", str(out), text], check=True, capture_output=True)
    return out


def espeak_version() -> str:
    try:
        return subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()
    except FileNotFoundError:
        return "espeak-ng not installed (apt-get install espeak-ng)"


def _write(path: Path, data: np.ndarray, sr: int) -> None:
    import soundfile as sf

    sf.write(path, np.clip(data, -1.0, 32767 / 32768), sr, subtype="PCM_16")


def write_speech_files(folder: Path, ffmpeg: str | None = None) -> Path:
    """The six clips of SPEECH_FILES in `folder`; `ffmpeg` is the binary that muxes the mp4."""
    import soundfile as sf
    from scipy.signal import resample_poly

    folder.mkdir(parents=True, exist_ok=True)
    raw = espeak(folder / "speech_22k.wav")
    speech, sr = sf.read(raw, dtype="float64")
    assert sr == 22050, f"espeak-ng wrote {sr} Hz, expected 22050"
    rng = np.random.default_rng(11)
    noise = rng.standard_normal(speech.size)
    noise *= np.sqrt(np.mean(speech**2) / np.mean(noise**2) / 10 ** (5 / 10))
    _write(folder / "noisy_22k.wav", speech + noise, sr)

    at16 = resample_poly(speech, 160, 441)
    pause = np.zeros(8000)
    _write(folder / "speech_16k.wav", np.concatenate([at16, pause, 0.7 * at16, pause, at16]), 16000)

    at44 = resample_poly(speech, 2, 1)
    pause = np.zeros(22050)
    left = np.concatenate([at44, pause, at44, pause, at44])[: 19 * 44100]
    left = np.pad(left, (0, 19 * 44100 - left.size))
    rng = np.random.default_rng(12)
    right = 0.6 * left + 0.05 * rng.standard_normal(left.size)
    _write(folder / "noisy_long_44k_stereo.wav", np.stack([left, right], 1), 44100)

    _write(folder / "silence_16k.wav", np.zeros(3 * 16000), 16000)

    if ffmpeg is not None:
        # FLAC in mp4 is lossless, so every ffmpeg decodes the same samples; -bitexact keeps the
        # muxer's version string out of the file.
        subprocess.run(
            [
                ffmpeg, "-y", "-loglevel", "error",
                "-f", "lavfi", "-i", "color=c=gray:s=64x48:r=25",
                "-i", str(folder / "noisy_long_44k_stereo.wav"),
                "-shortest", "-map", "0:v", "-map", "1:a",
                "-c:v", "mpeg4", "-c:a", "flac", "-strict", "-2",
                "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
                str(folder / "speech_44k_stereo.mp4"),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
    return folder


#: make_audio_amplitude.py's mp4s (FLAC audio: lossless, so every ffmpeg decodes the same samples).
AMPLITUDE_FILES = (
    "speech_22k_mono.mp4",  # 22.05 kHz mono (non-integer ratio to 48 kHz)
    "noisy_long_44k_stereo.mp4",  # 44.1 kHz stereo, 19 s
    "offset_16k.mp4",  # audio starting 0.5 s after the video (positive pts: MOVA pads silence)
    "quiet_48k.mp4",  # 48 kHz (no resampling), −30 dB
    "silence_16k.mp4",  # digital silence: LUFS −inf
)


def write_amplitude_files(folder: Path, ffmpeg: str) -> Path:
    """The AMPLITUDE_FILES mp4s, muxed from write_speech_files' wavs (written first into `folder`)."""
    import soundfile as sf

    write_speech_files(folder, ffmpeg=None)
    speech, _ = sf.read(folder / "speech_16k.wav", dtype="float64")
    _write(folder / "quiet_48k.wav", np.repeat(speech, 3) * 10 ** (-30 / 20), 48000)

    def mux(wav: str, out: str, *pre: str) -> None:
        subprocess.run(
            [
                ffmpeg, "-y", "-loglevel", "error",
                "-f", "lavfi", "-i", "color=c=gray:s=64x48:r=25:d=25",
                *pre, "-i", str(folder / wav),
                "-shortest", "-map", "0:v", "-map", "1:a",
                "-c:v", "mpeg4", "-c:a", "flac", "-strict", "-2",
                "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
                str(folder / out),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip

    mux("speech_22k.wav", "speech_22k_mono.mp4")
    mux("noisy_long_44k_stereo.wav", "noisy_long_44k_stereo.mp4")
    mux("speech_16k.wav", "offset_16k.mp4", "-itsoffset", "0.5")
    mux("quiet_48k.wav", "quiet_48k.mp4")
    mux("silence_16k.wav", "silence_16k.mp4")
    return folder
