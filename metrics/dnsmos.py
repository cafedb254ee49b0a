"""DNSMOS as MOVA's evaluation toolkit computes it (`dnsmos/mova-p808-v1`; P.835 heads `dnsmos/mova-p835-v1`).

MOVA's `evaluation/metrics/dnsmos/eval_dnsmos.py` (OpenMOSS/MOVA, commit 595a976), step by step:
1. an mp4 is decoded by `ffmpeg -i X -f wav -acodec pcm_s16le -ar 16000 -ac 1 tmp.wav` (we run the
   same command with the imageio-ffmpeg binary); `ComputeScore` reads the wav with soundfile
   (float64) and, when it is not at 16 kHz, resamples it with `librosa.resample` (soxr HQ, length
   ceil(n · 16000/sr)). A wav given directly takes that second path only (`wav_route="direct"`,
   the default); `wav_route="ffmpeg"` sends it through the ffmpeg command too. ComputeScore cannot
   read a stereo wav (onnxruntime rejects the 2-channel array): such a file fails, naming the option;
2. a clip shorter than 9.01 s is doubled (`np.append(audio, audio)`) until it is at least that long;
   `num_hops = int(floor(len/16000) − 9.01) + 1` windows of 144160 samples start every second (a
   window cut short at the end is dropped);
3. per window: P.808 = `model_v8.onnx` on the log-mel of the window minus its last 160 samples
   (librosa melspectrogram: n_fft 321, hop 160, 120 Slaney mels, power 2, centre zero padding;
   `(power_to_db(ref=max) + 40) / 40`, float32); P.835 = `sig_bak_ovr.onnx` on the raw window,
   mapped by the non-personalised polynomials (SIG, BAK, OVRL);
4. per clip: the mean over windows of each value. MOVA reports P.808 (`P808_MOS`) per category
   (mean over clips that decoded; a failed clip is left out), then the mean of the category means;
   Verse-Bench's DNSMOS is set3 only (benchmarks/versebench.py).

The networks are the real ONNX files (the `speechmos` package ships them byte-identical to MOVA's
bundle); there is no smaller network, so `smoke=True` runs them too and the protocol stays the real
one. Windows of all clips are batched through onnxruntime (each window is independent).
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.channels import ChannelReading

log = logging.getLogger(__name__)

PROTOCOL = "dnsmos/mova-p808-v1"
P835_PROTOCOL = "dnsmos/mova-p835-v1"
SAMPLING_RATE = 16_000
INPUT_LENGTH = 9.01
WINDOW = int(INPUT_LENGTH * SAMPLING_RATE)  # 144160
N_FFT, HOP, N_MELS = 321, 160, 120
P808_WEIGHT = "dnsmos-p808"
P835_WEIGHT = "dnsmos-p835"
WAV_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".aiff", ".aif"})
# eval_dnsmos.py get_polyfit_val, is_personalized_MOS=False (highest power first, np.poly1d).
POLY_SIG = (-0.08397278, 1.22083953, 0.0052439)
POLY_BAK = (-0.13166888, 1.60915514, -0.39604546)
POLY_OVR = (-0.06766283, 1.11546468, 0.04602535)

FIELDS = (
    MetricField(
        "dnsmos", "higher", "1–5", "DNSMOS P.808 MOS (MOVA's column): mean over 9.01 s windows, 1 s hop"
    ),
    MetricField(
        "dnsmos_sig",
        "higher",
        "1–5",
        "DNSMOS P.835 SIG (speech signal), same windows",
        protocol=P835_PROTOCOL,
    ),
    MetricField(
        "dnsmos_bak",
        "higher",
        "1–5",
        "DNSMOS P.835 BAK (background noise), same windows",
        protocol=P835_PROTOCOL,
    ),
    MetricField(
        "dnsmos_ovrl",
        "higher",
        "1–5",
        "DNSMOS P.835 OVRL (overall), same windows",
        protocol=P835_PROTOCOL,
    ),
)


class DnsmosInputError(ValueError):
    """A clip this protocol cannot score; the message says why and what to do."""


# --- librosa's feature pipeline, in numpy ---------------------------------------------------------
def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    f = np.asanyarray(f, dtype=np.float64)
    mels = f / f_sp
    log_t = f >= min_log_hz
    mels = np.where(log_t, min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep, mels)
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    freqs = f_sp * mels
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


def mel_filterbank(sr: int = SAMPLING_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels) (Slaney scale and norm, fmin 0, fmax sr/2), float32."""
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    return weights


