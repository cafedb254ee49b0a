"""Inception Score of the audio over PANNs Cnn14, as MOVA's toolkit computes it (`is/mova-panns-cnn14-v1`).

MOVA's `evaluation/metrics/audio_is_clap/` (eval_audio_is_clap.py with IS.py, commit 595a976): each
clip's audio as `mova_audio_input.decode_mova_32k` gives it, cut or zero-padded to 320 000 samples
(10 s), through Cnn14 (32 kHz, `Cnn14_mAP=0.431.pth`); the 527 sigmoid outputs are turned into
logits (clamped to [1e-8, 1 − 1e-8]) and a softmax (temperature 1). Per category (our set) the IS
is exp(mean KL(p(y|x) ‖ p(y))) over all its clips in one split, in float32; `all` is the mean of
the per-set IS. Per item we keep the softmax vector; the set-level reducer does the rest, and its
CI resamples items within each set. Protocol page: docs/protocols/audio_is.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.speech_audio import AudioLoadError, NoAudioStreamError

log = logging.getLogger(__name__)

PROTOCOL = "is/mova-panns-cnn14-v1"
WEIGHT = "panns-cnn14-32k"
CLIP_SAMPLES = 320_000  # IS.py `_ten_seconds`
PROB_EPS = 1e-8  # Cnn14Extractor.__call__ clamp
KL_EPS = 1e-10  # calculate_inception_score
PROBS_KEY = "is_probs"
SET_KEY = "is_set"


def _probs_matrix(items: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    missing = [k for item in items for k in (PROBS_KEY, SET_KEY) if k not in item]
    if missing:
        raise ValueError(f"{len(missing)} IS input(s) missing from the scored items ({missing[0]!r} first)")
    if not items:
        raise ValueError("no scored items")
    probs = np.asarray([item[PROBS_KEY] for item in items], dtype=np.float32)
    if probs.ndim != 2:
        raise ValueError(f"IS probability vectors must all have one length, got shape {probs.shape}")
    return probs, np.asarray([str(item[SET_KEY]) for item in items])


def inception_score(preds: np.ndarray) -> float:
    """IS.py `calculate_inception_score` (float32 throughout, as on its float32 softmax rows)."""
    preds = np.asarray(preds, dtype=np.float32)
    preds = preds / preds.sum(axis=1, keepdims=True)
    p_y = np.mean(preds, axis=0, keepdims=True)
    eps = np.float32(KL_EPS)
    kl = preds * (np.log(preds + eps) - np.log(p_y + eps))
    return float(np.exp(np.mean(np.sum(kl, axis=1))))


def _mean_of_set_scores(probs: np.ndarray, sets: np.ndarray) -> float:
    # MOVA: one IS per category over its clips, `all` = np.mean of the category values (in set order).
    per_set = [inception_score(probs[sets == name]) for name in dict.fromkeys(sets.tolist())]
    return float(np.mean(per_set))


def mova_inception_score(items: Sequence[Mapping[str, Any]]) -> float:
    """Set-level reducer: IS of each set's softmax rows, mean over the sets present."""
    probs, sets = _probs_matrix(items)
    return _mean_of_set_scores(probs, sets)


def _of_indices(items: Sequence[Mapping[str, Any]]) -> Callable[[np.ndarray], float]:
    """The reducer on resampled row indices (a bootstrap builds the 527-wide matrix once)."""
    probs, sets = _probs_matrix(items)
    return lambda idx: _mean_of_set_scores(probs[idx], sets[idx])


mova_inception_score.requires = (PROBS_KEY, SET_KEY)  # type: ignore[attr-defined]
mova_inception_score.of_indices = _of_indices  # type: ignore[attr-defined]


def ten_seconds(wave: np.ndarray) -> np.ndarray:
    """IS.py `_ten_seconds`: zero-pad or cut to 320 000 samples."""
    if wave.shape[0] >= CLIP_SAMPLES:
        return wave[:CLIP_SAMPLES]
    return np.pad(wave, (0, CLIP_SAMPLES - wave.shape[0]))


