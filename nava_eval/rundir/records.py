"""The files that stages hand to each other: run.json, samples.jsonl, scores/<metric>.jsonl, results.json.

Every record is a versioned dataclass; loading validates against the exported JSON Schema and names
the file, the JSON path and what was expected. A file written by a newer nava-eval is refused with
both versions in the message rather than half-read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nava_eval.direction import Direction
from nava_eval.rundir.files import atomic_write_json, read_jsonl
from nava_eval.rundir.schema import SchemaError, from_dict, to_dict
from nava_eval.rundir.unit import Unit
from nava_eval.user_files import brief

RESULTS_SCHEMA = "nava-eval/results/v1"
RUN_SCHEMA = "nava-eval/run/v1"
SAMPLE_SCHEMA = "nava-eval/sample/v1"
SCORE_SCHEMA = "nava-eval/score/v1"

SampleStatus = Literal["done", "failed", "skipped"]
ScoreStatus = Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class Provenance:
    """Where and with what a run was produced."""

    nava_eval_version: str
    git_sha: str | None
    git_dirty: bool | None
    python: str
    torch: str | None
    cuda: str | None
    gpus: list[str]
    hostname: str
    platform: str
    started_at: str
    ended_at: str | None = None
    world_size: int = 1
    dp_size: int = 1
    sp_size: int = 1
    checkpoint_sha256: dict[str, str] = field(default_factory=dict)
    scorer_weights_sha256: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SampleRecord:
    """One line of samples.jsonl: what happened to one sample in the generate stage."""

    id: str
    set: str
    status: SampleStatus
    schema: str = SAMPLE_SCHEMA
    output: str | None = None
    output_sha256: str | None = None
    prompt_sha256: str | None = None
    seed: int | None = None
    inputs_sha256: str | None = None  # prompt, image/wav bytes, seed, settings: see runners.inputs_hash
    inputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    rank: int | None = None
    finished_at: str | None = None
    # Which seed of a multi-seed run this output is (None in a single-seed run: the seed is run.json's).
    run_seed: int | None = None
    # An imported output's separate audio file (Verse-Bench toolkit layout: <id>.mp4 + <id>.wav).
    audio_output: str | None = None
    audio_output_sha256: str | None = None


@dataclass(frozen=True)
class ScoreRecord:
    """One line of scores/<metric>.jsonl: one metric on one output."""

    id: str
    set: str
    metric: str
    protocol: str
    status: ScoreStatus
    schema: str = SCORE_SCHEMA
    output_sha256: str | None = None
    value: float | None = None
    values: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    run_seed: int | None = None  # the seed of a multi-seed run this score belongs to


@dataclass(frozen=True)
class SetResult:
    """A metric aggregated over one set of a benchmark."""

    value: float | None
    n: int
    ci95: list[float] | None = None
    seed_sd: float | None = None  # multi-seed runs: standard deviation of the set's value across seeds


@dataclass(frozen=True)
class MetricResult:
    """A metric aggregated over a run, with its protocol and how much of the run it covers."""

    name: str
    protocol: str
    direction: Direction
    value: float | None
    n: int
    n_skipped: int = 0
    n_failed: int = 0
    n_missing: int = 0
    ci95: list[float] | None = None
    unit: str = ""
    aggregation: str = "per-item mean"
    per_set: dict[str, SetResult] = field(default_factory=dict)
    quantity: str | None = None  # what the value measures (table column family); None: `name`
    kind: Literal["item", "set"] = "item"  # "set": one statistic of the whole set (FD), not a mean
    sets: list[str] | None = None  # the sets the protocol aggregates over; None: every scored set
    # Multi-seed runs: `value` is the mean over seeds of each seed's value (per_seed, keyed by the seed as
    # text), seed_sd their standard deviation (ddof 1), ci95 the item bootstrap (items resampled with all
    # their seeds). None / empty in a single-seed run.
    seeds: list[int] | None = None
    seed_sd: float | None = None
    per_seed: dict[str, float | None] = field(default_factory=dict)

    @property
    def measures(self) -> str:
        return self.quantity or self.name


@dataclass(frozen=True)
class Results:
    """results.json: the aggregates of one run, the file that tables, checks and submissions read."""

    run_name: str
    benchmark: str
    model: str
    metrics: dict[str, MetricResult]
    schema: str = RESULTS_SCHEMA
    params_b: float | None = None
    preset: str | None = None
    smoke: bool = False
    n_samples: int = 0
    created_at: str | None = None
    notes: list[str] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None
    origin: Literal["generated", "imported"] = "generated"  # imported: another model's outputs folder
    n_outputs: int | None = None  # planned samples (× seeds) that have an output: the run's coverage
    seeds: list[int] | None = None  # a multi-seed run's seeds (n_samples counts every (item, seed))


def _check_version(data: Any, expected: str, source: str) -> None:
    if not isinstance(data, dict):
        raise SchemaError(f"{source}: at $: expected a JSON object, got {type(data).__name__}")
    found = data.get("schema", expected)
    if found == expected:
        return
    family, _, version = str(found).rpartition("/")
    exp_family, _, exp_version = expected.rpartition("/")
    if family == exp_family and version[1:].isdigit() and int(version[1:]) > int(exp_version[1:]):
        raise SchemaError(
            f"{source}: written with schema {found}, newer than this nava-eval reads ({expected}); "
            "upgrade nava-eval (pip install -U nava-eval) to read it"
        )
    raise SchemaError(f"{source}: at $.schema: expected {expected!r}, found {brief(found)}")


def _load_json(path: Path) -> Any:
    from nava_eval.rundir.safe_json import parse_json
    from nava_eval.user_files import UserFileError, read_bytes

    try:
        raw = read_bytes(path)
    except UserFileError as exc:
        raise SchemaError(str(exc)) from None
    except FileNotFoundError:
        raise SchemaError(
            f"{path}: no such file; give a run directory that holds results.json (run `nava-eval score RUN_DIR` "
            "to write it) or a results.json path"
        ) from None
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse_json(raw, str(path))


def results_path(run_or_file: str | Path) -> Path:
    """A run directory or a results.json path → the results.json path."""
    path = Path(run_or_file)
    return path / "results.json" if path.is_dir() else path


def load_results(run_or_file: str | Path) -> Results:
    """Load and validate results.json (from a run directory or the file itself)."""
    path = results_path(run_or_file)
    data = _load_json(path)
    _check_version(data, RESULTS_SCHEMA, str(path))
    return from_dict(Results, data, str(path))


def write_results(path: str | Path, results: Results) -> Path:
    """Write results.json atomically."""
    return atomic_write_json(results_path(path) if Path(path).is_dir() else path, to_dict(results))


def load_sample_records(path: str | Path) -> list[SampleRecord]:
    """Read samples.jsonl; every line is validated and errors name the line."""
    return _load_records(Path(path), SampleRecord, SAMPLE_SCHEMA)


def load_score_records(path: str | Path) -> list[ScoreRecord]:
    """Read scores/<metric>.jsonl; every line is validated and errors name the line."""
    return _load_records(Path(path), ScoreRecord, SCORE_SCHEMA)


def _load_records(path: Path, cls: type, schema: str) -> list[Any]:
    out = []
    for number, data in enumerate(read_jsonl(path), start=1):
        source = f"{path}:{number}"
        _check_version(data, schema, source)
        out.append(from_dict(cls, data, source))
    return out


def latest_by_unit(records: Iterable[Any]) -> dict[Unit, Any]:
    """Appends are the history; the last record of a unit (item, run seed) is its current state."""
    latest: dict[Unit, Any] = {}
    for record in records:
        latest[Unit.of(record)] = record
    return latest


SCHEMA_CLASSES: dict[str, type] = {
    "results": Results,
    "sample": SampleRecord,
    "score": ScoreRecord,
    "provenance": Provenance,
}
