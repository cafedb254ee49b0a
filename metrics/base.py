"""The Metric protocol and the lazy metric registry.

A metric is constructed cheaply (no weights), `setup()` loads its networks once per process, and
`score_batch()` scores many outputs at once. A metric may report several values from one pass
(SyncNet gives Sync-C and Sync-D): `fields` names each with its direction, and each becomes its
own column in results.json. Registry entries are "module:Class" strings so `nava-eval --help` and
`nava-eval ls` never import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from nava_eval.errors import UserError

Direction = Literal["higher", "lower"]
Requirement = Literal["video", "audio", "reference_text", "reference_audio", "language"]


FieldKind = Literal["item", "set"]


@dataclass(frozen=True)
class MetricField:
    """One aggregated value a metric produces.

    `protocol` names how this value is computed when it differs from the metric pass's own protocol
    (one SyncNet pass yields `sync/syncnet-lse-v1` and MOVA's `sync/mova-lse-v1` values). `quantity`
    is what the value measures (`sync_c` for both): tables put values of one quantity and one protocol
    in one column, so a published number and ours share a column only when their protocols match.

    A "set" field is not a mean of per-item numbers: `reducer` ("module:function", numpy only, no
    torch) turns the per-item `values` dicts of the scored items into one number (e.g. a Fréchet
    distance between two embedding sets), and its CI comes from resampling items.
    """

    name: str
    direction: Direction
    unit: str = ""
    description: str = ""
    protocol: str | None = None  # None: the metric pass's protocol
    quantity: str | None = None  # None: the field's own name
    kind: FieldKind = "item"
    reducer: str | None = None  # "module:function" for kind "set"

    def __post_init__(self) -> None:
        if (self.kind == "set") != (self.reducer is not None):
            raise ValueError(f"metric field {self.name!r}: a reducer is needed exactly for kind 'set'")

    @property
    def measures(self) -> str:
        """The quantity this field measures (a table column family)."""
        return self.quantity or self.name

    def protocol_for(self, pass_protocol: str) -> str:
        """This field's protocol id, given the protocol of the metric pass that produced it.

        Variant suffixes of the pass (`+smoke-random-weights`, `+stride2`, ...) carry over: a smoke
        pass never yields a field that claims the real protocol.
        """
        if not self.protocol:
            return pass_protocol
        _, plus, suffix = pass_protocol.partition("+")
        return self.protocol + plus + suffix


@dataclass(frozen=True)
class ScoreInput:
    """What a metric may need about one generated output."""

    id: str
    set: str
    output: Path
    reference_text: str | None = None
    reference_audio: Path | None = None
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreOutcome:
    """The result of scoring one output.

    `status` is "skipped" when the output cannot be scored by this metric's rules (no face track,
    silent audio): it is counted apart and never as 0. "failed" is an error (corrupt file).
    `values` holds every field in `Metric.fields` when ok, plus any details the metric computes.
    """

    status: Literal["ok", "skipped", "failed"]
    values: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    @classmethod
    def ok(cls, **values: Any) -> ScoreOutcome:
        return cls("ok", dict(values))

    @classmethod
    def skipped(cls, reason: str, **values: Any) -> ScoreOutcome:
        return cls("skipped", dict(values), reason)

    @classmethod
    def failed(cls, reason: str) -> ScoreOutcome:
        return cls("failed", {}, reason)


@runtime_checkable
class Metric(Protocol):
    """What every metric implements. See module docstring for the life cycle."""

    name: str
    protocol: str
    fields: tuple[MetricField, ...]
    requires: frozenset[str]
    description: str

    def setup(self, device: str = "cpu") -> None:
        """Load networks once per process (idempotent)."""

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        """Score a batch; one outcome per item, in order. Must not raise for one bad item."""
        ...


@dataclass(frozen=True)
class MetricEntry:
    """A registry row: where the metric lives and what `nava-eval ls` shows without importing it."""

    name: str
    target: str  # "module:Class"
    protocol: str
    fields: tuple[MetricField, ...]
    description: str


class UnknownNameError(UserError, KeyError):
    """An unknown registry name; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


_METRICS: dict[str, MetricEntry] = {}


def register_metric(entry: MetricEntry) -> None:
    """Add a metric to the registry (later registrations of a name replace earlier ones)."""
    _METRICS[entry.name] = entry


def metric_entries() -> dict[str, MetricEntry]:
    """All registered metrics, by name."""
    _ensure_builtin()
    return dict(_METRICS)


def get_metric(name: str, **options: Any) -> Metric:
    """Instantiate a registered metric with options (e.g. weights={...}, smoke=True)."""
    entries = metric_entries()
    if name not in entries:
        raise UnknownNameError(f"unknown metric {name!r}; valid metrics: {', '.join(sorted(entries))}")
    module_name, _, class_name = entries[name].target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**options)


def load_target(target: str) -> Any:
    """Import a "module:attr" registry target."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _ensure_builtin() -> None:
    if not _METRICS:
        importlib.import_module("nava_eval.metrics.registry")
