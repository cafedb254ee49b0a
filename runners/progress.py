"""Progress reporting for long stages: one bar on rank 0, per-stage timings.

Other DP groups' progress reaches rank 0 through their record shards on disk (no collective), so a
slow group never blocks the bar and the bar never blocks a group.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageTimer:
    """Wall-clock seconds per named stage of one sample (text, denoise, decode, write…)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def add(self, timings: dict[str, float]) -> None:
        for name, value in timings.items():
            self.seconds[name] += float(value)

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.seconds.items()}


def summarize_timings(per_sample: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Total, mean and share of each stage over samples (for the end-of-run summary)."""
    totals: dict[str, float] = defaultdict(float)
    for timings in per_sample:
        for name, value in timings.items():
            totals[name] += value
    grand = sum(totals.values()) or 1.0
    n = max(len(per_sample), 1)
    return {
        name: {"total_s": round(total, 3), "mean_s": round(total / n, 4), "share": round(total / grand, 4)}
        for name, total in sorted(totals.items(), key=lambda kv: -kv[1])
    }


class JobProgress:
    """A tqdm bar over samples (done/total across DP groups) with the current step and s/step."""

    def __init__(self, total: int, initial: int, desc: str, enabled: bool, count_done: Callable[[], int]):
        self.enabled = enabled
        self._count_done = count_done
        self._bar = None
        self._step_started: float | None = None
        self._sec_per_step: float | None = None
        self._last_refresh = 0.0
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit="sample", dynamic_ncols=True)

    def on_step(self, step: int, total_steps: int) -> None:
        """Called by the sampler after each denoising step of the current sample."""
        now = time.perf_counter()
        if self._step_started is not None and step > 1:
            elapsed = now - self._step_started
            self._sec_per_step = (
                elapsed if self._sec_per_step is None else 0.8 * self._sec_per_step + 0.2 * elapsed
            )
        self._step_started = now
        if self._bar is not None:
            postfix = {"step": f"{step}/{total_steps}"}
            if self._sec_per_step is not None:
                postfix["s/step"] = f"{self._sec_per_step:.2f}"
            self._bar.set_postfix(postfix, refresh=False)
            if now - self._last_refresh > 0.5:
                self.refresh()

    def sample_finished(self) -> None:
        self._step_started = None
        self.refresh()

    def refresh(self) -> None:
        if self._bar is None:
            return
        self._last_refresh = time.perf_counter()
        done = self._count_done()
        if done > self._bar.n:
            self._bar.update(done - self._bar.n)
        else:
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self.refresh()
            self._bar.close()
