"""Checking a benchmark data folder without running anything (`nava-eval validate BENCH --data-dir DIR`).

The report lists every missing or unreadable file with its path in one go, and the number of
items found per set next to the number the benchmark expects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nava_eval.benchmarks.errors import Problem
from nava_eval.interrupts import reraise_interrupts
from nava_eval.user_files import file_problem


@dataclass(frozen=True)
class SetCount:
    """Items found in one set against the benchmark's expected count (None: no expectation)."""

    set: str
    found: int
    expected: int | None

    @property
    def ok(self) -> bool:
        return self.expected is None or self.found == self.expected


@dataclass(frozen=True)
class ValidationReport:
    """Result of validating a data folder: problems (file, line, field) and per-set counts."""

    benchmark: str
    data_dir: Path
    problems: tuple[Problem, ...] = ()
    counts: tuple[SetCount, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.ok for c in self.counts)

    def lines(self) -> list[str]:
        """Human-readable report: counts first, then every problem, then a verdict."""
        out = [f"{self.benchmark} data in {self.data_dir}"]
        for c in self.counts:
            expected = "" if c.expected is None else f" (expected {c.expected})"
            mark = "ok" if c.ok else "COUNT MISMATCH"
            out.append(f"  {c.set}: {c.found} item(s){expected} {mark}")
        out.extend(f"  note: {n}" for n in self.notes)
        if self.problems:
            out.append(f"{len(self.problems)} problem(s):")
            out.extend(f"  {p}" for p in self.problems)
        out.append("OK" if self.ok else "NOT OK")
        return out


def image_problem(path: Path) -> Problem | None:
    """A Problem when `path` is missing or not a decodable image, else None."""
    problem = file_problem(path)
    if problem is not None:  # missing, or a FIFO/device that would block the decoder
        return Problem(
            path, "missing image" if problem == "no such file" else f"{problem}, not an image file"
        )
    try:
        from PIL import Image

        with Image.open(path) as img:
            img.verify()  # checks the whole stream, not just the header
    except Exception as exc:  # PIL raises many types for broken files; all mean "unreadable"
        reraise_interrupts(exc)
        return Problem(path, f"unreadable image ({type(exc).__name__}: {exc})")
    return None


def wav_problem(path: Path) -> Problem | None:
    """A Problem when `path` is missing, unreadable or empty audio, else None."""
    problem = file_problem(path)
    if problem is not None:  # missing, or a FIFO/device that would block the decoder
        return Problem(path, "missing wav" if problem == "no such file" else f"{problem}, not a wav file")
    try:
        import soundfile

        info = soundfile.info(str(path))
    except Exception as exc:  # libsndfile errors come as RuntimeError/LibsndfileError
        reraise_interrupts(exc)
        return Problem(path, f"unreadable audio ({type(exc).__name__}: {exc})")
    if info.frames <= 0:
        return Problem(path, "audio file has no samples")
    return None


def json_problem(path: Path) -> Problem | None:
    """A Problem when `path` is not a readable JSON object, else None."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return Problem(path, f"unreadable JSON ({exc})")
    if not isinstance(obj, dict):
        return Problem(path, "expected a JSON object")
    return None


def media_problems(images: Iterable[Path] = (), wavs: Iterable[Path] = ()) -> list[Problem]:
    """Deep-check every image and wav (decodable, not just present); all problems, sorted by path."""
    found = [p for p in (image_problem(i) for i in images) if p is not None]
    found += [p for p in (wav_problem(w) for w in wavs) if p is not None]
    return sorted(found, key=lambda p: str(p.path))


def validate_data(
    benchmark: str, data_dir: Path | None, sets: tuple[str, ...] | None = None, **options: object
) -> ValidationReport:
    """Validate a data folder for the named benchmark (`jsonl:PATH` accepted; data_dir unused there)."""
    from nava_eval.benchmarks.base import get_benchmark

    bench = get_benchmark(benchmark, **options)
    validate = getattr(bench, "validate", None)
    if validate is None:
        raise TypeError(f"benchmark {benchmark!r} has no validate(data_dir) method")
    return validate(data_dir, sets=sets)
