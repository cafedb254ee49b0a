"""Speed benchmark (not a test) of Ulysses sequence parallelism: one NavaModel forward at SP=1 vs SP=N.

Runs N local processes (gloo on CPU, NCCL on CUDA when --device cuda and N GPUs are visible). In the
same run it times, per forward (median over repeats):
- SP=1 on one process with 1 thread (reference) and with N threads (the same cores as SP=N);
- SP=N on N processes with 1 thread each (CPU) or one GPU each, and the part of that time spent in the
  all-to-alls and the final all-gather (including waiting for the slowest rank).
Ratios are against the reference measured in the same run; every result records the machine.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from nava_eval.errors import InvalidValue
from nava_eval.runners.distributed import spawn_workers
from nava_eval.runners.perf.cpu_bench import MachineInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParallelTiming:
    label: str  # e.g. "sp1 x1 thread", "sp2"
    sp_size: int
    processes: int
    threads_per_process: int
    seconds: float  # median wall time per forward
    seconds_all: tuple[float, ...]
    collective_seconds: float | None  # median per forward inside SP collectives (SP > 1 only)
    # Median CPU time per forward summed over the processes: the work done, insensitive to other load
    # on the machine (wall times on a shared machine are not).
    cpu_seconds: float


@dataclass(frozen=True)
class ParallelBenchResult:
    machine: MachineInfo
    config_name: str
    num_heads: int
    num_layers: int
    video_tokens: int
    audio_tokens: int
    repeats: int
    timings: tuple[ParallelTiming, ...]  # first = the reference (SP=1, one process, one thread)

    def speedup(self, index: int) -> float:
        """Reference time / timings[index] time (>1 = faster than the reference)."""
        return self.timings[0].seconds / self.timings[index].seconds

    def work_ratio(self, index: int) -> float:
        """CPU time of timings[index] / CPU time of the reference (1 = no extra work)."""
        return self.timings[index].cpu_seconds / self.timings[0].cpu_seconds


@dataclass(frozen=True)
class _Spec:
    config_name: str
    num_heads: int | None
    latent_grid: tuple[int, int, int]
    audio_tokens: int
    sp_sizes: tuple[int, ...]
    repeats: int
    warmup: int
    device: str


@contextmanager
def _collective_timer(totals: list[float]) -> Iterator[None]:
    """Accumulate wall time spent in nava.parallel's collectives into totals[0] (CPU: gloo is blocking)."""
    import nava_eval.nava.parallel as parallel

    exchange, gather = parallel._exchange, parallel.SequenceParallel.gather

    def timed(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def wrapper(*args: Any) -> torch.Tensor:
            start = time.perf_counter()
            try:
                return fn(*args)
            finally:
                totals[0] += time.perf_counter() - start

        return wrapper

    parallel._exchange = timed(exchange)
    parallel.SequenceParallel.gather = timed(gather)
    try:
        yield
    finally:
        parallel._exchange = exchange
        parallel.SequenceParallel.gather = gather


def _bench_worker(spec: _Spec) -> dict[str, Any] | None:
    import torch.distributed as dist

    from nava_eval.nava.checkpoint import build_model
    from nava_eval.nava.config import NavaConfig
    from nava_eval.nava.parallel import disable_sequence_parallel, enable_sequence_parallel
    from nava_eval.runners.distributed import init_distributed

    world = max(spec.sp_sizes)
    backend = "nccl" if spec.device == "cuda" else "gloo"
    ctx = init_distributed(sp_size=world, timeout_s=600, backend=backend)
    overrides = {} if spec.num_heads is None else {"num_heads": spec.num_heads}
    config = NavaConfig.for_model(spec.config_name, **overrides)
    torch.manual_seed(0)
    model = build_model(config, ctx.device).eval()
    gen = torch.Generator().manual_seed(0)
    video = torch.randn(1, config.vid_in_dim, *spec.latent_grid, generator=gen).to(ctx.device)
    audio = torch.randn(1, spec.audio_tokens, config.audio_in_dim, generator=gen).to(ctx.device)
    context = torch.randn(1, config.text_len, config.text_dim, generator=gen).to(ctx.device)
    timestep = torch.tensor([500], device=ctx.device)

    def sync() -> None:
        if ctx.device.type == "cuda":
            torch.cuda.synchronize(ctx.device)

    def time_forwards(group_barrier: bool) -> tuple[list[float], list[float], list[float]]:
        seconds, collective, cpu = [], [], []
        for i in range(spec.warmup + spec.repeats):
            if group_barrier:
                dist.barrier()
            sync()
            totals = [0.0]
            cpu_start = time.process_time()
            start = time.perf_counter()
            on_gpu = ctx.device.type == "cuda"
            with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, on_gpu), _collective_timer(totals):
                model(video, audio, timestep, context)
            sync()
            if i >= spec.warmup:
                seconds.append(time.perf_counter() - start)
                collective.append(totals[0])
                cpu.append(time.process_time() - cpu_start)
        if group_barrier:  # sum every rank's CPU time, iteration by iteration
            summed = torch.tensor(cpu, dtype=torch.float64)
            dist.all_reduce(summed)
            cpu = summed.tolist()
        return seconds, collective, cpu

    out: dict[str, Any] = {"heads": config.num_heads, "layers": config.num_layers, "timings": []}
    # References on rank 0 while the other ranks wait, so they do not compete for the cores.
    if ctx.rank == 0:
        thread_counts = [1] if ctx.device.type == "cuda" else sorted({1, world})
        for threads in thread_counts:
            torch.set_num_threads(threads)
            seconds, _, cpu = time_forwards(group_barrier=False)
            out["timings"].append(("sp1", 1, 1, threads, seconds, None, cpu))
        torch.set_num_threads(1)
    dist.barrier()
    for sp_size in spec.sp_sizes:
        if sp_size == 1:
            continue
        grid = init_distributed(sp_size=sp_size, timeout_s=600, backend=backend, num_heads=config.num_heads)
        enable_sequence_parallel(model, grid.sp_group)
        seconds, collective, cpu = time_forwards(group_barrier=True)
        disable_sequence_parallel(model)
        out["timings"].append((f"sp{sp_size}", sp_size, world, 1, seconds, collective, cpu))
    return out if ctx.rank == 0 else None


