"""IB-Score, protocol `ib/mova-imagebind-huge-v1`: ImageBind-huge audio-visual cosine as MOVA's toolkit.

Per video, the vision embedding of its 0.5-fps frame pairs and the audio embedding of three 2-s mel clips
(`metrics.imagebind_data` builds both), then their cosine; VerseBench averages per-set means. Our own
ImageBind implementation (`metrics.imagebind_model`) reads the CC-BY-NC-4.0 weights, fetched only on
request. Pipeline, what is skipped, reference vectors and differences: docs/protocols/ib.md.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.user_files import file_problem

log = logging.getLogger(__name__)

PROTOCOL = "ib/mova-imagebind-huge-v1"
WEIGHT_NAMES = ("imagebind_huge",)
DURATION_MARGIN = 0.1  # run_eval.sh passes --duration "video_second - 0.1"
MIN_SMOKE_SECONDS = 2.0  # smoke clips are 1.6 s; smoke mode lifts them to one vision frame


@dataclass
class _Inputs:
    """One item's network inputs and what the record says about them."""

    clips: Any  # torch [S, 3, 2, 224, 224]
    mels: Any  # torch [3, 1, 128, 204]
    details: dict[str, Any]


class ImageBindScore(BaseMetric):
    """IB-Score. Options: video_second, batch_size (clips per forward), workers, details, autocast."""

    name = "ib"
    protocol = PROTOCOL
    fields = (
        MetricField(
            "ib",
            "higher",
            "",
            "ImageBind-huge cosine of vision (0.5-fps frame pairs, 3 crops) and audio (3 × 2-s mel) embeddings",
        ),
    )
    requires = frozenset({"video", "audio"})
    description = "IB-Score: ImageBind-huge audio-visual alignment as MOVA's evaluation toolkit computes it"
    weight_names = WEIGHT_NAMES
    # MOVA's eval_av_quality decodes 0.5-fps frames and the audio in the pass that feeds DeSync too
    media_frame_rates = (Fraction(1, 2),)
    media_audio = True

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, str | os.PathLike] | None = None,
        benchmark: str | None = None,
        video_second: float | None = None,
        batch_size: int | None = None,
        workers: int | None = None,
        details: bool = False,
        autocast: bool | None = None,
        seed: int = 0,
        **_ignored: Any,
    ) -> None:
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.video_second = video_second
        self.workers = workers or max(2, min(8, (os.cpu_count() or 2) // 2))
        self.details = details
        self.autocast = autocast
        self._model = None

    # ------------------------------------------------------------------ setup

    def _loaded(self) -> bool:
        return self._model is not None

    def _load(self, device: str) -> None:
        """ImageBind's vision and audio towers with their weights."""
        import torch

        from nava_eval.metrics.imagebind_model import ImageBindAV, ImageBindConfig, load_imagebind_state

        if self.smoke:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model = ImageBindAV(ImageBindConfig.tiny())
            self.weights_provenance = {"imagebind_huge": {"source": f"tiny random network, seed {self.seed}"}}
        else:
            self.weights_provenance = {}
            path = self.resolve_weight("imagebind_huge")
            with torch.device("meta"):
                model = ImageBindAV(ImageBindConfig.huge())
            model = model.to_empty(device="cpu")
            unused = load_imagebind_state(model, _read_state(path))
            log.info("ImageBind: vision and audio loaded, %d keys of other modalities set aside", len(unused))
        self._model = model.to(device).eval()

    # ------------------------------------------------------------------ scoring

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        """One outcome per item, in order; decoding runs in threads, the networks on batches of clips."""
        if self._model is None:
            self.setup(self.device)
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        ready: list[tuple[int, _Inputs]] = []
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(self._prepare, Path(it.output)) for it in items]
            for i, fut in enumerate(futures):
                try:
                    ready.append((i, fut.result()))
                except Exception as exc:  # noqa: BLE001 (one bad file is one outcome)
                    outcomes[i] = _outcome_for_exception(exc, Path(items[i].output))
        if ready:
            try:
                scores = self._cosines([inp for _, inp in ready])
            except Exception as exc:  # noqa: BLE001 (a failing batch must not sink the run)
                log.exception("ImageBind scoring failed")
                for i, _ in ready:
                    outcomes[i] = ScoreOutcome.failed(f"ImageBind failed: {type(exc).__name__}: {exc}")
            else:
                for (i, inp), (value, extra) in zip(ready, scores, strict=True):
                    if math.isfinite(value):
                        outcomes[i] = ScoreOutcome.ok(ib=value, **inp.details, **extra)
                    else:
                        outcomes[i] = ScoreOutcome.failed(f"non-finite IB-Score ({value})")
        return [o if o is not None else ScoreOutcome.failed("internal: no outcome") for o in outcomes]

    def _prepare(self, path: Path) -> _Inputs:
        from nava_eval.metrics import imagebind_data as ibd

        if (problem := file_problem(path)) is not None:  # missing, or a FIFO that would block
            raise FileNotFoundError(f"{path}: {problem}")
        seconds = _container_seconds(path)
        video_second = self.video_second if self.video_second is not None else float(round(seconds))
        duration = round(video_second - DURATION_MARGIN, 6)
        if self.smoke:
            duration = max(duration, MIN_SMOKE_SECONDS)
        audio = self.media.audio(path)
        if not self.smoke:
            short = ibd.audio_too_short(audio, duration)
            if short:
                raise ibd.IBInputError(short)
        count = ibd.vision_frame_count(duration)
        if count == 0:
            raise ibd.IBInputError(
                f"clip duration {duration:g} s gives no vision frame (⌊0.5·duration⌋ = 0): the toolkit's "
                "encode_video_with_imagebind fails on it"
            )
        frames = self.media.frames(path, ibd.IB_FPS, count)
        details = {
            "video_second": video_second,
            "clip_duration_s": duration,
            "vision_frames": int(len(frames)),
            "vision_frames_used": count,
            "audio_channels": int(audio.samples.shape[0]),
            "audio_sample_rate": audio.sample_rate,
            "audio_seconds": round(audio.samples.shape[1] / audio.sample_rate, 4),
        }
        if len(frames) < count:
            details["note"] = (
                f"video shorter than {count} frames at 0.5 fps: last frame repeated, as the toolkit does"
            )
        frames = ibd.pad_frames(frames, count)
        return _Inputs(ibd.vision_clips(frames), ibd.audio_mels(audio), details)

    def _cosines(self, inputs: list[_Inputs]) -> list[tuple[float, dict[str, Any]]]:
        import torch

        model = self._model
        on_gpu = str(self.device).startswith("cuda")
        use_autocast = on_gpu if self.autocast is None else self.autocast
        batch = self.batch_size_on(self.device, gpu=48, cpu=6)

        def per_item(modality: str, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
            flat = torch.cat(tensors)
            out = []
            for s in range(0, flat.shape[0], batch):
                chunk = flat[s : s + batch].to(self.device)
                with torch.autocast("cuda", dtype=torch.float16, enabled=use_autocast and on_gpu):
                    out.append(model.encode_clips(modality, chunk).float().cpu())
            emb = torch.cat(out)
            bounds = [0, *torch.tensor([t.shape[0] for t in tensors]).cumsum(0).tolist()]
            # the official forward averages the normalised clip embeddings of each item
            return [emb[a:b].mean(dim=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

        with torch.no_grad():
            vision = per_item("vision", [inp.clips for inp in inputs])
            audio = per_item("audio", [inp.mels for inp in inputs])
        results = []
        for v, a, inp in zip(vision, audio, inputs, strict=True):
            value = float(torch.cosine_similarity(v[None], a[None], dim=-1)[0])
            extra: dict[str, Any] = {"n_vision_clips": int(inp.clips.shape[0])}
            if self.details:
                extra["vision_embedding"] = v.tolist()
                extra["audio_embedding"] = a.tolist()
            results.append((value, extra))
        return results

    # ------------------------------------------------------------------ aggregation

    def aggregate(self, outcomes: Sequence[ScoreOutcome]) -> dict[str, Any]:
        """Mean over scored videos, with counts (VerseBench's mean of per-set means is its FieldRule)."""
        ok = [o.values["ib"] for o in outcomes if o.status == "ok"]
        return {
            "ib": sum(ok) / len(ok) if ok else None,
            "n": len(ok),
            "n_skipped": sum(o.status == "skipped" for o in outcomes),
            "n_failed": sum(o.status == "failed" for o in outcomes),
        }


def _read_state(path: Path) -> Mapping[str, Any]:
    """A state dict from `.safetensors` or a torch file read with weights_only=True (never unpickled)."""
    from nava_eval.weight_files import read_safetensors_file, read_torch_file

    what = "the ImageBind-huge weights"
    if path.suffix == ".safetensors":
        return read_safetensors_file(path, what)
    state = read_torch_file(path, what)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: not a state dict (got {type(state).__name__})")
    return state


def _container_seconds(path: Path) -> float:
    import av

    from nava_eval.metrics.imagebind_data import IBInputError

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise IBInputError("no video stream")
            if container.duration:
                return container.duration / 1_000_000
            stream = container.streams.video[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
    except IBInputError:
        raise
    except Exception as exc:  # noqa: BLE001 (av raises many kinds for broken files)
        raise ValueError(f"cannot read the container ({type(exc).__name__}: {exc})") from exc
    raise IBInputError("the container states no duration")


def _outcome_for_exception(exc: BaseException, path: Path) -> ScoreOutcome:
    from nava_eval.metrics.shared_media import MediaDecodeProblem

    if isinstance(exc, MediaDecodeProblem):  # IBInputError too: the protocol cannot take this clip
        return ScoreOutcome.skipped(str(exc))
    if isinstance(exc, FileNotFoundError):
        return ScoreOutcome.failed(str(exc))
    return ScoreOutcome.failed(f"cannot decode {path.name}: {type(exc).__name__}: {exc}")
