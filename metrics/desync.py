"""DeSync, protocol `desync/mova-synchformer-v1`: Synchformer's predicted audio-visual offset, as MOVA's toolkit.

OpenMOSS/MOVA `evaluation/metrics/av_quality/eval_av_quality.py` (`evaluate_audio_video`, commit
595a976) with `av_bench/synchformer` and the weights `synchformer_state_dict.pth`: the clip's
first ⌊25·d⌋ frames and ⌊16000·d⌋ samples (d = video_second − 0.1, as run_eval.sh passes it),
Synchformer features of every 16-frame / 10240-sample segment (`metrics.synchformer_inputs`), the
offset logits of the first 14 segments and of the last 14, |grid[argmax]| of each on the 21-class
grid from −2 to +2 s, and their mean, in seconds (lower is better). VerseBench reports the mean of
the per-set means over set1–3 (its FieldRule), as the toolkit's "all".

Pipeline, what is skipped, tolerances and differences: docs/protocols/desync.md.
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
from nava_eval.metrics.ib import DURATION_MARGIN  # the same run_eval.sh rule: video_second − 0.1
from nava_eval.user_files import file_problem

log = logging.getLogger(__name__)

PROTOCOL = "desync/mova-synchformer-v1"
WEIGHT_NAME = "synchformer"
SMOKE_MIN_SECONDS = 4.8  # smoke clips are 1.6 s; smoke mode lifts them to one 14-segment window

FIELDS = (
    MetricField(
        "desync",
        "lower",
        "s",
        "Synchformer |offset| (21 classes, ±2 s) of the first and the last 14 segments, mean",
    ),
)


@dataclass
class SyncInputs:
    """One clip's network inputs: normalised frames and log-mel segments, with what the record says."""

    video: Any  # torch [S, 16, 3, 224, 224]
    mels: Any  # torch [S, 128, 66]
    details: dict[str, Any]


def mova_inputs(path: Path, video_second: float | None, smoke: bool = False, media: Any = None) -> SyncInputs:
    """MOVA's Synchformer inputs for one clip (`SyncInputError` when the toolkit would not score it).

    `media`: the pass's `MediaCache` (the clip decoded once with IB-Score's streams), else a private one.
    """
    import torch

    from nava_eval.metrics import synchformer_inputs as si
    from nava_eval.metrics.ib import _container_seconds
    from nava_eval.metrics.imagebind_data import IBInputError
    from nava_eval.metrics.shared_media import MediaCache, MediaDecodeProblem

    if media is None:
        media = MediaCache(max_bytes=0)

    if (problem := file_problem(path)) is not None:
        raise FileNotFoundError(f"{path}: {problem}")
    try:
        seconds = _container_seconds(path)
    except IBInputError as exc:
        raise si.SyncInputError(str(exc)) from exc
    second = video_second if video_second is not None else float(round(seconds))
    duration = round(second - DURATION_MARGIN, 6)
    if smoke:
        duration = max(duration, SMOKE_MIN_SECONDS)
    try:
        audio = media.audio(path)
    except MediaDecodeProblem as exc:
        raise si.SyncInputError(f"{exc}: MOVA's dataset fails to load the item and drops it") from exc
    wave = si.mono_16k(audio.samples, audio.sample_rate)
    needed = int(si.SAMPLE_RATE * duration)
    if wave.shape[0] < needed:
        if not smoke:
            raise si.SyncInputError(
                f"audio is {wave.shape[0] / si.SAMPLE_RATE:.2f} s, shorter than the clip duration {duration:g} s: "
                "MOVA's dataset raises 'Audio is too short' and drops the item"
            )
        wave = torch.nn.functional.pad(wave, (0, needed - wave.shape[0]))
    wave = wave[:needed]
    try:
        frames, decoded = si.video_frames(path, duration, media)
    except MediaDecodeProblem as exc:
        raise si.SyncInputError(f"{exc}: MOVA's dataset fails to load the item and drops it") from exc
    n_video = si.segment_count(frames.shape[0], si.VIDEO_SEGMENT, si.VIDEO_STEP)
    n_audio = si.segment_count(needed, si.AUDIO_SEGMENT, si.AUDIO_STEP)
    if min(n_video, n_audio) < si.WINDOW_SEGMENTS:
        raise si.SyncInputError(
            f"clip duration {duration:g} s gives {min(n_video, n_audio)} segments, fewer than the "
            f"{si.WINDOW_SEGMENTS} of one Synchformer window (4.8 s): the toolkit's compare_v_a fails on it"
        )
    video = si.video_segments(si.sync_transform(frames))
    mels = si.log_mels(si.audio_segments(wave))
    details: dict[str, Any] = {
        "video_second": second,
        "clip_duration_s": duration,
        "n_segments_video": int(n_video),
        "n_segments_audio": int(n_audio),
        "audio_channels": int(audio.samples.shape[0]),
        "audio_sample_rate": int(audio.sample_rate),
    }
    if decoded < frames.shape[0]:
        details["note"] = (
            f"{decoded} frames at 25 fps, last frame repeated to {frames.shape[0]} as the toolkit does"
        )
    return SyncInputs(video, mels, details)


