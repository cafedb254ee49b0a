"""Speed benchmark (not a test): the audio-visual metrics of a VerseBench pass, each clip decoded once
for all of them vs once per metric.

The metrics are the registered ones that read clips through a shared decode (`media_frame_rates` /
`media_audio`: IB-Score and DeSync, MOVA's one-pass pair), with smoke networks so the comparison is
about reading the files, not the networks. Both sides score the same synthetic clips in the same
process through the scoring pass's own code: per metric, each metric alone over every clip with its
own cache (what a pass did before sharing); decoded once, the metrics in turns on chunks of clips over
one `MediaCache` (runners.score_parallel.score_decoding_once's order). Rounds alternate and each side
keeps its best; the result records the machine, the number of file decodes and the peak bytes held.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nava_eval.errors import InvalidValue
from nava_eval.runners.perf.cpu_bench import MachineInfo


@dataclass(frozen=True)
class DecodeSide:
    label: str
    wall_s: float  # best round
    wall_all: tuple[float, ...]
    decodes: int  # demux passes over a file in the best round
    peak_mib: float  # decoded bytes held at the peak


@dataclass(frozen=True)
class DecodeBenchResult:
    machine: MachineInfo
    metrics: tuple[str, ...]
    clips: int
    seconds_per_clip: float
    size: tuple[int, int]
    chunk: int
    per_metric: DecodeSide  # the reference
    decoded_once: DecodeSide

    @property
    def speedup(self) -> float:
        return self.per_metric.wall_s / self.decoded_once.wall_s


def sharing_metric_names() -> list[str]:
    """Registered metrics whose class declares streams read through a shared decode."""
    from nava_eval.metrics.base import metric_class
    from nava_eval.metrics.registry import METRICS

    return [
        n for n in METRICS if getattr(metric_class(n), "media_frame_rates", ()) or metric_class(n).media_audio
    ]


def bench_decode(
    *,
    clips: int = 8,
    seconds: float = 4.0,
    size: tuple[int, int] = (640, 352),
    chunk: int = 4,
    rounds: int = 2,
    device: str = "cpu",
    metrics: list[str] | None = None,
) -> DecodeBenchResult:
    import torch

    from nava_eval.metrics.base import ScoreInput, get_metric
    from nava_eval.metrics.shared_media import MediaCache
    from nava_eval.runners.perf.sync import write_synthetic_clip

    names = metrics or sharing_metric_names()
    if len(names) < 2:
        raise InvalidValue(
            f"decoding once needs two metrics that share a decode; registered: {names or 'none'}"
        )
    tmp = Path(tempfile.mkdtemp(prefix="nava-bench-decode-"))
    try:
        frames = int(round(seconds * 25))
        paths = [
            write_synthetic_clip(tmp / f"clip{i}.mp4", n_frames=frames, size=size, seed=i)
            for i in range(clips)
        ]
        items = [ScoreInput(p.stem, "set1", p) for p in paths]
        scorers = [get_metric(n, smoke=True, benchmark="versebench") for n in names]
        for m in scorers:
            m.setup(device)
            m.score_batch(items[:1])  # warm-up: networks built, kernels chosen
        sides: dict[str, list[tuple[float, int, int]]] = {"per metric": [], "decoded once": []}
        for _ in range(rounds):
            for label in sides:
                caches = []
                if label == "per metric":
                    for m in scorers:
                        caches.append(MediaCache(type(m).private_media_bytes))
                        m.share_media(caches[-1])
                    t0 = time.perf_counter()
                    for m in scorers:
                        for start in range(0, len(items), chunk):
                            _check(m.name, m.score_batch(items[start : start + chunk]))
                else:
                    caches.append(MediaCache())
                    for m in scorers:
                        m.share_media(caches[0])
                    t0 = time.perf_counter()
                    for start in range(0, len(items), chunk):
                        for m in scorers:
                            _check(m.name, m.score_batch(items[start : start + chunk]))
                wall = time.perf_counter() - t0
                sides[label].append(
                    (wall, sum(c.stats.decodes for c in caches), sum(c.stats.peak_bytes for c in caches))
                )
        machine = MachineInfo.collect(torch.device(device))

        def side(label: str) -> DecodeSide:
            best = min(sides[label])
            return DecodeSide(
                label, best[0], tuple(round(w, 3) for w, _, _ in sides[label]), best[1], best[2] / 2**20
            )

        return DecodeBenchResult(
            machine, tuple(names), clips, seconds, size, chunk, side("per metric"), side("decoded once")
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check(name: str, outcomes: list) -> None:
    bad = [o.reason for o in outcomes if o.status != "ok"]
    if bad:
        raise RuntimeError(f"{name}: bench clips did not score: {bad[:2]}")
