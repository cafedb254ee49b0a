"""Speed benchmark (not a test) of data-parallel scoring: clips/s with N scoring processes vs one.

Synthesises `clips` short videos (seeded noise + a tone), imports them as a run directory, and scores
fresh copies of it with the same metric through the same launcher (torch's elastic launcher, the path
of `nava-eval score --nproc`), once with one process and once with N, each process limited to
`threads` threads so the only difference is the number of processes. Rounds alternate 1 and N and each
side keeps its best, which damps other load on a shared machine. Reported per side: wall-clock clips/s
(launch, model loading, scoring and the fold included) and CPU seconds; the ratio of throughputs is
against the one-process reference measured in the same run, and the result records the machine and
its load average before and after.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nava_eval.errors import InvalidValue
from nava_eval.runners.perf.cpu_bench import MachineInfo


@dataclass(frozen=True)
class ScoringTiming:
    processes: int
    threads_per_process: int
    wall_s: float  # best round: the whole `score` call (launch, imports, model loading, scoring, fold)
    wall_all: tuple[float, ...]
    score_s: float  # best round: the slowest rank's scoring loop (metric setup included, launch not)
    cpu_s: float  # CPU seconds of the worker processes in the best round (insensitive to other load)
    clips_per_s: float  # clips / wall_s
    score_clips_per_s: float  # clips / score_s


@dataclass(frozen=True)
class ScoringBenchResult:
    machine: MachineInfo
    metric: str
    clips: int
    rounds: int
    device: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    timings: tuple[ScoringTiming, ...]  # first = the one-process reference

    def speedup(self, index: int) -> float:
        """Throughput of timings[index] / the one-process reference's."""
        return self.timings[index].clips_per_s / self.timings[0].clips_per_s

    def scaling(self, index: int) -> float:
        """Speed-up ÷ processes: 1.0 is linear scaling."""
        return self.speedup(index) / self.timings[index].processes

    def score_scaling(self, index: int) -> float:
        """As `scaling`, for the scoring loops alone (no process launch)."""
        ratio = self.timings[index].score_clips_per_s / self.timings[0].score_clips_per_s
        return ratio / self.timings[index].processes


def _write_clips(folder: Path, clips: int, frames: int, size: int) -> None:
    from nava_eval.nava.media import write_mp4

    ids = _clip_ids(clips)
    for n, item in enumerate(ids):
        rng = np.random.default_rng(n)
        pixels = rng.integers(0, 256, size=(frames, size, size, 3), dtype=np.uint8)
        t = np.arange(int(16000 * frames / 8)) / 16000
        tone = (0.3 * np.sin(2 * np.pi * (220 + 7 * n) * t))[None].astype(np.float32)
        write_mp4(folder / f"{item}.mp4", pixels, 8, tone, sample_rate=16000)


def _clip_ids(clips: int) -> list[str]:
    """Item ids of the bench's own prompt file (a `jsonl:PATH` benchmark), one per clip."""
    return [f"clip{n:04d}" for n in range(clips)]


def _prompt_file(folder: Path, clips: int) -> Path:
    import json

    path = folder / "bench_prompts.jsonl"
    lines = [json.dumps({"id": i, "prompt": f"bench clip {i}"}) for i in _clip_ids(clips)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _score_once(
    template: Path, work: Path, nproc: int, threads: int, metric: str, device: str
) -> tuple[float, float]:
    from nava_eval.runners.run import load_prepared
    from nava_eval.runners.score_parallel import score_with_workers

    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work)
    prepared = load_prepared(
        work,
        {"metrics": (metric,), "device": device, "progress": False, "nproc": nproc, "batch_size": 4},
    )
    cpu0 = _children_cpu()
    start = time.perf_counter()
    summaries = score_with_workers(prepared, [metric], threads=threads)
    wall = time.perf_counter() - start
    scored = sum(s.scored + s.skipped + s.failed for s in summaries)
    if scored == 0:
        raise RuntimeError(f"the {metric} pass scored nothing in {work}; the bench measured no work")
    return wall, max(s.seconds for s in summaries), _children_cpu() - cpu0


def bench_scoring(
    nproc: int = 2,
    *,
    clips: int = 48,
    metric: str = "video_quality",
    rounds: int = 2,
    threads: int = 1,
    frames: int = 24,
    size: int = 64,
    device: str = "cpu",
    workdir: Path | None = None,
) -> ScoringBenchResult:
    """Score `clips` synthetic clips with the smoke `metric` on 1 and on `nproc` processes; best of `rounds`."""
    import torch

    from nava_eval.runners.importing import ImportRequest, import_outputs

    if nproc < 2:
        raise InvalidValue(f"--nproc must be at least 2 to compare with one process, got {nproc}")
    if clips < nproc:
        raise InvalidValue(f"--clips {clips} is fewer than --nproc {nproc}: some processes would idle")
    load_before = os.getloadavg()
    own = workdir is None
    base = Path(tempfile.mkdtemp(prefix="nava-bench-scoring-")) if own else Path(workdir)
    try:
        source = base / "clips"
        source.mkdir(parents=True, exist_ok=True)
        _write_clips(source, clips, frames, size)
        prompts = _prompt_file(base, clips)
        template = base / "template"
        import_outputs(
            ImportRequest(
                f"jsonl:{prompts}", source, "bench", run_dir=template, preset="smoke", transfer="copy"
            )
        )
        runs: dict[int, list[tuple[float, float, float]]] = {1: [], nproc: []}
        for _ in range(rounds):
            for n in (1, nproc):
                runs[n].append(_score_once(template, base / f"run-{n}", n, threads, metric, device))
        timings = []
        for n in (1, nproc):
            wall, score_s, cpu = min(runs[n])
            walls = tuple(r[0] for r in runs[n])
            timings.append(
                ScoringTiming(n, threads, wall, walls, score_s, cpu, clips / wall, clips / score_s)
            )
        return ScoringBenchResult(
            machine=MachineInfo.collect(torch.device(device if device == "cpu" else "cuda")),
            metric=metric,
            clips=clips,
            rounds=rounds,
            device=device,
            load_before=load_before,
            load_after=os.getloadavg(),
            timings=tuple(timings),
        )
    finally:
        if own:
            shutil.rmtree(base, ignore_errors=True)
