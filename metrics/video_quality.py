"""Video quality: the Verse-Bench aesthetic score (default) and VBench-style imaging quality.

`video-quality/versebench-as-v2` (field `video_quality`), as Verse-Bench's calculate_metrics.py:
every decoded frame at the native frame rate and resolution (RGB, decoded the way moviepy does:
ffmpeg `-vf scale=W:H -sws_flags bicubic -pix_fmt rgb24`), scored by
  a) Aesthetic Predictor V2.5 (SigLIP so400m-patch14-384 + MLP head, 1–10),
  b) pyiqa MUSIQ-KonIQ (0–100),
  c) MANIQA-KonIQ (0–1): the toolkit's aesthetic/maniqa_inferencer.py draws 20 crop offsets with
     `np.random.randint(0, side − 224)` (never the last row or column), scores each 224×224 crop on
     its own (weighted mean over its patches) and averages the 20 scores; we draw the same way from
     `RandomState(seed + frame index)` and run pyiqa's MANIQA network on each crop (v1 used pyiqa's
     own crop-and-pool, which gives other numbers);
per video a, b, c are means over frames and the video's value is (a/10 + b/100 + c)/3. The dataset
value (mean over videos) equals Verse-Bench's AS, which averages each component over videos first:
the formula is linear.

`imaging-quality/musiq-spaq-v1` (field `imaging_quality`), as VBench's imaging_quality: every frame,
the longer side resized to 512 when larger (bilinear, no antialias), MUSIQ-SPAQ / 100, mean over
frames then videos.

pyiqa is an optional extra (licence PolyForm-Noncommercial-1.0.0): `pip install 'nava-eval[iqa]'`.
It is imported only when a real (non-smoke) metric is set up. With `smoke=True` each scorer is a
tiny seeded network with the same inputs and output range (MANIQA's seeded crops included), so the
decode → per-frame → per-video path runs without pyiqa or weights; the protocol id says so.
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
import torch
import torch.nn.functional as F

from nava_eval.interrupts import interruptible_pool, reraise_interrupts
from nava_eval.metrics.base import MetricField, ScoreInput, ScoreOutcome
from nava_eval.user_files import file_problem

log = logging.getLogger(__name__)

SMOKE_SUFFIX = "+smoke-random-weights"
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


def to_tensor01(frames: np.ndarray, device: str) -> torch.Tensor:
    """[T,H,W,3] uint8 → [T,3,H,W] float in [0,1] (torchvision ToTensor)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float() / 255.0


def seeded_crops(x: torch.Tensor, n: int, size: int, seed: int) -> torch.Tensor:
    """`n` random size×size crops of one image [1,3,H,W] (zero-padded when smaller), from `seed`."""
    _, _, h, w = x.shape
    if h < size or w < size:
        x = F.pad(x, (0, max(0, size - w), 0, max(0, size - h)))
        h, w = x.shape[2:]
    gen = torch.Generator().manual_seed(seed)
    tops = torch.randint(0, h - size + 1, (n,), generator=gen).tolist()
    lefts = torch.randint(0, w - size + 1, (n,), generator=gen).tolist()
    return torch.cat([x[:, :, t : t + size, c : c + size] for t, c in zip(tops, lefts, strict=True)])


# ------------------------------------------------------------------------------------------
# Per-frame scorers: score(frames [T,3,H,W] in [0,1], first_frame_index) → list of raw scores


class TinyIQANet(torch.nn.Module):
    """A tiny seeded stand-in for an IQA network: conv → pool → linear → squashed to [lo, hi]."""

    def __init__(self, seed: int, lo: float, hi: float):
        super().__init__()
        gen_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.head = torch.nn.Linear(8, 1)
        finally:
            torch.random.set_rng_state(gen_state)
        self.lo, self.hi = lo, hi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = F.adaptive_avg_pool2d(F.relu(self.conv(x * 2 - 1)), 1).flatten(1)
        return self.lo + (self.hi - self.lo) * torch.sigmoid(self.head(z)).squeeze(1)


class _NetScorer:
    """Batched whole-frame scorer (MUSIQ and the smoke stand-ins)."""

    def __init__(self, net, batch_size: int, resize_longer: int | None = None, fixed_size: int | None = None):
        self.net, self.batch_size = net, batch_size
        self.resize_longer, self.fixed_size = resize_longer, fixed_size

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_size is not None:
            return F.interpolate(
                x, size=(self.fixed_size, self.fixed_size), mode="bicubic", align_corners=False
            )
        if self.resize_longer is not None:
            h, w = x.shape[2:]
            if (
                max(h, w) > self.resize_longer
            ):  # VBench 'longer': Resize((int(s·h), int(s·w)), antialias=False)
                s = self.resize_longer / max(h, w)
                from torchvision.transforms.functional import resize

                x = resize(x, [int(s * h), int(s * w)], antialias=False)
        return x

    @torch.no_grad()
    def score(self, frames: torch.Tensor, first_index: int) -> list[float]:
        out: list[float] = []
        for s in range(0, frames.shape[0], self.batch_size):
            y = self.net(self._prep(frames[s : s + self.batch_size]))
            out.extend(float(v) for v in y.reshape(-1))
        return out


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


