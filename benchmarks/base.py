"""Sample, the Benchmark protocol and the lazy benchmark registry.

A benchmark turns a data folder into an ordered list of Samples and declares how its outputs are
scored (output kind, default metrics per set, aggregation rule). Registry entries are
"module:Class" strings so listing benchmarks imports nothing heavy.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from nava_eval.lazy import Registry

OutputKind = Literal["mp4", "wav"]
Aggregation = Literal["per-item mean", "mean of per-set means"]
Mode = Literal["t2av", "i2av", "t2a", "tts"]


@dataclass(frozen=True)
class Sample:
    """One item to generate and score. `id` is unique within the benchmark and stable across runs."""

    id: str
    set: str
    prompt: str
    mode: Mode = "t2av"
    image: Path | None = None
    speaker_wavs: tuple[Path, ...] = ()
    reference_text: str | None = None
    language: str | None = None
    ground_truth_audio: Path | None = None
    prompt_text: str | None = None  # transcript of the speaker prompt wav (Seed-TTS length ratio)
    meta: dict[str, Any] = field(default_factory=dict)

    def output_relpath(self, kind: OutputKind) -> str:
        """Where the generated file lives inside the run directory."""
        return f"outputs/{self.set}/{self.id}.{kind}"


@dataclass(frozen=True)
class FieldRule:
    """How a benchmark's official protocol aggregates one metric field.

    `sets` restricts the items that enter the value (MOVA publishes Sync on set3 only; the toolkit's
    FD compares set2 with its ground truth); `aggregation` overrides the benchmark's rule (MOVA's
    IB-Score is a mean of per-set means). Items outside `sets` are simply not in the field's
    population: they are not counted as skipped or missing.
    """

    sets: tuple[str, ...] | None = None
    aggregation: Aggregation | None = None


def field_rule(benchmark: object, field_name: str) -> FieldRule:
    """The benchmark's rule for a field (benchmarks without `field_rules` pool every scored item)."""
    rules = getattr(benchmark, "field_rules", None) or {}
    return rules.get(field_name, FieldRule())


@dataclass(frozen=True)
class SampleSelection:
    """Deterministic subset options shared by every benchmark (--sets, --ids, --limit)."""

    sets: tuple[str, ...] | None = None
    ids: frozenset[str] | None = None
    limit: int | None = None
    skip_bad: bool = False


@runtime_checkable
class Benchmark(Protocol):
    """What every benchmark declares and does."""

    name: str
    description: str
    sets: tuple[str, ...]
    expected_counts: dict[str, int]
    output_kind: OutputKind
    default_metrics: dict[str, tuple[str, ...]]  # per set
    aggregation: Aggregation

    def load(self, data_dir: Path | None, selection: SampleSelection = SampleSelection()) -> list[Sample]:
        """Samples in a stable order; errors name file, line and field."""
        ...

    def metrics_for(self, sample: Sample) -> tuple[str, ...]:
        """The metrics that apply to this sample (the set's defaults minus, e.g., speech metrics)."""
        ...

    def validate(self, data_dir: Path | None, sets: tuple[str, ...] | None = None) -> Any:
        """A ValidationReport: every missing or unreadable file, counts against the expected ones."""
        ...

    def default_data_dir(self) -> Path | None:
        """The registered data folder (`nava-eval data download|import`), if any."""
        ...


@dataclass(frozen=True)
class BenchmarkEntry:
    """A registry row shown by `nava-eval ls` without importing the benchmark."""

    name: str
    target: str  # "module:Class"
    description: str


_BENCHMARKS: dict[str, BenchmarkEntry] = {}


def register_benchmark(entry: BenchmarkEntry) -> None:
    _BENCHMARKS[entry.name] = entry


def benchmark_entries() -> dict[str, BenchmarkEntry]:
    if not _BENCHMARKS:
        importlib.import_module("nava_eval.benchmarks.registry")
    return dict(_BENCHMARKS)


def benchmark_registry() -> Registry:
    """The registered benchmarks as name → "module:Class" (`jsonl` is listed as `jsonl:PATH`)."""
    targets = {name: entry.target for name, entry in benchmark_entries().items()}
    return Registry("benchmark", targets, labels={"jsonl": "jsonl:PATH"})


def get_benchmark(name: str, **options: Any) -> Benchmark:
    """Instantiate a benchmark by name; `jsonl:PATH` builds a user prompt set from PATH.

    An unknown name is `nava_eval.errors.UnknownName`, listing the valid ones.
    """
    registry = benchmark_registry()
    if name.startswith("jsonl:"):
        from nava_eval.user_files import user_path

        return registry.load("jsonl")(path=user_path(name[len("jsonl:") :]), **options)
    return registry.load(name)(**options)


def select(samples: Sequence[Sample], selection: SampleSelection) -> list[Sample]:
    """Apply --sets/--ids/--limit in a fixed order (sets, then ids, then the first N)."""
    chosen = [s for s in samples if selection.sets is None or s.set in selection.sets]
    if selection.ids is not None:
        chosen = [s for s in chosen if s.id in selection.ids]
    if selection.limit is not None:
        chosen = chosen[: selection.limit]
    return chosen