_MEL = mel_filterbank()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float64)  # periodic hann


def p808_features(segments: np.ndarray) -> np.ndarray:
    """[B, 144160] float64 windows → [B, 900, 120] float32: ComputeScore.audio_melspec(seg[:-160])."""
    y = segments[:, :-HOP]
    padded = np.pad(y, ((0, 0), (N_FFT // 2, N_FFT // 2)))
    n_frames = 1 + (padded.shape[1] - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = padded[:, idx] * _WINDOW  # [B, T, n_fft]
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2  # [B, T, 161]
    mel = np.einsum("btf,mf->bmt", power, _MEL, optimize=True)
    amin, top_db = 1e-10, 80.0
    ref = mel.max(axis=(1, 2), keepdims=True)
    db = 10.0 * np.log10(np.maximum(amin, mel)) - 10.0 * np.log10(np.maximum(amin, ref))
    db = np.maximum(db, db.max(axis=(1, 2), keepdims=True) - top_db)
    return ((db + 40) / 40).transpose(0, 2, 1).astype(np.float32)


def resample_librosa_soxr_hq(wave: np.ndarray, sr: int, target: int = SAMPLING_RATE) -> np.ndarray:
    """librosa.resample(wave, orig_sr=sr, target_sr=target) (soxr HQ, fix_length to ceil(n · ratio))."""
    import soxr

    out = soxr.resample(wave, sr, target, quality="HQ")
    n = int(math.ceil(wave.shape[-1] * (float(target) / sr)))
    return out[:n] if out.shape[-1] >= n else np.pad(out, (0, n - out.shape[-1]))


def windows_of(audio: np.ndarray) -> tuple[np.ndarray, int]:
    """ComputeScore's windows of one 16 kHz clip ([n, 144160] float64) and its num_hops."""
    fs = SAMPLING_RATE
    while len(audio) < WINDOW:
        audio = np.append(audio, audio)
    num_hops = int(np.floor(len(audio) / fs) - INPUT_LENGTH) + 1
    segments = []
    for idx in range(num_hops):
        seg = audio[int(idx * fs) : int((idx + INPUT_LENGTH) * fs)]
        if len(seg) < WINDOW:
            continue
        segments.append(seg)
    return np.stack(segments).astype(np.float64, copy=False), num_hops


# --- decoding ------------------------------------------------------------------------------------
def decode_ffmpeg_16k(path: Path, reading: ChannelReading | None = None) -> np.ndarray:
    """MOVA's extract_audio_from_video_to_file + sf.read: 16 kHz mono pcm_s16le as float64.

    A `reading` other than the official downmix (`-ac 1`) keeps ffmpeg's channels and takes its one.
    """
    import soundfile as sf

    from nava_eval.metrics.media_decode import MediaDecodeError, run_ffmpeg

    variant = reading is not None and reading.variant != ""
    with tempfile.TemporaryDirectory(prefix="nava-dnsmos-") as tmp:
        wav = Path(tmp) / "audio.wav"
        cmd = ["-i", str(path), "-f", "wav", "-acodec", "pcm_s16le", "-ar", "16000"]
        cmd += [] if variant else ["-ac", "1"]
        try:
            run_ffmpeg([*cmd, str(wav), "-loglevel", "error", "-y"])
        except MediaDecodeError as exc:
            raise DnsmosInputError(f"{path}: ffmpeg could not extract its audio ({exc})") from exc
        data, sr = sf.read(str(wav), dtype="float64", always_2d=variant)
    if data.size == 0:
        raise DnsmosInputError(f"{path}: the audio stream has no samples")
    return _select(path, data.T, sr, reading) if variant else data


def _select(path: Path, channels: np.ndarray, sr: int, reading: Any) -> np.ndarray:
    """`reading`'s channel of [C, T] samples (DnsmosInputError for a channel the file lacks)."""
    from nava_eval.metrics.channels import MissingChannelError
    from nava_eval.metrics.speech_audio import Audio

    try:
        return np.asarray(reading.select(Audio(channels, sr, path)), dtype=np.float64)
    except MissingChannelError as exc:
        raise DnsmosInputError(str(exc)) from exc


def read_direct(path: Path, reading: ChannelReading | None = None) -> np.ndarray:
    """ComputeScore's own read of a wav: soundfile float64, librosa.resample when not 16 kHz.

    A `reading` other than the official one takes that channel first (the official read fails on
    a multichannel wav).
    """
    import soundfile as sf

    variant = reading is not None and reading.variant != ""
    try:
        data, sr = sf.read(str(path), dtype="float64", always_2d=variant)
    except Exception as exc:
        raise DnsmosInputError(f"{path}: soundfile cannot read it ({type(exc).__name__}: {exc})") from exc
    if variant and data.size:
        data = _select(path, data.T, sr, reading)
    if data.ndim > 1:
        raise DnsmosInputError(
            f"{path}: {data.shape[1]} channels; MOVA's ComputeScore cannot score a multi-channel wav "
            "(onnxruntime rejects the array). Mux it into an mp4 (MOVA's own route: ffmpeg downmixes "
            "it), give a mono file, or build the metric with wav_route='ffmpeg'"
        )
    if data.size == 0:
        raise DnsmosInputError(f"{path}: the audio has no samples")
    return resample_librosa_soxr_hq(data, sr) if sr != SAMPLING_RATE else data


def load_clip(path: Path, wav_route: str = "direct", reading: ChannelReading | None = None) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise DnsmosInputError(f"{path}: file not found (was the output generated?)")
    if path.suffix.lower() in WAV_SUFFIXES and wav_route == "direct":
        return read_direct(path, reading)
    return decode_ffmpeg_16k(path, reading)


# --- the networks --------------------------------------------------------------------------------
class DnsmosModels:
    """The two ONNX sessions; `score()` maps windows to per-window P.808 and P.835 (raw and mapped)."""

    def __init__(self, p808_path: str | Path, p835_path: str | Path, device: str = "cpu") -> None:
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        self.p808 = ort.InferenceSession(str(p808_path), providers=providers)
        self.p835 = ort.InferenceSession(str(p835_path), providers=providers)
        self.providers = self.p808.get_providers()

    def score(self, segments: np.ndarray) -> dict[str, np.ndarray]:
        p808 = self.p808.run(None, {"input_1": p808_features(segments)})[0][:, 0]
        raw = self.p835.run(None, {"input_1": segments.astype(np.float32)})[0]
        sig_raw, bak_raw, ovr_raw = (raw[:, k] for k in range(3))
        return {
            "P808_MOS": p808,
            "SIG_raw": sig_raw,
            "BAK_raw": bak_raw,
            "OVRL_raw": ovr_raw,
            "SIG": np.poly1d(POLY_SIG)(sig_raw),
            "BAK": np.poly1d(POLY_BAK)(bak_raw),
            "OVRL": np.poly1d(POLY_OVR)(ovr_raw),
        }


def resolve_onnx(name: str, overrides: Mapping[str, Any]) -> Any:
    """The weight from --weights, our cache, or the installed `speechmos` package (checked by sha256)."""
    from nava_eval.metrics.weights import (
        ResolvedWeight,
        WeightsError,
        WeightsMissingError,
        get_spec,
        resolve_weight,
        sha256_file,
    )

    try:
        return resolve_weight(name, overrides)
    except WeightsMissingError:
        spec = get_spec(name)
        try:
            import speechmos
        except ImportError:
            raise
        path = Path(speechmos.__file__).parent / "dnsmos_models" / spec.filename
        if not path.is_file():
            raise
        found = sha256_file(path)
        if found != spec.sha256:
            raise WeightsError(
                f"{path}: sha256 {found}, expected {spec.sha256} (the file MOVA bundles); "
                f"reinstall speechmos==0.0.1.1 or run `nava-eval weights download {name}`"
            ) from None
        return ResolvedWeight(name, path, found, "package", "ok")


class Dnsmos(BaseMetric):
    """P.808 MOS and P.835 SIG/BAK/OVRL per clip, MOVA's windows and decoding, real ONNX networks."""

    name = "dnsmos"
    protocol = PROTOCOL
    fields = FIELDS
    # "video" too: MOVA decodes the mp4 itself, so an imported item with <id>.mp4 and <id>.wav is
    # scored from its mp4 (runners.score.output_for), as Sync is; a wav-only output is scored as given.
    requires = frozenset({"audio", "video"})
    weight_names = (P808_WEIGHT, P835_WEIGHT)
    description = (
        "DNSMOS as MOVA's toolkit runs it (real ONNX networks, also in smoke runs): "
        "mp4 → ffmpeg 16 kHz mono, 9.01 s windows, 1 s hop; P.808 MOS + P.835 SIG/BAK/OVRL"
    )
    default_batch_size = 16  # 9.01 s windows per onnxruntime call
    reload_on_new_device = False
    # No tiny network exists for an ONNX graph: smoke runs use the real files (the protocol says so).
    smoke_networks = False
    #: MOVA decodes with `ffmpeg -ac 1`, the downmix of the channels (metrics/channels.py).
    official_channel = "mean"

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, Any] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        wav_route: str = "direct",
        channel: str | None = None,
        **options: Any,
    ) -> None:
        self.reject_options(options, "batch_size, wav_route, channel")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size)
        if wav_route not in ("direct", "ffmpeg"):
            raise ValueError(f"dnsmos: wav_route must be 'direct' or 'ffmpeg', not {wav_route!r}")
        self.wav_route = wav_route
        self.reading = ChannelReading.of(self.name, self.official_channel, channel)
        self.protocol = self.protocol_id(variant=self.reading.variant)
        self.models: DnsmosModels | None = None

    def _loaded(self) -> bool:
        return self.models is not None

    def _load(self, device: str) -> None:
        resolved = {n: resolve_onnx(n, self.weight_overrides) for n in self.weight_names}
        for n, r in resolved.items():
            self.weights_provenance[n] = r.provenance()
        self.models = DnsmosModels(resolved[P808_WEIGHT].path, resolved[P835_WEIGHT].path, device)

    def score_clips(self, clips: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """Per 16 kHz clip (float64, non-empty): MOVA's clip dict values; windows of all clips batched."""
        if self.models is None:
            self.setup()
        assert self.models is not None
        owner: list[int] = []
        segments: list[np.ndarray] = []
        hops: list[int] = []
        for i, clip in enumerate(clips):
            segs, num_hops = windows_of(clip)
            hops.append(num_hops)
            segments.extend(segs)
            owner.extend([i] * len(segs))
        per_window: dict[str, list[float]] = {}
        for start in range(0, len(segments), self.batch_size):
            out = self.models.score(np.stack(segments[start : start + self.batch_size]))
            for key, values in out.items():
                per_window.setdefault(key, []).extend(np.asarray(values, dtype=np.float64).tolist())
        owners = np.array(owner)
        results = []
        for i, clip in enumerate(clips):
            rows = owners == i
            row = {k: float(np.mean(np.array(v)[rows])) for k, v in per_window.items()}
            results.append(
                {
                    "dnsmos": row["P808_MOS"],
                    "dnsmos_sig": row["SIG"],
                    "dnsmos_bak": row["BAK"],
                    "dnsmos_ovrl": row["OVRL"],
                    "sig_raw": row["SIG_raw"],
                    "bak_raw": row["BAK_raw"],
                    "ovrl_raw": row["OVRL_raw"],
                    "num_hops": hops[i],
                    "seconds": len(clip) / SAMPLING_RATE,
                }
            )
        return results

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        clips: dict[int, np.ndarray] = {}  # keyed by position: one (item, seed) sample each
        for i, item in enumerate(items):
            try:
                clips[i] = load_clip(item.output, self.wav_route, self.reading)
            except DnsmosInputError as exc:
                # MOVA prints a warning and leaves the clip out of every mean.
                outcomes[i] = ScoreOutcome.failed(str(exc))
        order = sorted(clips)
        try:
            scores: list[Any] = self.score_clips([clips[i] for i in order])
        except Exception as exc:  # isolate the bad clip: one at a time
            log.warning("dnsmos: batch failed (%s); retrying one clip at a time", exc)
            scores = []
            for i in order:
                try:
                    scores.append(self.score_clips([clips[i]])[0])
                except Exception as one_exc:
                    scores.append(RuntimeError(f"{items[i].output}: {type(one_exc).__name__}: {one_exc}"))
        for i, score in zip(order, scores, strict=True):
            outcomes[i] = (
                ScoreOutcome.failed(str(score)) if isinstance(score, Exception) else ScoreOutcome.ok(**score)
            )
        return [o if o is not None else ScoreOutcome.failed("internal: not scored") for o in outcomes]
