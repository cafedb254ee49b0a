"""Time boxes: a global budget shared by the sections, and a hard stop for one section (SIGALRM)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


class SectionTimeout(Exception):
    """A section ran past its time box."""


@dataclass
class Deadline:
    """Seconds left until a fixed moment (monotonic clock)."""

    seconds: float
    start: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed())

    def sub(self, seconds: float) -> Deadline:
        """A deadline that ends `seconds` from now, but never after this one."""
        return Deadline(min(seconds, self.remaining()))


def _raise_timeout(signum: int, frame: object) -> None:
    raise SectionTimeout("time box exceeded")


@contextlib.contextmanager
def time_box(seconds: float) -> Iterator[bool]:
    """Raise SectionTimeout in this block after `seconds`; yields whether the stop is enforced.

    The alarm interrupts Python between bytecodes, so a forward pass stops at its next layer and a
    compilation in its next step. Only the main thread receives signals: elsewhere the block runs
    unboxed (yields False) and relies on the sections' own deadline checks.
    """
    enforce = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not enforce:
        yield False
        return
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
