"""measure(): warm-up apart, repeats bounded by the count and the deadline, last output returned."""

from __future__ import annotations

import statistics

import torch

from nava_eval.runners.perf.gpu.budget import Deadline
from nava_eval.runners.perf.gpu.timing import measure


def test_repeats_stop_at_the_count_or_the_deadline() -> None:
    calls = []

    def fn():
        calls.append(len(calls))
        return len(calls)

    timing, out = measure(fn, torch.device("cpu"), Deadline(60.0), max_repeats=4)
    assert len(calls) == 5 and len(timing.seconds_all) == 4 and out == 5  # warm-up + 4
    assert timing.seconds == statistics.median(timing.seconds_all)
    assert timing.peak_memory_bytes is None  # CPU

    calls.clear()
    timing, out = measure(fn, torch.device("cpu"), Deadline(0.0), max_repeats=4, min_repeats=2)
    assert len(timing.seconds_all) == 2 and len(calls) == 3  # the deadline leaves only the minimum

    calls.clear()
    timing, _ = measure(fn, torch.device("cpu"), Deadline(60.0), max_repeats=2, warmup=False)
    assert len(calls) == 2 and timing.first_s == timing.seconds_all[0]
