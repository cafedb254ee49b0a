"""Timing one callable on a device: a warm-up, then as many repeats as the deadline allows.

CUDA work is timed with events around each call (after a synchronize, so queued work of earlier
calls is not counted); CPU work with perf_counter. Each call's peak allocated CUDA memory is
recorded. The median of the repeats is the figure; the warm-up (compilation, autotuning, cuDNN
plans, page cache) is kept apart as `first_s`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from nava_eval.runners.perf.gpu.budget import Deadline


@dataclass(frozen=True)
class Timing:
    seconds: float  # median of the timed repeats
    seconds_all: tuple[float, ...]
    first_s: float  # the warm-up call
    peak_memory_bytes: int | None  # CUDA only: largest peak of the timed calls


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_call(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any, int | None]:
    synchronize(device)
    if device.type != "cuda":
        start = time.perf_counter()
        out = fn()
        return time.perf_counter() - start, out, None
    torch.cuda.reset_peak_memory_stats(device)
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    out = fn()
    end.record()
    end.synchronize()
    return begin.elapsed_time(end) / 1e3, out, torch.cuda.max_memory_allocated(device)


def measure(
    fn: Callable[[], Any],
    device: torch.device,
    deadline: Deadline,
    *,
    max_repeats: int = 5,
    min_repeats: int = 1,
    warmup: bool = True,
) -> tuple[Timing, Any]:
    """Time `fn`; returns the timing and the last call's output.

    Repeats stop at `max_repeats`, or once `min_repeats` are done and another call (estimated from
    the slowest so far) would end past the deadline.
    """
    first_s, out, peak = _timed_call(fn, device) if warmup else (0.0, None, None)
    values: list[float] = []
    peaks: list[int] = []
    while len(values) < max_repeats:
        estimate = max(values) if values else first_s
        if len(values) >= min_repeats and estimate * 1.1 > deadline.remaining():
            break
        seconds, out, peak = _timed_call(fn, device)
        values.append(seconds)
        if peak is not None:
            peaks.append(peak)
    return (
        Timing(
            seconds=statistics.median(values),
            seconds_all=tuple(values),
            first_s=first_s if warmup else values[0],
            peak_memory_bytes=max(peaks) if peaks else None,
        ),
        out,
    )
