"""How much of a run is the harness: everything except the model's denoising and the VAE decode.

Runs the smoke preset's generate stage (and optionally scoring) in a temporary run directory and
splits wall time into model work (denoise + decode, as the pipeline times them) and the rest
(loading, text encoding, image encoding, writing, bookkeeping).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nava_eval.benchmarks.base import SampleSelection
from nava_eval.runners.perf.cpu_bench import MachineInfo


@dataclass(frozen=True)
class HarnessTiming:
    benchmark: str
    samples: int
    generate_wall_s: float
    model_s: float  # denoise + decode, summed over samples
    overhead_share: float  # 1 − model_s / generate_wall_s
    score_wall_s: float | None
    machine: MachineInfo


def bench_harness(
    benchmark: str = "versebench", score: bool = True, limit: int | None = None
) -> HarnessTiming:
    """Time the smoke preset end to end in a temporary directory."""
    from nava_eval.rundir.records import latest_by_id
    from nava_eval.runners.launch import generate_in_process
    from nava_eval.runners.run import RunRequest, prepare_run
    from nava_eval.runners.score_parallel import score_run

    with tempfile.TemporaryDirectory() as tmp:
        request = RunRequest(
            benchmark=benchmark,
            preset="smoke",
            run_dir=Path(tmp) / "run",
            selection=SampleSelection(limit=limit),
            device="cpu",
            progress=False,
        )
        prepared = prepare_run(request)
        t0 = time.perf_counter()
        generate_in_process(prepared)
        generate_wall = time.perf_counter() - t0
        records = latest_by_id(prepared.run_dir.all_records()).values()
        model = sum(r.timings.get("denoise", 0.0) + r.timings.get("decode", 0.0) for r in records)
        score_wall = None
        if score:
            t0 = time.perf_counter()
            score_run(prepared)
            score_wall = time.perf_counter() - t0
    wall_s, model_s = round(generate_wall, 3), round(model, 3)
    return HarnessTiming(
        benchmark=benchmark,
        samples=len(prepared.samples),
        generate_wall_s=wall_s,
        model_s=model_s,
        overhead_share=round(1 - model_s / wall_s, 4),
        score_wall_s=None if score_wall is None else round(score_wall, 3),
        machine=MachineInfo.collect(torch.device("cpu")),
    )