def load_network(metric: BaseMetric, weight_name: str, device: str) -> Any:
    """The shared Synchformer (smoke: tiny seeded random; else the weight file), cached per process."""
    import torch

    from nava_eval.metrics.synchformer_inputs import shared_network
    from nava_eval.metrics.synchformer_model import (
        Synchformer,
        SynchformerConfig,
        init_random,
        load_synchformer_state,
    )

    if metric.smoke:
        metric.weights_provenance = {weight_name: {"source": f"tiny random network, seed {metric.seed}"}}

        def build() -> Any:
            return init_random(Synchformer(SynchformerConfig.tiny()), metric.seed).to(device).eval()

        return shared_network(("smoke", metric.seed, device), build)
    path = metric.resolve_weight(weight_name)

    def build_full() -> Any:
        with torch.device("meta"):
            model = Synchformer(SynchformerConfig.full())
        model = model.to_empty(device="cpu")
        load_synchformer_state(model, _read_state(path))
        return model.to(device).eval()

    return shared_network((str(path), os.path.getmtime(path), device), build_full)


def _read_state(path: Path) -> Mapping[str, Any]:
    from nava_eval.weight_files import read_safetensors_file, read_torch_file

    what = "the Synchformer weights"
    if path.suffix == ".safetensors":
        return read_safetensors_file(path, what)
    state = read_torch_file(path, what)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: not a state dict (got {type(state).__name__})")
    return state