class _ToolkitCropScorer:
    """Verse-Bench's MANIQA semantics: `n` seeded crops per frame, each scored alone, mean of the scores.

    `crop_scores(crops [n,3,size,size] in [0,1]) → [n]`. `pad_small` (smoke only) zero-pads frames
    the toolkit could not crop so tiny smoke videos still run the path.
    """

    def __init__(
        self, crop_scores, seed: int, n: int = MANIQA_CROPS, size: int = MANIQA_CROP, pad_small=False
    ):
        self.crop_scores, self.seed, self.n, self.size, self.pad_small = crop_scores, seed, n, size, pad_small

    @torch.no_grad()
    def score(self, frames: torch.Tensor, first_index: int) -> list[float]:
        if self.pad_small:
            h, w = frames.shape[2:]
            frames = F.pad(frames, (0, max(0, self.size + 1 - w), 0, max(0, self.size + 1 - h)))
        h, w = frames.shape[2:]
        out = []
        for k in range(frames.shape[0]):
            offsets = toolkit_crop_offsets(h, w, self.n, self.size, self.seed + first_index + k)
            crops = torch.stack([frames[k, :, t : t + self.size, c : c + self.size] for t, c in offsets])
            out.append(float(self.crop_scores(crops).reshape(-1).double().mean()))
        return out


def maniqa_crop_scores(net, crops: torch.Tensor) -> torch.Tensor:
    """MANIQA's score of each 224×224 crop on its own: pyiqa's network, none of its cropping or pooling.

    pyiqa's forward resizes a 224-px input to 225 and pools the patches of all its crops into one
    weighted mean; the toolkit's network (IIGROUP/MANIQA) scores one crop as the weighted mean of its
    own patch scores. `net` is pyiqa's MANIQA module (`create_metric("maniqa").net`).
    """
    x = (crops - net.default_mean.to(crops)) / net.default_std.to(crops)
    n, side = x.shape[0], net.input_size
    net.vit(x)
    feats = net.extract_feature(net.save_output)  # [n, side², 4·768]: ViT blocks 6–9 without CLS
    net.save_output.outputs.clear()
    x = feats.transpose(1, 2)
    for tab in net.tablock1:
        x = tab(x)
    x = net.swintransformer1(net.conv1(x.reshape(n, -1, side, side)))
    x = x.flatten(2)
    for tab in net.tablock2:
        x = tab(x)
    x = net.swintransformer2(net.conv2(x.reshape(n, -1, side, side)))
    x = x.flatten(2).transpose(1, 2)  # [n, side², c]
    scores, weights = net.fc_score(x).flatten(1), net.fc_weight(x).flatten(1)
    return (scores * weights).sum(dim=1) / weights.sum(dim=1)


