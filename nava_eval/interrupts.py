"""One rule for interrupts: Ctrl-C and exits are never a sample's failure.

Code that records one bad item and goes on (`except Exception` around a sample, a batch or a
future's result) must let an interrupt through, so the command stops at once, exits 130 and leaves
no "failed" record that a rerun would take for a result. Three things count as an interrupt:
KeyboardInterrupt, SystemExit, and the SignalException that torch's elastic launcher raises from
its SIGINT/SIGTERM handler (an `Exception` subclass, so a plain `except Exception` swallows it).

Imports nothing heavy: metrics, runners and nava all use it.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 128 + signal.SIGINT


def _is_elastic_signal(exc: BaseException) -> bool:
    # Matched by name: importing torch here would make every caller pay for it.
    cls = type(exc)
    return cls.__name__ == "SignalException" and cls.__module__.startswith("torch.distributed.elastic")


def is_interrupt(exc: BaseException) -> bool:
    """True for Ctrl-C, SystemExit and torch elastic's signal exception: never a per-sample failure."""
    return isinstance(exc, KeyboardInterrupt | SystemExit) or _is_elastic_signal(exc)


def reraise_interrupts(exc: BaseException) -> None:
    """Raise `exc` again when it is an interrupt; call first thing in a catch-all handler."""
    if is_interrupt(exc):
        raise exc


def as_interrupt(exc: BaseException) -> BaseException:
    """torch elastic's SignalException → KeyboardInterrupt (SIGINT) or SystemExit(128 + signal)."""
    if not _is_elastic_signal(exc):
        return exc
    signum = int(getattr(exc, "sigval", signal.SIGINT))
    return KeyboardInterrupt() if signum == signal.SIGINT else SystemExit(128 + signum)


@contextlib.contextmanager
def interruptible_pool(workers: int, name: str = "") -> Iterator[ThreadPoolExecutor]:
    """A thread pool whose queued work is cancelled when the block ends, so Ctrl-C stops it at once.

    `with ThreadPoolExecutor()` runs every queued task before it returns, even on an interrupt.
    """
    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def restored_signal_handlers(*signums: int) -> Iterator[None]:
    """Put back SIGINT/SIGTERM handlers that a library replaces for good (torch's elastic launcher does)."""
    chosen = signums or (signal.SIGINT, signal.SIGTERM)
    saved = {s: signal.getsignal(s) for s in chosen}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            with contextlib.suppress(ValueError, TypeError):  # not the main thread, or a C handler
                signal.signal(signum, handler)


__all__ = [
    "EXIT_INTERRUPTED",
    "as_interrupt",
    "interruptible_pool",
    "is_interrupt",
    "reraise_interrupts",
    "restored_signal_handlers",
]