def segment_features(model: Any, inputs: list[Any], device: str, batch: int, autocast: bool) -> list[tuple]:
    """(video [S, 8, D], audio [S, 6, D]) features of each clip, segments of all clips batched together."""
    import torch

    def run(fn: Any, tensors: list[Any]) -> list[Any]:
        flat = torch.cat(tensors)
        out = []
        for s in range(0, flat.shape[0], batch):
            chunk = flat[s : s + batch].to(device)
            with torch.autocast("cuda", dtype=torch.float16, enabled=autocast):
                out.append(fn(chunk[None])[0].float())
        feats = torch.cat(out)
        bounds = [0, *torch.tensor([t.shape[0] for t in tensors]).cumsum(0).tolist()]
        return [feats[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    with torch.no_grad():
        video = run(model.video_features, [inp.video for inp in inputs])
        audio = run(model.audio_features, [inp.mels for inp in inputs])
    return list(zip(video, audio, strict=True))


def window_logits(model: Any, windows: list[tuple[Any, Any]], device: str, autocast: bool) -> Any:
    """Offset logits [N, 21] of N windows (video [14, 8, D], audio [14, 6, D]), one forward."""
    import torch

    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=autocast):
        v = torch.stack([w[0] for w in windows]).to(device)
        a = torch.stack([w[1] for w in windows]).to(device)
        return model.offset_logits(v, a).float().cpu()


class SynchformerMetric(BaseMetric):
    """What DeSync and AV-A share: one Synchformer per process, decode workers, the toolkits' autocast.

    Constructed as `Cls(*, smoke, weights, benchmark, batch_size, workers, autocast, seed)`; a
    subclass adds its own options and its protocol's inputs and reduction in `score_batch`.
    """

    weight_names = (WEIGHT_NAME,)

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, str | os.PathLike] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        workers: int | None = None,
        autocast: bool | None = None,
        seed: int = 0,
        **_ignored: Any,
    ) -> None:
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.workers = workers or max(1, min(4, (os.cpu_count() or 2) // 2))
        self.autocast = autocast
        self._model = None

    def _loaded(self) -> bool:
        return self._model is not None

    def _load(self, device: str) -> None:
        self._model = load_network(self, WEIGHT_NAME, device)

    def _use_autocast(self) -> bool:
        """fp16 autocast on CUDA unless turned off, as both toolkits run Synchformer; fp32 on CPU."""
        on_gpu = str(self.device).startswith("cuda")
        return on_gpu and (self.autocast is None or self.autocast)


class DeSync(SynchformerMetric):
    """DeSync. Options: video_second, batch_size (segments per forward), workers, autocast."""

    name = "desync"
    protocol = PROTOCOL
    fields = FIELDS
    requires = frozenset({"video", "audio"})
    description = "DeSync: Synchformer audio-visual offset (s) as MOVA's evaluation toolkit computes it"
    # MOVA's eval_av_quality decodes the 25-fps frames and the audio in the pass that feeds IB-Score too
    media_frame_rates = (Fraction(25),)
    media_audio = True

    def __init__(self, *, video_second: float | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.video_second = video_second

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        """One outcome per item, in order; clips decode in threads, segments of all clips share forwards."""
        from nava_eval.metrics.synchformer_inputs import WINDOW_SEGMENTS, SyncInputError
        from nava_eval.metrics.synchformer_model import offset_grid

        if self._model is None:
            self.setup(self.device)
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        ready: list[tuple[int, SyncInputs]] = []
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [
                pool.submit(mova_inputs, Path(it.output), self.video_second, self.smoke, self.media)
                for it in items
            ]
            for i, fut in enumerate(futures):
                try:
                    ready.append((i, fut.result()))
                except SyncInputError as exc:
                    outcomes[i] = ScoreOutcome.skipped(str(exc))
                except Exception as exc:  # noqa: BLE001 (one bad file is one outcome)
                    outcomes[i] = ScoreOutcome.failed(
                        f"cannot decode {Path(items[i].output).name}: {type(exc).__name__}: {exc}"
                    )
        if ready:
            try:
                grid = offset_grid(self._model.cfg)
                batch = self.batch_size_on(self.device, gpu=64, cpu=4)
                auto = self._use_autocast()
                feats = segment_features(self._model, [inp for _, inp in ready], self.device, batch, auto)
                n = WINDOW_SEGMENTS
                windows = [w for v, a in feats for w in ((v[:n], a[:n]), (v[-n:], a[-n:]))]
                logits = window_logits(self._model, windows, self.device, auto)
            except Exception as exc:  # noqa: BLE001 (a failing batch must not sink the run)
                log.exception("Synchformer scoring failed")
                for i, _ in ready:
                    outcomes[i] = ScoreOutcome.failed(f"Synchformer failed: {type(exc).__name__}: {exc}")
            else:
                top = logits.argmax(dim=-1)
                for k, (i, inp) in enumerate(ready):
                    first = float(grid[top[2 * k]])
                    last = float(grid[top[2 * k + 1]])
                    value = (abs(first) + abs(last)) / 2
                    if math.isfinite(value):
                        outcomes[i] = ScoreOutcome.ok(
                            desync=value, offset_first_s=first, offset_last_s=last, **inp.details
                        )
                    else:
                        outcomes[i] = ScoreOutcome.failed(f"non-finite DeSync ({value})")
        return [o if o is not None else ScoreOutcome.failed("internal: no outcome") for o in outcomes]

    def aggregate(self, outcomes: Sequence[ScoreOutcome]) -> dict[str, Any]:
        """Mean over scored clips, with counts (VerseBench's mean of per-set means is its FieldRule)."""
        ok = [o.values["desync"] for o in outcomes if o.status == "ok"]
        return {
            "desync": sum(ok) / len(ok) if ok else None,
            "n": len(ok),
            "n_skipped": sum(o.status == "skipped" for o in outcomes),
            "n_failed": sum(o.status == "failed" for o in outcomes),
        }