class _AestheticV25:
    """Aesthetic Predictor V2.5: SigLIP so400m pooled embedding, L2-normalised, MLP head (1–10)."""

    def __init__(self, siglip_source: str, head_path: Path, device: str, batch_size: int):
        from transformers import SiglipImageProcessor, SiglipVisionModel

        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32  # Verse-Bench runs bf16
        self.processor = SiglipImageProcessor.from_pretrained(siglip_source)
        self.encoder = SiglipVisionModel.from_pretrained(siglip_source, torch_dtype=dtype).to(device).eval()
        hidden = self.encoder.config.hidden_size
        self.head = torch.nn.Sequential(
            torch.nn.Linear(hidden, 1024), torch.nn.Dropout(0.5), torch.nn.Linear(1024, 128), torch.nn.Dropout(0.5),
            torch.nn.Linear(128, 64), torch.nn.Dropout(0.5), torch.nn.Linear(64, 16), torch.nn.Dropout(0.2),
            torch.nn.Linear(16, 1),
        )  # fmt: skip
        from nava_eval.weight_files import read_torch_file

        state = read_torch_file(head_path, "the aesthetic predictor head")
        state = {k.removeprefix("layers.").removeprefix("scoring_head."): v for k, v in state.items()}
        self.head.load_state_dict(state)
        self.head = self.head.to(device=device, dtype=dtype).eval()
        self.device, self.dtype, self.batch_size = device, dtype, batch_size

    @torch.no_grad()
    def score(self, frames: torch.Tensor, first_index: int) -> list[float]:
        out: list[float] = []
        for s in range(0, frames.shape[0], self.batch_size):
            chunk = (frames[s : s + self.batch_size] * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            pixels = self.processor(images=list(chunk), return_tensors="pt")["pixel_values"]
            pooled = self.encoder(pixel_values=pixels.to(self.device, self.dtype)).pooler_output
            pooled = pooled / pooled.norm(dim=-1, keepdim=True)
            out.extend(float(v) for v in self.head(pooled).float().reshape(-1))
        return out


def _pyiqa_metric(name: str, url_file: Path, device: str):
    """pyiqa.create_metric(name) with its checkpoint taken from our verified file, not downloaded.

    pyiqa fetches checkpoints by URL into its cache folder and reuses a file of the same name;
    we put (a link to) our checked copy there first.
    """
    pyiqa = import_pyiqa()
    try:
        from pyiqa.utils import download_util

        cache = Path(download_util.DEFAULT_CACHE_DIR)
    except (ImportError, AttributeError):
        cache = Path(torch.hub.get_dir()) / "pyiqa"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / url_file.name
    if not target.exists():
        try:
            os.symlink(url_file, target)
        except OSError:
            import shutil

            shutil.copyfile(url_file, target)
    return pyiqa.create_metric(name, device=torch.device(device), as_loss=False)


# ------------------------------------------------------------------------------------------
# Metrics


class _FrameMetric(abc.ABC):
    """Shared life cycle: decode each video (threads), score its frames per component, average."""

    name: str
    base_protocol: str
    fields: tuple[MetricField, ...]
    requires = frozenset({"video"})
    description = ""
    weight_names: tuple[str, ...] = ()

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
        self.smoke = smoke
        self.weight_overrides = dict(weights or {})
        self.benchmark = benchmark
        self.frame_stride = int(frame_stride)
        self.batch_size = batch_size
        self.seed = seed
        self.details = details
        self.workers = workers or max(2, min(8, (os.cpu_count() or 2) // 2))
        self.device = "cpu"
        self.weights_provenance: dict[str, dict[str, str]] = {}
        self._scorers: dict[str, Any] | None = None
        self.protocol = self.base_protocol
        if self.frame_stride != 1:
            self.protocol += f"+stride{self.frame_stride}"
        if smoke:
            self.protocol += SMOKE_SUFFIX

    def _resolve(self, name: str) -> Path:
        from nava_eval.metrics.weights import resolve_weight

        resolved = resolve_weight(name, self.weight_overrides)
        self.weights_provenance[name] = resolved.provenance()
        return resolved.path

    def setup(self, device: str = "cpu") -> None:
        if self._scorers is not None and device == self.device:
            return
        self.device = device
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
    base_protocol = "video-quality/versebench-as-v2"
    fields = (
        MetricField(
            "video_quality", "higher", "", "(Aesthetic v2.5/10 + MUSIQ-KonIQ/100 + MANIQA 20-crop mean)/3"
        ),
    )
    description = "Verse-Bench aesthetic video quality, per frame then per video"
    weight_names = ("aesthetic_v2_5", "siglip_so400m", "musiq_koniq", "maniqa_koniq")

    def _build(self, device: str) -> dict[str, Any]:
        on_gpu = str(device).startswith("cuda")
        bs = self.batch_size or (16 if on_gpu else 4)
        if self.smoke:
            self.weights_provenance = {"all": {"source": f"tiny random networks, seed {self.seed}"}}
            return {
                "aesthetic": _NetScorer(
                    TinyIQANet(self.seed, 1.0, 10.0).to(device).eval(), bs, fixed_size=64
                ),
                "musiq": _NetScorer(TinyIQANet(self.seed + 1, 0.0, 100.0).to(device).eval(), bs),
                "maniqa": _ToolkitCropScorer(
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
            "aesthetic": _AestheticV25(siglip_source, self._resolve("aesthetic_v2_5"), device, bs),
            "musiq": _NetScorer(_pyiqa_metric("musiq", self._resolve("musiq_koniq"), device), bs),
            "maniqa": _ToolkitCropScorer(
                functools.partial(
                    maniqa_crop_scores,
                    _pyiqa_metric("maniqa", self._resolve("maniqa_koniq"), device).net.eval(),
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
    base_protocol = "imaging-quality/musiq-spaq-v1"
    fields = (MetricField("imaging_quality", "higher", "", "VBench imaging quality: MUSIQ-SPAQ/100"),)
    description = "VBench-style imaging quality with MUSIQ-SPAQ"
    weight_names = ("musiq_spaq",)

    def _build(self, device: str) -> dict[str, Any]:
        on_gpu = str(device).startswith("cuda")
        bs = self.batch_size or (16 if on_gpu else 4)
        if self.smoke:
            self.weights_provenance = {"musiq_spaq": {"source": f"tiny random network, seed {self.seed}"}}
            return {
                "musiq_spaq": _NetScorer(
                    TinyIQANet(self.seed + 3, 0.0, 100.0).to(device).eval(), bs, resize_longer=512
                )
            }
        import_pyiqa()
        return {
            "musiq_spaq": _NetScorer(
                _pyiqa_metric("musiq-spaq", self._resolve("musiq_spaq"), device), bs, resize_longer=512
            )
        }

    def _combine(self, means: dict[str, float]) -> dict[str, float]:
        return {"imaging_quality": means["musiq_spaq"] / 100.0}
