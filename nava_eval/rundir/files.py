"""Atomic file writes and whole-line appends: the only way nava-eval puts bytes on disk.

A reader must never see a half-written results.json or a torn JSONL line, even after kill -9,
so every writer goes through a temp file in the same folder, fsync, then rename.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nava_eval.errors import InvalidValue

logger = logging.getLogger(__name__)

_TAIL_BLOCK = 1 << 16


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


def atomic_write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    """Write `obj` as pretty, key-sorted JSON atomically."""
    return atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def append_jsonl(target: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one record as a single whole line (writes repeated until complete, then fsync).

    O_APPEND makes each write land after concurrent appenders' lines. A crash can leave a last
    line without its newline; it is repaired first (`_repair_tail`) so this line never glues onto it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        _repair_tail(fd, target)
        _write_all(fd, line)
        os.fsync(fd)
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

    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
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

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
