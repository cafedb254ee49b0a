"""Is a file on disk still the one a record names? A cheap stat gate, then sha256.

A record (samples.jsonl, a score) names an output by its sha256; trusting the recorded hash lets a
replaced file keep the old numbers. Hashing every output on every command is slow for a full run
(thousands of mp4s), so the digest of each file is kept in a small sidecar index with the file's
size, mtime, ctime and inode. A file whose stat still matches is not read again; any change (an
edit, a copy over it, `cp -p` that restores the mtime but not the ctime) makes it hashed anew.
A file modified within the clock's resolution of its hashing could hide a same-size edit (git's
"racy" case), so such entries are never trusted.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from nava_eval.rundir.files import atomic_write_json, sha256_file

logger = logging.getLogger(__name__)

INDEX_SCHEMA = "nava-eval/file-identity/v1"
#: Entries of files modified this close to their hashing are re-hashed every time.
RACY_WINDOW_NS = 2_000_000_000


@dataclass(frozen=True)
class FileStamp:
    """What the stat gate compares: any difference means the file may have changed."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class FileIdentityIndex:
    """sha256 of files under `root`, recomputed only when their stat changed; `save()` writes the sidecar."""

    def __init__(self, root: str | os.PathLike[str], index_path: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.path = Path(index_path)
        self.hashed = 0  # files actually read by this instance (for tests and logs)
        self._entries: dict[str, dict] = self._load()
        self._dirty = False

    def _load(self) -> dict[str, dict]:
        from nava_eval.rundir.safe_json import parse_json
        from nava_eval.user_files import read_bytes

        if not self.path.is_file():
            return {}
        try:
            data = parse_json(read_bytes(self.path), str(self.path))
        except (OSError, ValueError) as exc:
            # A cache: when it cannot be read, every file is simply hashed again.
            logger.warning("%s: unreadable (%s); hashing every file again", self.path, exc)
            return {}
        if not isinstance(data, dict) or data.get("schema") != INDEX_SCHEMA:
            return {}
        files = data.get("files")
        return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}

    def _key(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    def sha256(self, path: str | os.PathLike[str]) -> str | None:
        """The sha256 of the file as it is now on disk; None when there is no such file."""
        path = Path(path)
        try:
            stamp = FileStamp.of(path)
        except FileNotFoundError:
            return None
        if not path.is_file():
            return None
        key = self._key(path)
        entry = self._entries.get(key)
        if entry is not None and entry.get("stamp") == asdict(stamp) and not _racy(entry):
            return str(entry["sha256"])
        hashed_at = time.time_ns()
        digest = sha256_file(path)
        self.hashed += 1
        if FileStamp.of(path) == stamp:  # unchanged while we read it: the digest belongs to this stamp
            self._entries[key] = {"stamp": asdict(stamp), "sha256": digest, "hashed_at_ns": hashed_at}
            self._dirty = True
        return digest

    def matches(self, path: str | os.PathLike[str], recorded_sha256: str | None) -> bool:
        """True when the file exists and its current sha256 is the recorded one."""
        return recorded_sha256 is not None and self.sha256(path) == recorded_sha256

    def save(self) -> None:
        """Write the sidecar atomically (only when something was hashed)."""
        if not self._dirty:
            return
        live = {k: v for k, v in self._entries.items() if (self.root / k).exists() or Path(k).is_absolute()}
        atomic_write_json(self.path, {"schema": INDEX_SCHEMA, "files": live})
        self._dirty = False


def _racy(entry: dict) -> bool:
    stamp = entry.get("stamp") or {}
    hashed_at = int(entry.get("hashed_at_ns", 0))
    return hashed_at - int(stamp.get("mtime_ns", 0)) < RACY_WINDOW_NS
