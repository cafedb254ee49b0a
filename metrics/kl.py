"""KL between PaSST's AudioSet class distributions of a clip and its ground truth (Verse-Bench toolkit).

The toolkit's `kl/kld_inferencer.py` (commit 5645a09), called by `calculate_metrics.py` on every
set2 item with an `audio_prompt` as `infer(<generated>.wav, set2/<id>.wav)`: each file goes through
`librosa.load(sr=32000, mono=True)` and pyloudnorm's peak normalisation to −1 dBFS, is cut into 10 s
windows every 5 s (short ones zero-padded unless under 1.5 s), and PaSST's logits averaged over its
windows give p = softmax(mean logits). The score is `F.kl_div((p_gen + 1e-6).log(), p_gt,
reduction="sum")` = Σ p_gt · (log p_gt − log(p_gen + 1e-6)), i.e. KL(ground truth ‖ generated), and
the column is the mean over items. The network is `metrics.passt_model` loading hear21passt's
checkpoint; windows of a batch run together on the GPU. docs/protocols/kl.md.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.errors import UserError
from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.channels import ChannelReading
from nava_eval.metrics.speech_audio import AudioLoadError, NoAudioStreamError

log = logging.getLogger(__name__)

PROTOCOL = "kl/versebench-passt-v1"
SAMPLE_RATE = 32_000
WINDOW = 10 * SAMPLE_RATE  # return_probabilities(window_size=10, overlap=5)
STEP = int((10 - 5) * SAMPLE_RATE)
MIN_PADDED = int(10 * SAMPLE_RATE * 0.15)  # a shorter last window is fed unpadded
PEAK_DB = -1.0
EPS = 1e-6

KL_FIELDS = (
    MetricField(
        "kl",
        "lower",
        "nats",
        "KL(ground truth ‖ generated) of PaSST's AudioSet class distributions (softmax of the "
        "window-mean logits), the Verse-Bench toolkit's formula; mean over set2 items",
        quantity="kl",
    ),
)


class SilentAudioError(ValueError):
    """Peak 0: the toolkit's peak normalisation divides by zero and its KL is NaN."""


class ClipTooShortError(ValueError):
    """Shorter than one PaSST patch: the toolkit's forward pass raises on it."""


class PasstWeightsError(UserError, ValueError):
    """The PaSST checkpoint cannot be used; the message says why and what to pass."""


def load_32k_mono(path: Path, reading: ChannelReading | None = None) -> np.ndarray:
    """librosa.load(path, sr=32000, mono=True): float32 channel mean, soxr HQ, librosa's length.

    `reading` (`--channel`) takes another channel instead of the mean (metrics/channels.py).
    """
    from nava_eval.metrics.clap_audio import resample_soxr_hq
    from nava_eval.metrics.speech_audio import load_audio

    audio = load_audio(path)
    wave = audio.channel_mean() if reading is None else reading.select(audio).astype(np.float32)
    return resample_soxr_hq(wave, audio.sample_rate, SAMPLE_RATE)


def peak_normalize(wave: np.ndarray, path: Path | str = "") -> np.ndarray:
    """pyloudnorm.normalize.peak(wave, -1.0) as numpy 1.26 computes it on float32 input.

    The float64 gain 10^(−1/20) / max|x| meets a float32 array: value-based casting rounds it to
    float32 and the product stays float32. A silent clip raises SilentAudioError (the toolkit gets NaN).
    """
    wave = np.asarray(wave, dtype=np.float32)
    peak = np.max(np.abs(wave))
    if not peak > 0.0:
        raise SilentAudioError(
            f"{path}: silent audio (peak 0); the toolkit's peak normalisation divides by zero and its KL "
            "is NaN, which would make its mean NaN"
        )
    gain = np.float32(np.power(10.0, PEAK_DB / 20.0) / np.float64(peak))
    return wave * gain