def softmax_of_sigmoid(clipwise: Any) -> Any:
    """Cnn14Extractor.__call__ after the network: logit of the clamped sigmoid outputs, softmax (torch)."""
    import torch

    p = torch.clamp(clipwise, PROB_EPS, 1 - PROB_EPS)
    return torch.softmax(torch.log(p) - torch.log(1 - p), dim=-1)


class AudioInceptionScore(BaseMetric):
    """MOVA's audio IS: PANNs Cnn14 softmax per clip, IS per set, mean over sets."""

    name = "audio_is"
    protocol = PROTOCOL
    fields = (
        MetricField(
            "is",
            "higher",
            "",
            "Inception Score of PANNs Cnn14's 527-class softmax over each set's clips (MOVA), mean over sets",
            kind="set",
            reducer="nava_eval.metrics.audio_is:mova_inception_score",
        ),
    )
    requires = frozenset({"audio"})
    weight_names = (WEIGHT,)
    description = (
        "MOVA's audio IS: ffmpeg 32 kHz, 10 s pad/cut, PANNs Cnn14 sigmoid → logit → softmax; "
        "IS per set (one split), mean of the per-set IS"
    )
    default_batch_size = None  # 32 clips per pass on a GPU, 4 on a CPU

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, Any] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        **options: Any,
    ) -> None:
        self.reject_options(options, "batch_size, seed")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.model: Any = None

    def _loaded(self) -> bool:
        return self.model is not None

    def _load(self, device: str) -> None:
        from nava_eval.metrics import panns_cnn14 as P

        if self.smoke:
            self.weights_provenance = {"cnn14": {"source": f"random seed {self.seed}"}}
            self.model = P.tiny_cnn14(self.seed, device)
        else:
            state = P.read_cnn14_checkpoint(self.resolve_weight(WEIGHT))
            self.model = P.load_cnn14(state, P.Cnn14Config.official(), device)
        self.batch_size = self.batch_size_on(device, gpu=32, cpu=4)

    def softmax_rows(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """[N, 527] float32 softmax rows of N 32 kHz clips, `batch_size` clips per forward pass."""
        import torch

        self.setup(self.device)
        rows = []
        for start in range(0, len(waves), self.batch_size or 1):
            chunk = np.stack([ten_seconds(w) for w in waves[start : start + (self.batch_size or 1)]])
            with torch.inference_mode():
                clipwise = self.model(torch.from_numpy(chunk).to(self.device))
                rows.append(softmax_of_sigmoid(clipwise.float()).cpu().numpy())
        return np.concatenate(rows).astype(np.float32, copy=False)

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        from nava_eval.metrics.mova_audio_input import decode_mova_32k

        self.setup(self.device)
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        waves: dict[int, np.ndarray] = {}
        for i, item in enumerate(items):
            try:
                waves[i] = decode_mova_32k(item.output)
            except NoAudioStreamError as exc:
                outcomes[i] = ScoreOutcome.skipped(
                    f"{exc} (MOVA scores a clip only when ffmpeg extracts audio)"
                )
            except AudioLoadError as exc:
                outcomes[i] = ScoreOutcome.failed(str(exc))
        order = list(waves)
        try:
            rows = self.softmax_rows([waves[i] for i in order]) if order else np.zeros((0, 0))
            results: dict[int, Any] = dict(zip(order, rows, strict=True))
        except Exception as exc:  # isolate a bad clip
            log.warning("audio_is: batch failed (%s); one clip at a time", exc)
            results = {}
            for i in order:
                try:
                    results[i] = self.softmax_rows([waves[i]])[0]
                except Exception as one_exc:
                    results[i] = RuntimeError(f"{items[i].output}: {type(one_exc).__name__}: {one_exc}")
        for i, row in results.items():
            if isinstance(row, Exception):
                outcomes[i] = ScoreOutcome.failed(str(row))
                continue
            # float32 written with 9 significant digits: reads back bit-exact.
            outcomes[i] = ScoreOutcome.ok(
                **{PROBS_KEY: [float(f"{v:.9g}") for v in row], SET_KEY: items[i].set},
                top_class=int(np.argmax(row)),
                samples_32k=int(waves[i].shape[0]),
            )
        return [o if o is not None else ScoreOutcome.failed("internal: not scored") for o in outcomes]