def bench_parallel(
    sp_sizes: tuple[int, ...] = (2,),
    *,
    config_name: str = "nava-tiny",
    num_heads: int | None = None,
    latent_grid: tuple[int, int, int] = (3, 16, 16),
    audio_tokens: int = 50,
    repeats: int = 5,
    warmup: int = 1,
    device: str = "cpu",
    timeout_s: float = 600.0,
) -> ParallelBenchResult:
    """Time SP=1 (references) and each SP size in sp_sizes on max(sp_sizes) local processes."""
    from nava_eval.nava.config import NavaConfig
    from nava_eval.nava.parallel import check_heads

    if not sp_sizes or min(sp_sizes) < 1:
        raise InvalidValue(f"sp sizes must be >= 1, got {sp_sizes}")
    world = max(sp_sizes)
    for size in sp_sizes:
        if world % size:
            raise InvalidValue(f"every SP size must divide the largest ({world}); {size} does not")
    overrides = {} if num_heads is None else {"num_heads": num_heads}
    config = NavaConfig.for_model(config_name, **overrides)
    for size in sp_sizes:
        check_heads(config.num_heads, size)
    if device == "cuda" and torch.cuda.device_count() < world:
        raise InvalidValue(f"SP {world} on CUDA needs {world} GPUs; {torch.cuda.device_count()} visible")

    spec = _Spec(config_name, num_heads, latent_grid, audio_tokens, tuple(sp_sizes), repeats, warmup, device)
    rank0 = spawn_workers(_bench_worker, world, spec, timeout_s=timeout_s)[0]
    timings = tuple(
        ParallelTiming(
            label=f"{label} x{threads} thread{'s' if threads > 1 else ''}" if size == 1 else label,
            sp_size=size,
            processes=procs,
            threads_per_process=threads,
            seconds=statistics.median(seconds),
            seconds_all=tuple(seconds),
            collective_seconds=None if collective is None else statistics.median(collective),
            cpu_seconds=statistics.median(cpu),
        )
        for label, size, procs, threads, seconds, collective, cpu in rank0["timings"]
    )
    pt, ph, pw = config.patch_size
    video_tokens = (latent_grid[0] // pt) * (-(-latent_grid[1] // ph)) * (-(-latent_grid[2] // pw))
    return ParallelBenchResult(
        machine=MachineInfo.collect(torch.device(device)),
        config_name=config_name,
        num_heads=rank0["heads"],
        num_layers=rank0["layers"],
        video_tokens=video_tokens,
        audio_tokens=audio_tokens,
        repeats=repeats,
        timings=timings,
    )