def toolkit_windows(wave: np.ndarray, path: Path | str = "") -> list[np.ndarray]:
    """`return_probabilities`' analysis windows: starts 0, 5 s, … below max(5 s, n − 5 s); a window
    shorter than 10 s is zero-padded to 10 s when longer than 1.5 s, and fed as it is otherwise."""
    from nava_eval.metrics.passt_model import MIN_SAMPLES

    out = []
    for start in range(0, max(STEP, len(wave) - STEP), STEP):
        window = wave[start : start + WINDOW]
        if len(window) < WINDOW and len(window) > MIN_PADDED:
            padded = np.zeros(WINDOW, dtype=np.float32)
            padded[: len(window)] = window
            window = padded
        if len(window) < MIN_SAMPLES:
            raise ClipTooShortError(
                f"{path}: {len(window)} samples at 32 kHz, shorter than one PaSST patch ({MIN_SAMPLES}); "
                "the toolkit's PaSST raises on it too"
            )
        out.append(np.ascontiguousarray(window, dtype=np.float32))
    return out


def toolkit_kl(p_generated: Any, p_ground_truth: Any) -> float:
    """`F.kl_div((p_gen + 1e-6).log(), p_gt, reduction="sum")`, float32 as the toolkit computes it."""
    import torch
    import torch.nn.functional as F

    gen = torch.as_tensor(np.asarray(p_generated, dtype=np.float32))
    ref = torch.as_tensor(np.asarray(p_ground_truth, dtype=np.float32))
    return float(F.kl_div((gen + EPS).log(), ref, reduction="sum", log_target=False).item())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PasstKL(BaseMetric):
    """KL of PaSST class distributions, generated vs ground-truth wav (Verse-Bench toolkit)."""

    name = "kl"
    protocol = PROTOCOL
    fields = KL_FIELDS
    requires = frozenset({"audio", "reference_audio"})
    weight_names = ("passt-s-swa-ap476",)
    #: The toolkit reads with librosa.load(mono=True): the channel mean (metrics/channels.py).
    official_channel = "mean"
    description = (
        "PaSST-S AudioSet classifier (hear21passt, Verse-Bench toolkit kl/kld_inferencer.py): "
        "KL(ground truth ‖ generated) of the window-mean class distributions, set2 items with an audio_prompt"
    )

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, Any] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        channel: str | None = None,
        **options: Any,
    ) -> None:
        self.reject_options(options, "batch_size, seed, channel")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        # The generated file's channel; a ground-truth wav is always read as the toolkit reads it.
        self.reading = ChannelReading.of(self.name, self.official_channel, channel)
        self.protocol = self.protocol_id(variant=self.reading.variant)
        self.model: Any = None

    def _loaded(self) -> bool:
        return self.model is not None

    def _load(self, device: str) -> None:
        from nava_eval.metrics import passt_model as pm

        self.batch_size = self.batch_size_on(device, gpu=32, cpu=4)
        if self.smoke:
            self.weights_provenance = {"passt": {"source": f"random seed {self.seed} (tiny PaSST)"}}
            self.model = pm.load_passt(pm.seeded_state_dict(pm.TINY, self.seed), pm.TINY, device)
            return
        from nava_eval.metrics.weights_kl import PASST
        from nava_eval.weight_files import read_torch_file

        path = self.resolve_weight(PASST)
        state = read_torch_file(path, "the PaSST checkpoint")
        try:
            self.model = pm.load_passt(state, pm.OFFICIAL, device)
        except pm.PasstCheckpointError as exc:
            raise PasstWeightsError(
                f"{path}: {exc}; pass hear21passt's passt-s-f128-p16-s10-ap.476-swa.pt with "
                f"--weights {PASST}=FILE"
            ) from None

    # ------------------------------------------------------------------ probabilities

    def prepare(self, path: Path, reading: ChannelReading | None = None) -> list[np.ndarray]:
        """The toolkit's windows of one file (raises AudioLoadError, SilentAudioError, ClipTooShortError)."""
        return toolkit_windows(peak_normalize(load_32k_mono(path, reading), path), path)

    def _logits(self, windows: list[np.ndarray]) -> list[Any]:
        """PaSST logits [527] (float32 CPU tensors) of each window; equal lengths share a forward pass."""
        import torch

        assert self.model is not None
        out: list[Any] = [None] * len(windows)
        by_length: dict[int, list[int]] = {}
        for i, w in enumerate(windows):
            by_length.setdefault(len(w), []).append(i)
        batch = max(1, int(self.batch_size or 1))
        for idx in by_length.values():
            for start in range(0, len(idx), batch):
                chunk = idx[start : start + batch]
                x = torch.from_numpy(np.stack([windows[i] for i in chunk])).to(self.device)
                with torch.inference_mode():
                    logits = self.model(x).float().cpu()
                for i, row in zip(chunk, logits, strict=True):
                    out[i] = row
        return out

    def probabilities(
        self, files: Mapping[str, Path], readings: Mapping[str, ChannelReading] | None = None
    ) -> dict[str, np.ndarray | Exception]:
        """key → softmax of the window-mean logits (or the error of that file), every window batched.

        `readings` maps a key to its channel reading (default: the channel mean, as the toolkit).
        """
        import torch
        import torch.nn.functional as F

        self.setup(self.device)
        out: dict[str, np.ndarray | Exception] = {}
        owners: list[tuple[str, int]] = []  # (key, number of windows) in window order
        windows: list[np.ndarray] = []
        for key, path in files.items():
            try:
                ws = self.prepare(Path(path), (readings or {}).get(key))
            except (AudioLoadError, ValueError) as exc:
                out[key] = exc
                continue
            owners.append((key, len(ws)))
            windows.extend(ws)
        try:
            logits = self._logits(windows)
        except Exception as exc:  # isolate a bad clip: one file at a time
            log.warning("kl: batch failed (%s); one clip at a time", exc)
            logits = []
            for key, n in owners:
                try:
                    logits.extend(self._logits(self.prepare(Path(files[key]), (readings or {}).get(key))))
                except Exception as one_exc:
                    out[key] = RuntimeError(f"{files[key]}: {type(one_exc).__name__}: {one_exc}")
                    logits.extend([None] * n)
        pos = 0
        for key, n in owners:
            rows = logits[pos : pos + n]
            pos += n
            if key in out:
                continue
            mean = torch.stack(rows).mean(dim=0)
            out[key] = F.softmax(mean, dim=0).numpy()
        return out

    # ------------------------------------------------------------------ scoring

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        self.setup(self.device)
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        files: dict[str, Path] = {}
        readings: dict[str, ChannelReading] = {}
        for i, item in enumerate(items):
            if item.reference_audio is None:
                outcomes[i] = ScoreOutcome.skipped(
                    f"{item.id}: no ground-truth audio (the toolkit computes KL only against set2's <id>.wav)"
                )
                continue
            files[f"gen:{i}"] = Path(item.output)  # keyed by batch position: two seeds of one item
            readings[f"gen:{i}"] = self.reading
            files[f"ref:{Path(item.reference_audio)}"] = Path(item.reference_audio)  # one pass per file
        probs = self.probabilities(files, readings)
        for i, item in enumerate(items):
            if outcomes[i] is None:
                ref = Path(item.reference_audio) if item.reference_audio is not None else Path()
                outcomes[i] = self._outcome(item, probs[f"gen:{i}"], probs[f"ref:{ref}"])
        return [o if o is not None else ScoreOutcome.failed("internal: not scored") for o in outcomes]

    def _outcome(self, item: ScoreInput, gen: Any, ref: Any) -> ScoreOutcome:
        if isinstance(gen, NoAudioStreamError):
            return ScoreOutcome.skipped(f"{gen} (the toolkit scores an item only when its wav exists)")
        if isinstance(gen, SilentAudioError):
            return ScoreOutcome.skipped(str(gen))
        if isinstance(gen, Exception):
            return ScoreOutcome.failed(str(gen))
        if isinstance(ref, SilentAudioError):
            return ScoreOutcome.skipped(f"ground-truth wav: {ref}")
        if isinstance(ref, Exception):
            return ScoreOutcome.failed(f"ground-truth wav unusable: {ref}")
        return ScoreOutcome.ok(
            kl=toolkit_kl(gen, ref),
            # The score depends on the ground-truth file too: the runner rescores when it changes.
            reference_sha256=_sha256(Path(item.reference_audio)),  # type: ignore[arg-type]
        )
