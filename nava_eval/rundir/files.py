"""Atomic file writes and whole-line appends: the only way nava-eval puts bytes on disk.

A reader must never see a half-written results.json or a torn JSONL line, even after kill -9,
so every writer goes through a temp file in the same folder, fsync, then rename.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nava_eval.errors import InvalidValue, UserError

logger = logging.getLogger(__name__)

_TAIL_BLOCK = 1 << 16

#: Errors that mean "this disk cannot take the write", with what to do; a program bug never raises these.
_WRITE_ADVICE = {
    errno.ENOSPC: "no space left on the device; free space (or use a --run-dir on another disk) and rerun "
    "the same command",
    errno.EDQUOT: "the disk quota is used up; free space (or use a --run-dir elsewhere) and rerun the same command",
    errno.EFBIG: "the file is larger than this file system allows (FAT32: 4 GiB a file); use a folder on "
    "another file system",
    errno.EROFS: "the file system is read-only; use a --run-dir (or -o) on a writable disk, or remount it "
    "read-write",
}


class WriteFailed(UserError, OSError):
    """A write the disk refused (full, quota, file too large, read-only), naming the path and what to do.

    Raised only after the half-written file is gone (atomic writes) or cut back (appends).
    """

    def __init__(self, path: str | os.PathLike[str], cause: OSError):
        super().__init__(
            cause.errno, _WRITE_ADVICE.get(cause.errno or 0, cause.strerror or str(cause)), str(path)
        )

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}; nothing half-written was kept"


def as_write_failure(exc: BaseException) -> WriteFailed | None:
    """`exc` as a WriteFailed when it is a disk refusal (full, quota, too large, read-only), else None."""
    if isinstance(exc, WriteFailed):
        return exc
    if isinstance(exc, OSError) and exc.errno in _WRITE_ADVICE:
        return WriteFailed(exc.filename or "a file", exc)
    return None


@contextlib.contextmanager
def disk_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a disk-full, quota, too-large or read-only OSError inside the block into WriteFailed naming `path`."""
    try:
        yield
    except WriteFailed:
        raise
    except OSError as exc:
        if exc.errno in _WRITE_ADVICE:
            raise WriteFailed(path, exc) from None
        raise


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry is flushed too.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path next to `target`; on success it is fsynced and renamed onto `target`.

    For writers that need a file name (PyAV, torch, zipfile). On any exception the temp file is
    removed and `target` is left untouched. `suffix` defaults to the target's, since some writers
    pick the container from the extension.
    """
    target = Path(target)
    with disk_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.",
            suffix=(suffix if suffix is not None else target.suffix) + ".tmp",
            dir=target.parent,
        )
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file 0600; a finished output should get the usual permissions (0666 & ~umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with disk_errors(target):  # the caller's writes into tmp included: a full disk names the target
            yield tmp
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 `text` to `target` atomically."""
    return atomic_write_bytes(target, text.encode("utf-8"))


class NonFiniteJSON(InvalidValue):
    """A value to be written as JSON holds NaN or an infinity, which JSON cannot carry (and a reader would
    take for a number): refused before a byte is written, naming the file and where in the value."""


def dumps_json(obj: Any, where: str | os.PathLike[str], **options: Any) -> str:
    """json.dumps that refuses NaN and infinities (Python writes them as the non-JSON tokens NaN/Infinity)."""
    try:
        return json.dumps(obj, allow_nan=False, **options)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        from nava_eval.rundir.safe_json import non_finite_paths

        paths = non_finite_paths(obj)
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        raise NonFiniteJSON(
            f"{where}: not written: {shown or 'a value'} is NaN or infinite, which JSON cannot hold; "
            "every number nava-eval writes must be finite (check the option or score that produced it)"
        ) from None


def finite_or_null(obj: Any) -> Any:
    """`obj` with every NaN or infinite float replaced by None (JSON null), for views derived from
    the run's files (report, compare, score-files output), where "no number" is the honest value."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(v) for v in obj]
    return obj


def atomic_write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    """Write `obj` as pretty, key-sorted JSON atomically (NonFiniteJSON, nothing written, for NaN/inf)."""
    text = dumps_json(obj, target, indent=2, sort_keys=True, ensure_ascii=False)
    return atomic_write_text(target, text + "\n")


def append_jsonl(target: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one record as a single whole line (writes repeated until complete, then fsync).

    O_APPEND makes each write land after concurrent appenders' lines. A crash can leave a last
    line without its newline; it is repaired first (`_repair_tail`) so this line never glues onto it.
    """
    target = Path(target)
    line = (dumps_json(record, target, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    with disk_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            _repair_tail(fd, target)
            size = os.fstat(fd).st_size
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except OSError:
                # A full disk can take part of the line: cut it back so no torn line is left behind.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    # os.write may write less than asked (a signal, a nearly full disk); finish the line.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(f"write returned {written} with {len(view)} bytes left")
        view = view[written:]


def _repair_tail(fd: int, path: Path) -> None:
    """End the file with a newline: complete a whole last record, cut a torn one back (with a warning)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    cut, end = 0, size
    while end > 0:  # find the last newline, reading backwards in blocks
        start = max(0, end - _TAIL_BLOCK)
        at = os.pread(fd, end - start, start).rfind(b"\n")
        if at >= 0:
            cut = start + at + 1
            break
        end = start
    tail = os.pread(fd, size - cut, cut)
    if _whole_record(tail):
        _write_all(fd, b"\n")  # a whole record that only lacks its newline (e.g. a hand-written file)
        return
    os.ftruncate(fd, cut)
    logger.warning(
        "%s: cut a torn last line left by an interrupted write (%d bytes dropped: %r)",
        path,
        len(tail),
        tail[:120].decode("utf-8", errors="replace"),
    )


def _whole_record(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw.decode("utf-8")), dict)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read whole JSON lines; a torn final line (no newline, from a crash) is dropped with a warning.

    A malformed line in the middle is real corruption and raises with the file and line number.
    """
    from nava_eval.rundir.safe_json import parse_json
    from nava_eval.user_files import read_bytes

    path = Path(path)
    if not path.exists():
        return []
    lines = read_bytes(path).split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    records: list[dict[str, Any]] = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            records.append(parse_json(line, f"{path}:{number}"))
        except ValueError as exc:
            raise InvalidValue(f"{exc}; fix or delete that line") from None
    if tail.strip():
        if _whole_record(tail):
            records.append(json.loads(tail.decode("utf-8")))
        else:
            # Torn write from an interrupted append: the record never finished, so it never happened.
            logger.warning(
                "%s: ignoring a torn last line (%d bytes, from an interrupted write); the next append cuts it",
                path,
                len(tail),
            )
    return records


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    import hashlib

    from nava_eval.user_files import open_regular

    digest = hashlib.sha256()
    with open_regular(path) as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
