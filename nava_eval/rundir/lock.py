"""One writing command per run directory: `RUN/.lock` names its holder (pid, host, command).

Two runs on one folder would both generate every sample and append every score twice. The lock is
an advisory `flock` on `RUN/.lock`, which the kernel releases when its process dies, so a run killed
with -9 never leaves a lock that blocks the next one; the file's content (pid, host, command, start)
is what the refusal shows. A lock left by a process that no longer exists is reported as stale and
taken over. On a file system without `flock` the content alone decides: a holder on this host whose
pid is gone is stale; a holder on another host cannot be checked from here and is refused.

Only rank 0 of a torchrun job takes the lock (its other ranks write only their own shards); with
`--nproc` the launching process holds it while its workers run.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from nava_eval.errors import UserError
from nava_eval.ranks import is_main_process

logger = logging.getLogger(__name__)

LOCK_NAME = ".lock"
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class RunDirLocked(UserError, RuntimeError):
    """Another command is writing to this run directory; the message names it."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds a run directory."""

    pid: int
    host: str
    command: str
    started_at: str
    pid_started: int | None = None  # the process's start time (Linux clock ticks): tells a reused pid

    @classmethod
    def me(cls, command: str) -> LockHolder:
        from nava_eval.rundir.provenance import now_iso

        return cls(os.getpid(), socket.gethostname(), command, now_iso(), _process_start(os.getpid()))

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid} on {self.host}, since {self.started_at})"

    def alive_here(self) -> bool | None:
        """True/False when the holder is on this host, None when it is elsewhere (cannot tell)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        started = _process_start(self.pid)
        return self.pid_started is None or started is None or started == self.pid_started


def _process_start(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])  # field 22 of stat(5), counted after the ")" closing the command name
    except (OSError, IndexError, ValueError):
        return None


def _read_holder(fd: int) -> LockHolder | None:
    try:
        raw = os.pread(fd, 64 * 1024, 0)
        data = json.loads(raw.decode("utf-8")) if raw.strip() else None
        return LockHolder(**data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def _write_holder(fd: int, holder: LockHolder) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(asdict(holder), sort_keys=True) + "\n").encode("utf-8"), 0)
    os.fsync(fd)


def read_lock(root: str | os.PathLike[str]) -> LockHolder | None:
    """The holder named in RUN/.lock (None when free or unreadable); for messages and `doctor`-like checks."""
    path = Path(root) / LOCK_NAME
    if not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        return _read_holder(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_lock(root: str | os.PathLike[str], command: str) -> Iterator[LockHolder]:
    """Hold RUN/.lock for the block; RunDirLocked naming the holder when someone else has it."""
    import fcntl

    from nava_eval.rundir.files import disk_errors

    root = Path(root)
    path = root / LOCK_NAME
    with disk_errors(path):  # a read-only or full disk: named with what to do, not a traceback
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    locked = False
    try:
        previous = _read_holder(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            who = previous.describe() if previous else "another process (it has not written its name yet)"
            raise RunDirLocked(
                f"{root} is in use by {who}; two commands writing one run directory would duplicate its "
                "work. Wait for it to finish (or stop it), or use another --run-dir."
            ) from None
        except OSError as exc:
            if exc.errno not in _NO_FLOCK:
                raise
            logger.info("%s: no flock on this file system; the lock relies on its content", path)
            if previous is not None and previous.alive_here() is not False:
                raise RunDirLocked(
                    f"{root} is in use by {previous.describe()}"
                    + (
                        " (on another host: this one cannot tell whether it still runs)"
                        if previous.alive_here() is None
                        else ""
                    )
                    + f"; wait for it, use another --run-dir, or delete {path} if that process is gone."
                ) from None
        if previous is not None:
            state = previous.alive_here()
            where = "here" if state is not None else f"on {previous.host}"
            logger.warning(
                "%s: stale lock of %s, which ended without releasing it (killed?); taking it over (%s)",
                path,
                previous.describe(),
                where,
            )
        holder = LockHolder.me(command)
        with disk_errors(path):
            _write_holder(fd, holder)
        try:
            yield holder
        finally:
            # Emptied, never unlinked: unlinking a flocked file lets two processes lock two inodes.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        if locked:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.contextmanager
def command_lock(root: str | os.PathLike[str], command: str) -> Iterator[None]:
    """`run_lock` on global rank 0 (or a plain process), which then clears what dead writers left;
    other torchrun ranks go without (they write nothing before rank 0 hands out the plan)."""
    if not is_main_process():
        yield
        return
    from nava_eval.rundir.layout import RunDir

    with run_lock(root, command):
        RunDir(Path(root)).remove_leftovers()
        yield
