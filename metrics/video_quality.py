"""Video quality: Verse-Bench's aesthetic score (`video-quality/versebench-as-v2`) and VBench-style
imaging quality (`imaging-quality/musiq-spaq-v1`).

Every frame is decoded the way the official scripts decode it and scored by per-frame networks
(metrics/frame_scorers.py); per video the frame means, per dataset the video means (the AS formula is
linear, so this equals the toolkit's order). pyiqa is an optional extra (PolyForm-Noncommercial), imported
only by a real (non-smoke) setup. Frames, crops, formulas and differences: docs/protocols/video_quality.md.
"""

from __future__ import annotations

import abc
import functools
import logging
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.interrupts import interruptible_pool, reraise_interrupts
from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.user_files import file_problem

log = logging.getLogger(__name__)

IQA_HINT = "pip install 'nava-eval[iqa]' (pyiqa, licence PolyForm-Noncommercial-1.0.0)"
MANIQA_CROPS = 20
MANIQA_CROP = 224


def import_pyiqa():
    try:
        import pyiqa
    except ImportError as exc:
        raise ImportError(
            f"this video-quality metric needs pyiqa ({exc}); install it with {IQA_HINT}"
        ) from exc
    return pyiqa


# ------------------------------------------------------------------------------------------
# Frames


def decode_rgb_frames(path: Path, *, stride: int = 1) -> np.ndarray:
    """All frames as RGB uint8 [T,H,W,3], decoded as moviepy's FFMPEG_VideoReader does."""
    from nava_eval.metrics.media_decode import probe, run_ffmpeg

    info = probe(path)
    w, h = info.width, info.height
    raw = run_ffmpeg(
        ["-i", str(path), "-f", "image2pipe", "-vf", f"scale={w}:{h}", "-sws_flags", "bicubic",
         "-pix_fmt", "rgb24", "-vcodec", "rawvideo", "-"],
        capture=True,
    )  # fmt: skip
    frames = np.frombuffer(bytearray(raw), np.uint8)
    if frames.size == 0 or frames.size % (w * h * 3):
        raise ValueError(f"{path}: decoded {frames.size} bytes, not a whole number of {w}×{h} frames")
    return frames.reshape(-1, h, w, 3)[::stride]


class FrameTooSmallError(ValueError):
    """A frame the toolkit's MANIQA cannot crop (the message says why)."""


def toolkit_crop_offsets(h: int, w: int, n: int, size: int, seed: int) -> list[tuple[int, int]]:
    """(top, left) of the toolkit's `n` crops: per crop `randint(0, h − size)` then `randint(0, w − size)`.

    Verse-Bench's ImageSample draws them from numpy's global RNG, unseeded; `RandomState(seed)` gives
    the offsets the toolkit would draw after `np.random.seed(seed)`. The upper bound is exclusive, so
    the last row and column of offsets are never drawn, and a side of 224 px or less cannot be cropped.
    """
    if h <= size or w <= size:
        raise FrameTooSmallError(
            f"frame {w}×{h}: the toolkit's MANIQA draws crop offsets with np.random.randint(0, side − {size}), "
            f"which fails unless both sides exceed {size} px"
        )
    rng = np.random.RandomState(seed)
    return [(int(rng.randint(0, h - size)), int(rng.randint(0, w - size))) for _ in range(n)]


# ------------------------------------------------------------------------------------------
# Metrics


