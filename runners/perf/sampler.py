"""Sampler speed benchmark: the 2–4 guidance passes of one denoising step, sequential vs batched.

The official sampler runs C, U, M (and S with speaker wavs) as separate DiT forwards; NavaPipeline can
stack them into one batched forward (`PipelineOptions.cfg_batch`). This measures what that buys on a
given machine, and checks the batched outputs against the sequential ones (fp32: within 1e-5).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from nava_eval.nava.checkpoint import build_model, inference_autocast
from nava_eval.nava.config import NavaConfig
from nava_eval.nava.sampling import build_passes, evaluate_passes
from nava_eval.runners.perf.cpu_bench import BENCH_CONFIGS, MachineInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchTiming:
    max_batch: int  # passes per forward (1 = the official sequential order)
    seconds: float  # median time of all passes of one step
    seconds_all: tuple[float, ...]
    speedup: float  # sequential median ÷ this median
    peak_memory_bytes: int | None  # CUDA only


@dataclass(frozen=True)
class CfgBatchingResult:
    machine: MachineInfo
    config_name: str
    dtype: str
    passes: tuple[str, ...]
    video_tokens: int
    audio_tokens: int
    timings: tuple[BatchTiming, ...]
    max_abs_diff: float  # batched vs sequential outputs, largest over passes and settings


def bench_cfg_batching(
    config_name: str = "mid",
    *,
    device: str = "cpu",
    latent_grid: tuple[int, int, int] | None = None,
    audio_tokens: int | None = None,
    passes: Sequence[str] = ("C", "U", "M", "S"),
    batch_sizes: Sequence[int] | None = None,
    repeats: int = 5,
    warmup: int = 1,
    seed: int = 0,
) -> CfgBatchingResult:
    """Time one step's guidance passes at each `max_batch` (default 1, 2 and all) on random weights.

    config_name: a key of runners.bench.BENCH_CONFIGS or a model preset; latent_grid: video (T, H, W).
    """
    dev = torch.device(device)
    on_gpu = dev.type == "cuda"
    config = BENCH_CONFIGS.get(config_name) or NavaConfig.for_model(config_name)
    grid = latent_grid or ((9, 44, 80) if on_gpu else (3, 16, 16))
    n_audio = audio_tokens if audio_tokens is not None else (38 if on_gpu else 13)
    sizes = tuple(batch_sizes or sorted({1, 2, len(passes)}))
    if 1 not in sizes:
        sizes = (1, *sizes)

    torch.manual_seed(seed)
    model = build_model(config, dev).eval()
    if on_gpu:
        model.to(torch.bfloat16)
    gen = torch.Generator().manual_seed(seed)
    video = torch.randn(grid[0] * grid[1] * grid[2], config.vid_in_dim, generator=gen).to(dev)
    audio = torch.randn(n_audio, config.audio_in_dim, generator=gen).to(dev)
    n_text = min(64, config.text_len)
    context_pos = torch.randn(n_text, config.text_dim, generator=gen).to(dev)
    context_neg = torch.randn(n_text - 3, config.text_dim, generator=gen).to(dev)
    spk_embed = torch.randn(2, 192, generator=gen).to(dev)
    spk_pos = torch.tensor([2, 7], device=dev)
    pass_specs = build_passes(tuple(passes), context_pos, context_neg, spk_embed, spk_pos)

    def run(max_batch: int) -> tuple[float, dict]:
        if on_gpu:
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
        start = time.perf_counter()
        with torch.no_grad(), inference_autocast(dev):
            out = evaluate_passes(model, video, audio, grid, 500, pass_specs, max_batch=max_batch)
        if on_gpu:
            torch.cuda.synchronize(dev)
        return time.perf_counter() - start, out

    _, reference = run(1)  # the official sequential outputs every setting is compared with
    for size in sizes:
        for _ in range(warmup):
            run(size)
    # Round-robin so a shared machine's load hits every setting alike.
    seconds: dict[int, list[float]] = {size: [] for size in sizes}
    peaks: dict[int, int | None] = {size: None for size in sizes}
    max_diff = 0.0
    for _ in range(repeats):
        for size in sizes:
            elapsed, out = run(size)
            seconds[size].append(elapsed)
            if on_gpu:
                peaks[size] = torch.cuda.max_memory_allocated(dev)
            for name, (v, a) in out.items():
                max_diff = max(max_diff, (v - reference[name][0]).abs().max().item())
                max_diff = max(max_diff, (a - reference[name][1]).abs().max().item())

    base = statistics.median(seconds[1])
    timings = tuple(
        BatchTiming(
            max_batch=size,
            seconds=statistics.median(values),
            seconds_all=tuple(values),
            speedup=base / statistics.median(values),
            peak_memory_bytes=peaks[size],
        )
        for size, values in seconds.items()
    )
    for t in timings:
        logger.info(
            "cfg batching %s max_batch=%d: %.4f s (x%.2f)", config_name, t.max_batch, t.seconds, t.speedup
        )
    pt, ph, pw = config.patch_size
    return CfgBatchingResult(
        machine=MachineInfo.collect(dev),
        config_name=config_name,
        dtype="bf16" if on_gpu else "fp32",
        passes=tuple(passes),
        video_tokens=(grid[0] // pt) * (-(-grid[1] // ph)) * (-(-grid[2] // pw)),
        audio_tokens=n_audio,
        timings=timings,
        max_abs_diff=max_diff,
    )
