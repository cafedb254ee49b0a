"""Which samples a run takes: `--ids FILE` (one sample id per line, `#` comments and blank lines ignored), sets, limit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from nava_eval.benchmarks.base import SampleSelection
from nava_eval.benchmarks.errors import BadInputError, Problem, check_sample_id
from nava_eval.user_files import UserFileError, read_text


def read_ids_file(path: Path) -> frozenset[str]:
    """The ids listed in `path`; every malformed line is reported at once with its line number."""
    path = Path(path)
    try:
        text = read_text(path)
    except FileNotFoundError as exc:
        raise BadInputError([Problem(path, "ids file not found")]) from exc
    except UserFileError as exc:  # a FIFO, a device, not UTF-8
        raise BadInputError([Problem(path, str(exc).removeprefix(f"{path}: "))]) from exc
    ids: set[str] = set()
    problems: list[Problem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        value = raw.split("#", 1)[0].strip()
        if not value:
            continue
        bad = check_sample_id(value, path, number, "id")
        if bad:
            problems.append(bad)
            continue
        ids.add(value)
    if problems:
        raise BadInputError(problems, hint="one sample id per line (e.g. 01000 or common_voice_en_123)")
    if not ids:
        raise BadInputError([Problem(path, "no ids in the file")])
    return frozenset(ids)


def selection_of(
    sets: Sequence[str] | str | None, ids: Iterable[str] | Path | str | None, limit: int | None
) -> SampleSelection:
    """A SampleSelection from API-style arguments: sets as a list or "a,b", ids as a list or an ids file."""
    if isinstance(sets, str):
        sets = [s.strip() for s in sets.split(",") if s.strip()]
    chosen_ids: frozenset[str] | None = None
    if isinstance(ids, str | Path):
        chosen_ids = read_ids_file(Path(ids))
    elif ids is not None:
        chosen_ids = frozenset(ids)
    return SampleSelection(sets=tuple(sets) if sets else None, ids=chosen_ids, limit=limit)
