"""ID, protocol `id/versebench-dinov3-vitl16-v1`: DINOv3 similarity of every frame to the conditioning image.

Dorniwang/Verse-Bench (commit 5645a09) `dino/dinov3_inferencer.py` with `calculate_metrics.py`'s
`evaluate_dinov3_video`: transformers' `image-feature-extraction` pipeline on
`dinov3-vitl16-pretrain-lvd1689m`; the feature of an image is the **second-to-last token** of the
last hidden state (`pipeline(image)[0][-2]`, a patch token, not the CLS token); per frame the cosine
(float64, `f1 @ f2 / (|f1| |f2|)`) with the conditioning image's feature; per video the plain mean over
frames; over the benchmark the plain mean over every video of set1–3 (the toolkit pools them).

Frames are what moviepy 1.0.3's `VideoFileClip(path).iter_frames()` yields (`metrics.moviepy_frames`
reproduces it): times `arange(0, duration, 1/fps)` from ffmpeg's printed Duration and tbr, each read
through ffmpeg's `rgb24` pipe, the last frame repeated past the end of the stream. The conditioning
image goes through `transformers.image_utils.load_image` (EXIF transpose, RGB). Images are resized to
224×224 (bilinear, antialiased) and ImageNet-normalised by transformers' DINOv3 image processor.

The pipeline embeds one image at a time; we batch frames of many videos (equal within float noise,
tested) and run on the GPU when there is one.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome

log = logging.getLogger(__name__)

PROTOCOL = "id/versebench-dinov3-vitl16-v1"
WEIGHT_NAME = "dinov3_vitl16"
FEATURE_TOKEN = -2  # dinov3_inferencer.py: pipeline(image)[0][-2]

FIELDS = (
    MetricField(
        "id",
        "higher",
        "cosine",
        "DINOv3 ViT-L/16 cosine of each frame's second-to-last token with the conditioning image's, mean",
    ),
)

#: transformers' DINOv3ViTConfig of facebook/dinov3-vitl16-pretrain-lvd1689m (revision ea8dc28).
FULL_CONFIG: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "patch_size": 16,
    "image_size": 224,
    "num_channels": 3,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-5,
    "layerscale_value": 1e-5,
    "num_register_tokens": 4,
    "use_gated_mlp": False,
    "query_bias": True,
    "key_bias": False,
    "value_bias": True,
    "proj_bias": True,
    "mlp_bias": True,
    "rope_theta": 100.0,
    "pos_embed_rescale": 2.0,
    "pos_embed_shift": None,
    "pos_embed_jitter": None,
    "attention_dropout": 0.0,
    "drop_path_rate": 0.0,
}
#: the fields a tiny test network changes; every other field stays FULL_CONFIG's
SIZE_FIELDS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
TINY_SIZES = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}


def dinov3_config(tiny: bool = False) -> Any:
    """The release's DINOv3ViTConfig, or the same with TINY_SIZES."""
    from transformers import DINOv3ViTConfig

    fields = dict(FULL_CONFIG)
    if tiny:
        fields.update(TINY_SIZES)
    return DINOv3ViTConfig(**fields)


def image_processor() -> Any:
    """transformers' DINOv3 image processor with the release's preprocessor_config.json values."""
    from transformers import AutoImageProcessor, DINOv3ViTConfig  # noqa: F401 (registers the model type)

    try:
        from transformers import DINOv3ViTImageProcessor as Processor  # transformers >= 5
    except ImportError:  # pragma: no cover (transformers 4.56)
        from transformers import DINOv3ViTImageProcessorFast as Processor
    return Processor(
        do_resize=True,
        size={"height": 224, "width": 224},
        resample=2,  # bilinear
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )


class IDInputError(ValueError):
    """An item the toolkit does not score (no conditioning image); skipped with this reason."""


@dataclass
class _Prepared:
    pixels: Any  # torch [1 + n_frames, 3, 224, 224]: the image, then the frames
    details: dict[str, Any] = field(default_factory=dict)


def load_condition_image(path: Path) -> Any:
    """`transformers.image_utils.load_image` on a path: PIL open, EXIF transpose, RGB."""
    import PIL.Image
    import PIL.ImageOps

    image = PIL.Image.open(path)
    image = PIL.ImageOps.exif_transpose(image)
    return image.convert("RGB")


def cosine64(a: Any, b: Any) -> float:
    """The toolkit's cosine: float64 copies (it goes through Python lists), f1 @ f2 / (|f1| |f2|)."""
    a = a.double()
    b = b.double()
    return float((a @ b) / (a.norm() * b.norm()))