class _FrameMetric(BaseMetric, abc.ABC):
    """Shared life cycle: decode each video (threads), score its frames per component, average.

    The per-frame scorers (torch) are in `metrics/frame_scorers.py`, imported at setup.
    """

    requires = frozenset({"video"})

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, str | os.PathLike] | None = None,
        benchmark: str | None = None,
        frame_stride: int = 1,
        batch_size: int | None = None,
        seed: int = 0,
        details: bool = False,
        workers: int | None = None,
        **_ignored: Any,
    ) -> None:
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.frame_stride = int(frame_stride)
        self.details = details
        self.workers = workers or max(2, min(8, (os.cpu_count() or 2) // 2))
        self._scorers: dict[str, Any] | None = None
        self.protocol = self.protocol_id(
            variant=f"+stride{self.frame_stride}" if self.frame_stride != 1 else ""
        )

    def _loaded(self) -> bool:
        return self._scorers is not None

    def _load(self, device: str) -> None:
        self._scorers = self._build(device)

    @abc.abstractmethod
    def _build(self, device: str) -> dict[str, Any]:
        """The per-frame scorers of this metric, by name, on `device`."""

    @abc.abstractmethod
    def _combine(self, means: dict[str, float]) -> dict[str, float]:
        """Per-video field values from each scorer's mean over frames."""

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        if self._scorers is None:
            self.setup(self.device)
        outcomes: list[ScoreOutcome] = []
        with interruptible_pool(self.workers, "nava-vq") as pool:
            futures = [
                pool.submit(decode_rgb_frames, Path(it.output), stride=self.frame_stride) for it in items
            ]
            for item, fut in zip(items, futures, strict=True):
                try:
                    frames = fut.result()
                except Exception as exc:  # noqa: BLE001 (one bad file is one failed outcome)
                    reraise_interrupts(exc)
                    outcomes.append(self._failure(item, exc))
                    continue
                try:
                    outcomes.append(self._score_frames(frames))
                except FrameTooSmallError as exc:
                    outcomes.append(ScoreOutcome.skipped(str(exc)))
                except Exception as exc:  # noqa: BLE001
                    reraise_interrupts(exc)
                    log.exception("video quality scoring failed on %s", item.output)
                    outcomes.append(ScoreOutcome.failed(f"{type(exc).__name__}: {exc}"))
        return outcomes

    def _failure(self, item: ScoreInput, exc: Exception) -> ScoreOutcome:
        from nava_eval.metrics.media_decode import MediaDecodeError

        if isinstance(exc, MediaDecodeError) and "no video stream" in str(exc):
            return ScoreOutcome.skipped("no video stream")
        if (problem := file_problem(item.output)) is not None:
            return ScoreOutcome.failed(f"{item.output}: {problem}")
        return ScoreOutcome.failed(f"cannot decode: {exc}")

    def _score_frames(self, frames: np.ndarray) -> ScoreOutcome:
        from nava_eval.metrics.frame_scorers import to_tensor01

        chunk = 16
        per_frame: dict[str, list[float]] = {k: [] for k in self._scorers}
        for s in range(0, len(frames), chunk):
            x = to_tensor01(frames[s : s + chunk], self.device)
            for key, scorer in self._scorers.items():
                per_frame[key].extend(scorer.score(x, s))
        means = {k: statistics.fmean(v) for k, v in per_frame.items()}
        values: dict[str, Any] = {**self._combine(means), **{f"{k}_mean": v for k, v in means.items()}}
        values["n_frames"] = int(len(frames))
        if self.details:
            values["per_frame"] = per_frame
        return ScoreOutcome.ok(**values)

    def aggregate(self, outcomes: Sequence[ScoreOutcome]) -> dict[str, Any]:
        ok = [o for o in outcomes if o.status == "ok"]
        field_name = self.fields[0].name
        return {
            field_name: statistics.fmean(o.values[field_name] for o in ok) if ok else None,
            "n": len(ok),
            "n_skipped": sum(o.status == "skipped" for o in outcomes),
            "n_failed": sum(o.status == "failed" for o in outcomes),
        }


class VerseBenchVideoQuality(_FrameMetric):
    """Verse-Bench AS: (Aesthetic V2.5/10 + MUSIQ-KonIQ/100 + MANIQA)/3 per frame, mean over frames."""

    name = "video_quality"
    protocol = "video-quality/versebench-as-v2"
    fields = (
        MetricField(
            "video_quality", "higher", "", "(Aesthetic v2.5/10 + MUSIQ-KonIQ/100 + MANIQA 20-crop mean)/3"
        ),
    )
    description = "Verse-Bench aesthetic video quality, per frame then per video"
    weight_names = ("aesthetic_v2_5", "siglip_so400m", "musiq_koniq", "maniqa_koniq")

    def _build(self, device: str) -> dict[str, Any]:
        from nava_eval.metrics.frame_scorers import (
            AestheticV25,
            NetScorer,
            TinyIQANet,
            ToolkitCropScorer,
            maniqa_crop_scores,
            pyiqa_metric,
        )

        bs = self.batch_size_on(device, gpu=16, cpu=4)
        if self.smoke:
            self.weights_provenance = {"all": {"source": f"tiny random networks, seed {self.seed}"}}
            return {
                "aesthetic": NetScorer(TinyIQANet(self.seed, 1.0, 10.0).to(device).eval(), bs, fixed_size=64),
                "musiq": NetScorer(TinyIQANet(self.seed + 1, 0.0, 100.0).to(device).eval(), bs),
                "maniqa": ToolkitCropScorer(
                    TinyIQANet(self.seed + 2, 0.0, 1.0).to(device).eval(), self.seed, pad_small=True
                ),
            }
        import_pyiqa()  # fail early, with the install hint, before loading anything else
        from nava_eval.metrics.weights import hub_folder

        # A user's folder (or its model file) or the cached snapshot, in place; never a download.
        siglip = hub_folder("siglip_so400m", self.weight_overrides)
        siglip_source = str(siglip.parent if siglip.is_file() else siglip)
        self.weights_provenance["siglip_so400m"] = {"source": siglip_source}
        return {
            "aesthetic": AestheticV25(siglip_source, self.resolve_weight("aesthetic_v2_5"), device, bs),
            "musiq": NetScorer(pyiqa_metric("musiq", self.resolve_weight("musiq_koniq"), device), bs),
            "maniqa": ToolkitCropScorer(
                functools.partial(
                    maniqa_crop_scores,
                    pyiqa_metric("maniqa", self.resolve_weight("maniqa_koniq"), device).net.eval(),
                ),
                self.seed,
            ),
        }

    def _combine(self, means: dict[str, float]) -> dict[str, float]:
        value = (means["aesthetic"] / 10.0 + means["musiq"] / 100.0 + means["maniqa"]) / 3.0
        # The crop offsets are a function of this seed and the frame index: recorded with every score.
        return {"video_quality": value, "maniqa_seed": self.seed, "maniqa_crops": MANIQA_CROPS}


class ImagingQuality(_FrameMetric):
    """VBench imaging quality: MUSIQ-SPAQ / 100 per frame (longer side ≤ 512), mean over frames."""

    name = "imaging_quality"
    protocol = "imaging-quality/musiq-spaq-v1"
    fields = (MetricField("imaging_quality", "higher", "", "VBench imaging quality: MUSIQ-SPAQ/100"),)
    description = "VBench-style imaging quality with MUSIQ-SPAQ"
    weight_names = ("musiq_spaq",)

    def _build(self, device: str) -> dict[str, Any]:
        from nava_eval.metrics.frame_scorers import NetScorer, TinyIQANet, pyiqa_metric

        bs = self.batch_size_on(device, gpu=16, cpu=4)
        if self.smoke:
            self.weights_provenance = {"musiq_spaq": {"source": f"tiny random network, seed {self.seed}"}}
            return {
                "musiq_spaq": NetScorer(
                    TinyIQANet(self.seed + 3, 0.0, 100.0).to(device).eval(), bs, resize_longer=512
                )
            }
        import_pyiqa()
        return {
            "musiq_spaq": NetScorer(
                pyiqa_metric("musiq-spaq", self.resolve_weight("musiq_spaq"), device), bs, resize_longer=512
            )
        }

    def _combine(self, means: dict[str, float]) -> dict[str, float]:
        return {"imaging_quality": means["musiq_spaq"] / 100.0}
