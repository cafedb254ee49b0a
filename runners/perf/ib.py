"""`nava-eval bench ib`: IB-Score seconds per clip, batched (clips of several videos share forwards) vs one at a time.

Both sides use one `ImageBindScore` with its network loaded once, on the same clips in the same
process, rounds alternating so a load spike on a shared machine does not decide the ratio. The
network is ImageBind-huge: the released weights when the weight cache has them, else the same
architecture with seeded random weights (timings valid, scores meaningless; the result says which).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class IBBenchResult:
    clips: int
    device: str
    machine: str
    weights: str
    batched_s_per_clip: float
    one_at_a_time_s_per_clip: float
    speedup: float
    setup_s: float
    rounds_batched: list[float]
    rounds_single: list[float]


def run_ib_bench(
    clips: list[Path] | None = None,
    *,
    n_clips: int = 4,
    seconds: float = 6.04,
    device: str | None = None,
    rounds: int = 2,
    out_json: Path | None = None,
) -> IBBenchResult:
    """Time `score_batch(all clips)` against `score_batch([clip])` per clip; synthetic 6-s clips by default."""
    import torch

    from nava_eval.metrics.base import ScoreInput
    from nava_eval.metrics.ib import ImageBindScore
    from nava_eval.metrics.imagebind_model import ImageBindAV, ImageBindConfig
    from nava_eval.metrics.weights import WeightsError, resolve_weight
    from nava_eval.runners.perf.sync import write_synthetic_clip

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tmp = Path(tempfile.mkdtemp(prefix="nava-bench-ib-"))
    try:
        if not clips:
            frames = int(round(seconds * 25))
            clips = [
                write_synthetic_clip(tmp / f"clip{i}.mp4", n_frames=frames, size=(320, 176), seed=i)
                for i in range(n_clips)
            ]
        items = [ScoreInput(p.stem, "bench", p) for p in clips]
        t0 = time.perf_counter()
        try:
            resolve_weight("imagebind_huge")
            metric, label = ImageBindScore(), "real (weight cache)"
            metric.setup(device)
        except WeightsError:
            metric = ImageBindScore(smoke=True)
            metric.setup(device)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                metric._model = ImageBindAV(ImageBindConfig.huge()).to(device).eval()
            label = "ImageBind-huge architecture, seeded random weights: timings only, scores meaningless"
        setup_s = time.perf_counter() - t0
        metric.score_batch(items[:1])  # warm-up
        batched, single = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            outs = metric.score_batch(items)
            batched.append((time.perf_counter() - t0) / len(items))
            t0 = time.perf_counter()
            for item in items:
                outs += metric.score_batch([item])
            single.append((time.perf_counter() - t0) / len(items))
            bad = [o.reason for o in outs if o.status != "ok"]
            if bad:
                raise RuntimeError(f"bench clips did not score: {bad[:2]}")
        from nava_eval.runners.perf.cpu_bench import MachineInfo

        info = MachineInfo.collect(torch.device(device))
        result = IBBenchResult(
            clips=len(items),
            device=str(device),
            machine=f"{info.device_name} (CPU {info.cpu}, {info.cpu_threads} threads); torch {info.torch_version}",
            weights=label,
            batched_s_per_clip=min(batched),
            one_at_a_time_s_per_clip=min(single),
            speedup=min(single) / min(batched),
            setup_s=setup_s,
            rounds_batched=[round(x, 3) for x in batched],
            rounds_single=[round(x, 3) for x in single],
        )
        if out_json is not None:
            out_json.write_text(json.dumps(asdict(result), indent=2) + "\n")
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
