"""Files a user names (outputs, mappings, configs, id lists, weights, submissions): only regular files are read.

Opening a FIFO for reading blocks until a writer appears, and reading a character device may never
end, so a FIFO named `clip.mp4` used to hang `import` for ever. Every reader of a user-named file
either opens it here (`open_regular`: opened without blocking, then checked with fstat, so the check
and the read see the same file) or checks it first (`require_regular_file`) when a library opens the
path itself (PyAV, soundfile, torch). The error names the path and what it is instead.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from nava_eval.errors import InvalidValue

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def user_path(value: str | os.PathLike[str]) -> Path:
    """A path as the user meant it: `~` and `~user` expanded (once, the same way for flags, config
    files, run.json replays and paths inside mapping files); nothing else is changed.

    A NUL byte (possible in a config, run.json or mapping file, never on a command line) is refused
    here, naming the path, instead of as the OS's bare "embedded null byte" later.
    """
    text = os.fspath(value)
    if isinstance(text, str) and "\0" in text:
        raise UserFileError(f"{brief(text)}: a path cannot contain a NUL byte")
    return Path(os.path.expanduser(text))


def brief(value: object, limit: int = 80) -> str:
    """repr(value) cut to at most about `limit` characters, for error messages that quote a user's value.

    A value from a file can be megabytes long, and a YAML alias bomb is a list nested 30 deep whose
    full repr has 2**30 leaves: repr is never built in full here, only its first `limit` characters.
    """
    if isinstance(value, str):
        text = repr(value[: limit + 1])
        return text if len(value) <= limit else f"{text[:limit]}… ({len(value)} characters)"
    text = _repr_head(value, limit + 1)
    return text if len(text) <= limit else f"{text[:limit]}…"


def cut(text: str, limit: int = 300) -> str:
    """A message (that may quote a user's value) cut to `limit` characters."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


class _Piece(str):
    """A literal piece of a container's repr (brackets, commas), written as is."""


def _repr_head(value: object, budget: int) -> str:
    """The first `budget` (or a few more) characters of repr(value), built depth-first without recursion."""
    out: list[str] = []
    size = 0
    stack: list[object] = [value]
    while stack and size < budget:
        item = stack.pop()
        if isinstance(item, _Piece):
            piece = str(item)
        elif isinstance(item, (list, tuple, set, frozenset, dict)):
            brackets = (
                "{}"
                if isinstance(item, (dict, set, frozenset))
                else "()"
                if isinstance(item, tuple)
                else "[]"
            )
            parts: list[object] = [_Piece(brackets[0])]
            children = list(item.items()) if isinstance(item, dict) else list(item)
            for k, child in enumerate(children):
                if k:
                    parts.append(_Piece(", "))
                if isinstance(item, dict):
                    parts += [child[0], _Piece(": "), child[1]]
                else:
                    parts.append(child)
            parts.append(_Piece(brackets[1]))
            stack.extend(reversed(parts))
            continue
        else:
            piece = repr(item)[: budget + 1]
        out.append(piece)
        size += len(piece)
    return "".join(out)


class UserFileError(InvalidValue):
    """A file the user named cannot be read as asked; the message names it and says what to do."""


class NotARegularFile(UserFileError):
    """A path that must be a regular file is missing or is something else (a folder, FIFO, device, socket)."""


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """None for a regular file (symlinks followed); else what the path is: "no such file", "a FIFO ..."."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except ValueError:  # an embedded NUL byte
        return "not a valid path (it contains a NUL byte)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return _kind(mode)


def _label(path: str | os.PathLike[str], what: str) -> str:
    text = os.fspath(path)
    text = text.replace("\0", "\\0") if isinstance(text, str) else repr(text)
    return f"{what} {text}" if what else text


def _refusal(path: str | os.PathLike[str], problem: str, what: str) -> NotARegularFile:
    label = _label(path, what)
    if problem.startswith(("no such", "not a valid", "cannot")):
        return NotARegularFile(f"{label}: {problem}")
    return NotARegularFile(f"{label}: is {problem}, not a regular file; only regular files are read")


def require_regular_file(path: str | os.PathLike[str], what: str = "") -> Path:
    """`path` as a Path when it is a regular file; NotARegularFile naming it (and `what` it is for) otherwise."""
    problem = file_problem(path)
    if problem is not None:
        raise _refusal(path, problem, what)
    return Path(path)


def open_regular(path: str | os.PathLike[str], what: str = "") -> BinaryIO:
    """Open a regular file for binary reading without ever blocking on a FIFO; NotARegularFile otherwise.

    A missing file raises FileNotFoundError as `open` does (callers tell "absent" from "wrong kind").
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except IsADirectoryError:
        raise _refusal(path, "a folder", what) from None
    except ValueError:
        raise _refusal(path, "not a valid path (it contains a NUL byte)", what) from None
    try:
        problem = _kind(os.fstat(fd).st_mode)
        if problem is not None:
            raise _refusal(path, problem, what)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike[str], what: str = "") -> bytes:
    """The bytes of a regular file (NotARegularFile for anything else)."""
    with open_regular(path, what) as fh:
        return fh.read()


def read_text(path: str | os.PathLike[str], what: str = "") -> str:
    """A regular file as UTF-8 text; the error for other bytes names the file and the byte offset."""
    raw = read_bytes(path, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        label = _label(path, what)
        raise UserFileError(
            f"{label}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from None
