"""The audio MOVA's `eval_audio_is_clap.py` feeds both IS and its CLAP score (numpy only, no torch).

`extract_audio_from_video_memory(video, target_sr=32000)` runs
`ffmpeg -i X -f wav -acodec pcm_s16le -ar 32000 -ac 2 pipe:1` and reads the bytes with
`librosa.load(BytesIO, sr=32000, mono=True)`: soundfile's float32 samples (int16 / 32768), the two
channels averaged in float32; no librosa resampling happens (the wav is already at 32 kHz), so
ffmpeg's own resampler (swresample defaults) sets the samples. We run the same ffmpeg command with
the project's ffmpeg (imageio-ffmpeg or $NAVA_EVAL_FFMPEG) and read its bytes with soundfile.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from nava_eval.metrics.speech_audio import AudioLoadError, EmptyAudioError, NoAudioStreamError

MOVA_SAMPLE_RATE = 32_000
PEAK_DB = -1.0


def decode_mova_32k(path: Path) -> np.ndarray:
    """float32 mono at 32 kHz exactly as MOVA extracts it (raises an AudioLoadError subclass)."""
    import soundfile as sf

    from nava_eval.metrics.media_decode import MediaDecodeError, run_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise AudioLoadError(f"{path}: file not found (was the output generated?)")
    args = ["-i", str(path), "-f", "wav", "-acodec", "pcm_s16le"]
    args += ["-ar", str(MOVA_SAMPLE_RATE), "-ac", "2", "pipe:1"]
    try:
        out = run_ffmpeg(args, capture=True)
    except MediaDecodeError as exc:
        if "does not contain any stream" in str(exc) or "matches no streams" in str(exc):
            raise NoAudioStreamError(f"{path}: no audio stream") from None
        raise AudioLoadError(f"{path}: ffmpeg could not extract its audio ({exc})") from None
    if len(out) <= 44:
        raise EmptyAudioError(f"{path}: the audio stream has no samples")
    try:
        data, _ = sf.read(io.BytesIO(out), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioLoadError(
            f"{path}: ffmpeg's wav could not be read ({type(exc).__name__}: {exc})"
        ) from None
    if data.shape[0] == 0:
        raise EmptyAudioError(f"{path}: the audio stream has no samples")
    return np.mean(np.ascontiguousarray(data.T), axis=0)


def peak_normalize_int16_numpy2(wave: np.ndarray) -> np.ndarray:
    """`clap_single_score`'s pyloudnorm peak normalisation to −1 dBFS and int16 round trip, under numpy ≥ 2.

    MOVA's requirements (`numpy>=1.24.0`) install numpy 2, whose promotion rules keep the float64
    gain `10^(−1/20) / max|x|`: the product, the clip and ×32767 are float64 before the int16 cast
    (the Verse-Bench toolkit's numpy 1.26 stays in float32: `clap_audio.peak_normalize_int16`).
    A silent clip (peak 0) gives NaN under pyloudnorm; its int16 cast is 0 on x86, so it stays silent.
    """
    wave = np.asarray(wave, dtype=np.float32)
    peak = np.max(np.abs(wave)) if wave.size else np.float32(0.0)
    if peak > 0.0:
        x = (np.power(10.0, PEAK_DB / 20.0) / np.float64(peak)) * wave.astype(np.float64)
    else:
        x = np.zeros(wave.shape, dtype=np.float64)
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
    return (pcm / 32767.0).astype(np.float32)
