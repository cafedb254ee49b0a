"""Bad-input errors and load reports shared by the benchmark loaders.

A loader collects every problem it finds (file, line, field, what is wrong) before failing, so a
user fixes a data folder in one pass instead of one error per run. With `skip_bad` the loader
keeps going and returns the problems as a LoadReport that the CLI prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from nava_eval.errors import InvalidValue, UserError
from nava_eval.user_files import brief

# Sample ids become file names (outputs/<set>/<id>.mp4), so they must be plain, portable names.
#: A sample id becomes a file name (outputs/<set>/<id>.mp4, and temp names around it): whole-string
#: match (a `$` would let a trailing newline through) and a length well inside NAME_MAX (255 bytes).
MAX_ID_LENGTH = 128
_SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (file, optional line, optional field) and what."""

    path: Path
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = str(self.path) if self.line is None else f"{self.path}:{self.line}"
        what = self.message if self.field is None else f"field {brief(self.field)}: {self.message}"
        return f"{where}: {what}"


class BadInputError(UserError, ValueError):
    """One or more problems in a benchmark's input files; the message lists every one."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], hint: str = "") -> None:
        self.problems = tuple(problems)
        self.hint = hint
        lines = [str(p) for p in self.problems]
        head = (
            f"{len(lines)} problem(s) in the benchmark input:" if len(lines) > 1 else "bad benchmark input:"
        )
        text = head + "\n  " + "\n  ".join(lines)
        if hint:
            text += f"\n{hint}"
        super().__init__(text)

    def __str__(self) -> str:
        return str(self.args[0])


class MissingFilesError(BadInputError):
    """Referenced images or wavs that do not exist or cannot be read, all listed at once."""


class DataNotFoundError(UserError, FileNotFoundError):
    """No data folder given and none registered; the message says how to get one."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class LoadReport:
    """What a load skipped (with skip_bad) and why; empty when everything loaded."""

    source: str
    loaded: int = 0
    skipped: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.skipped

    def lines(self) -> list[str]:
        """Human-readable lines for the CLI: a summary, then one line per skipped entry."""
        out = [f"{self.source}: loaded {self.loaded} sample(s), skipped {len(self.skipped)}"]
        out.extend(f"  skipped {p}" for p in self.skipped)
        return out


def check_sample_id(sample_id: str, path: Path, line: int | None, field_name: str) -> Problem | None:
    """A Problem when `sample_id` cannot be used as a file name, else None."""
    if len(sample_id) > MAX_ID_LENGTH:
        return Problem(
            path,
            f"{sample_id[:40]!r}... is {len(sample_id)} characters; a sample id has at most {MAX_ID_LENGTH} "
            "(it becomes a file name)",
            line,
            field_name,
        )
    if not _SAFE_ID.fullmatch(sample_id):
        return Problem(
            path,
            f"{brief(sample_id)} is not a usable sample id (letters, digits, '_', '.', '+', '-'; no path separators)",
            line,
            field_name,
        )
    return None


def natural_id_key(sample_id: str) -> tuple[int, int, str]:
    """Sort key: all-digit ids by value ("300" < "1000"), then the others by text. Same on every machine."""
    if sample_id.isdigit():
        return (0, int(sample_id), sample_id)
    return (1, 0, sample_id)


def check_selected_ids(ids: frozenset[str] | None, known: set[str], where: str) -> None:
    """Raise when --ids names ids the loaded sets do not have: a typo must not silently shrink a run."""
    if ids is None:
        return
    unknown = sorted(ids - known, key=natural_id_key)
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" … ({len(unknown)} in all)" if len(unknown) > 10 else "")
        raise InvalidValue(f"--ids names id(s) that {where} does not have: {shown}")