class DinoIdentity(BaseMetric):
    """ID. Options: batch_size (images per forward), workers (clips decoded at once)."""

    name = "id"
    protocol = PROTOCOL
    fields = FIELDS
    requires = frozenset({"video"})
    description = "Verse-Bench ID: DINOv3 ViT-L/16 similarity of every frame to the conditioning image"
    weight_names = (WEIGHT_NAME,)

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, str | os.PathLike] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        workers: int | None = None,
        seed: int = 0,
        **_ignored: Any,
    ) -> None:
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.workers = workers or max(1, min(4, (os.cpu_count() or 2) // 2))
        self._model = None
        self._processor = None

    def _loaded(self) -> bool:
        return self._model is not None

    def _load(self, device: str) -> None:
        """DINOv3 and its image processor."""
        import torch
        from transformers import DINOv3ViTModel

        if self.smoke:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model = DINOv3ViTModel(dinov3_config(tiny=True))
            self._processor = image_processor()
            self.weights_provenance = {WEIGHT_NAME: {"source": f"tiny random network, seed {self.seed}"}}
        else:
            from transformers import AutoImageProcessor

            folder = Path(self.hub_source(WEIGHT_NAME))
            folder = folder.parent if folder.is_file() else folder
            model = DINOv3ViTModel.from_pretrained(str(folder), torch_dtype=torch.float32)
            self._processor = AutoImageProcessor.from_pretrained(str(folder))
        self._model = model.to(device).eval()

    # ------------------------------------------------------------------ scoring

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        """One outcome per item, in order; clips decode in threads, frames of all clips share batches."""
        if self._model is None:
            self.setup(self.device)
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        ready: list[tuple[int, _Prepared]] = []
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(self._prepare, it) for it in items]
            for i, fut in enumerate(futures):
                try:
                    ready.append((i, fut.result()))
                except IDInputError as exc:
                    outcomes[i] = ScoreOutcome.skipped(str(exc))
                except Exception as exc:  # noqa: BLE001 (one bad file is one outcome)
                    outcomes[i] = ScoreOutcome.failed(
                        f"cannot read {Path(items[i].output).name}: {type(exc).__name__}: {exc}"
                    )
        if ready:
            try:
                values = self._similarities([p for _, p in ready])
            except Exception as exc:  # noqa: BLE001 (a failing batch must not sink the run)
                log.exception("DINOv3 scoring failed")
                for i, _ in ready:
                    outcomes[i] = ScoreOutcome.failed(f"DINOv3 failed: {type(exc).__name__}: {exc}")
            else:
                for (i, prep), value in zip(ready, values, strict=True):
                    if math.isfinite(value):
                        outcomes[i] = ScoreOutcome.ok(id=value, **prep.details)
                    else:
                        outcomes[i] = ScoreOutcome.failed(f"non-finite ID ({value})")
        return [o if o is not None else ScoreOutcome.failed("internal: no outcome") for o in outcomes]

    def _prepare(self, item: ScoreInput) -> _Prepared:
        import PIL.Image
        import torch

        from nava_eval.metrics.moviepy_frames import iter_frames

        image_path = item.meta.get("image")
        if not image_path:
            raise IDInputError("no conditioning image: ID scores image-conditioned (I2AV) items only")
        image_path = Path(image_path)
        if not image_path.is_file():
            raise FileNotFoundError(f"conditioning image {image_path} is missing")
        output = Path(item.output)
        if not output.is_file():
            raise FileNotFoundError(f"no such file: {output}")
        proc = self._processor
        pixels = [proc(load_condition_image(image_path), return_tensors="pt")["pixel_values"][0]]
        last_index = None
        n_repeated = 0
        plan = None
        for step_plan, index, frame in iter_frames(output):
            plan = step_plan
            if index == last_index:
                pixels.append(pixels[-1])  # the same frame again: moviepy returns its last read
                n_repeated += 1
                continue
            pixels.append(proc(PIL.Image.fromarray(frame), return_tensors="pt")["pixel_values"][0])
            last_index = index
        if len(pixels) == 1:
            raise ValueError("no frame decoded")
        details = {
            "n_frames": len(pixels) - 1,
            "fps": plan.fps,
            "duration_s": plan.duration,
        }
        if n_repeated:
            details["n_repeated_frames"] = n_repeated
        return _Prepared(torch.stack(pixels), details)

    def _similarities(self, prepared: list[_Prepared]) -> list[float]:
        import torch

        batch = self.batch_size_on(self.device, gpu=64, cpu=8)
        flat = torch.cat([p.pixels for p in prepared])
        feats = []
        with torch.no_grad():
            for s in range(0, flat.shape[0], batch):
                out = self._model(pixel_values=flat[s : s + batch].to(self.device)).last_hidden_state
                feats.append(out[:, FEATURE_TOKEN, :].float().cpu())
        feats_all = torch.cat(feats)
        values = []
        start = 0
        for p in prepared:
            n = p.pixels.shape[0]
            anchor, frames = feats_all[start], feats_all[start + 1 : start + n]
            cos = [cosine64(f, anchor) for f in frames]
            values.append(sum(cos) / len(cos))
            start += n
        return values

    # ------------------------------------------------------------------ aggregation

    def aggregate(self, outcomes: Sequence[ScoreOutcome]) -> dict[str, Any]:
        """Plain mean over scored videos (the toolkit pools set1–3), with counts."""
        ok = [o.values["id"] for o in outcomes if o.status == "ok"]
        return {
            "id": sum(ok) / len(ok) if ok else None,
            "n": len(ok),
            "n_skipped": sum(o.status == "skipped" for o in outcomes),
            "n_failed": sum(o.status == "failed" for o in outcomes),
        }
