"""A metric is one class: what it declares, the base that runs it, and the lazy lookup by name.

A metric is constructed cheaply (no weights), `setup()` loads its networks once per process, and
`score_batch()` scores many outputs at once. A metric may report several values from one pass
(SyncNet gives Sync-C and Sync-D): `fields` names each with its direction, and each becomes its
own column in results.json. Name, default protocol, fields, description, requirements and weight
files are class attributes, declared once; `metrics/registry.py` maps names to "module:Class"
strings, and every metric module imports without torch, so `nava-eval --help` and `nava-eval ls`
never import it. See docs/architecture.md, "Add a metric".
"""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from nava_eval.direction import Direction
from nava_eval.errors import UnknownName
from nava_eval.lazy import load
from nava_eval.rundir.unit import Unit

if TYPE_CHECKING:
    from nava_eval.metrics.shared_media import MediaCache

__all__ = [
    "SMOKE_SUFFIX",
    "BaseMetric",
    "Metric",
    "MetricEntry",
    "MetricField",
    "ScoreInput",
    "ScoreOutcome",
    "UnknownName",
    "get_metric",
    "metric_class",
    "metric_entries",
    "metric_entry",
]

#: The protocol suffix of a metric run with tiny seeded random networks (scores meaningless).
SMOKE_SUFFIX = "+smoke-random-weights"

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
    """What a metric may need about one generated output.

    `unit` (item id and run seed) is the key of this output within a batch: the seeds of one item in a
    multi-seed run share `id` but not their bytes, so a batch keys whatever it computes by `unit`.
    """

    id: str
    set: str
    output: Path
    reference_text: str | None = None
    reference_audio: Path | None = None
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None  # the run seed of a multi-seed run (None: the run's only seed)

    @property
    def unit(self) -> Unit:
        return Unit(self.id, self.seed)


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
    """What every metric implements (BaseMetric does most of it). See module docstring for the life cycle."""

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


class BaseMetric(abc.ABC):
    """The one implementation of what every metric shares: smoke mode, weight overrides, device,
    batch size, weight provenance, and loading the networks once.

    A subclass declares the class attributes below, loads its networks in `_load(device)`, says
    whether they are loaded in `_loaded()`, and scores in `score_batch`. Constructed as
    `Cls(*, smoke=False, weights=None, benchmark=None, batch_size=None, seed=0, **its own options)`:
    `smoke` swaps in tiny seeded networks (the protocol id gets `+smoke-random-weights`), `weights`
    maps a weight name (see `metrics.weights`) to a user's own file or folder, `benchmark` lets a
    metric pick the benchmark's protocol variant (WER on VerseBench).
    """

    name: ClassVar[str]
    #: On the class: the default protocol, shown by `nava-eval ls`. On an instance: the protocol of
    #: this configuration (variants and the smoke suffix included), which is what scores carry.
    protocol: str
    fields: ClassVar[tuple[MetricField, ...]]
    description: ClassVar[str]
    requires: ClassVar[frozenset[str]] = frozenset()
    #: The weight files this metric loads: the names `--weights NAME=PATH` may override.
    weight_names: ClassVar[tuple[str, ...]] = ()
    #: Items (or windows, clips) per forward pass; None: chosen per device at setup (`batch_size_on`).
    default_batch_size: ClassVar[int | None] = None
    #: Whether `setup()` on another device loads the networks again there (False: the first load stays).
    reload_on_new_device: ClassVar[bool] = True
    #: Whether smoke mode swaps in tiny random networks (then the protocol id says so). False for a
    #: metric whose smoke run computes the real thing (no network, or real networks small enough).
    smoke_networks: ClassVar[bool] = True
    #: The streams this metric decodes through `self.media` (a `metrics.shared_media.MediaCache`):
    #: frame rates of libavfilter's `fps` filter, and whether it reads the audio. A scoring pass gives
    #: every metric that declares some one cache, so each clip is decoded once for all of them.
    media_frame_rates: ClassVar[tuple[Fraction, ...]] = ()
    media_audio: ClassVar[bool] = False
    #: How far a per-clip value may move with the batch and thread split it is computed in (`--nproc`,
    #: `--batch-size`), when a metric cannot keep the harness-wide bound (runners.score_parallel.
    #: PARALLEL_ATOL/RTOL): (absolute, relative, why). None: the harness-wide bound holds.
    parallel_tolerance: ClassVar[tuple[float, float, str] | None] = None
    #: Decoded bytes a metric's own cache holds when no pass shares one (a few clips' worth).
    private_media_bytes: ClassVar[int] = 256 << 20

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, str | os.PathLike] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        seed: int = 0,
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"{self.name}: batch_size must be >= 1, got {batch_size}")
        self.smoke = smoke
        self.weight_overrides: dict[str, str | os.PathLike] = dict(weights or {})
        self.benchmark = benchmark
        self.batch_size = batch_size if batch_size is not None else self.default_batch_size
        self.seed = seed
        self.device = "cpu"
        self.weights_provenance: dict[str, dict[str, str]] = {}  # of the files loaded, for run.json
        self.protocol = self.protocol_id()
        self._media: MediaCache | None = None

    # ------------------------------------------------------------------ decoded media

    @property
    def media(self) -> MediaCache:
        """The decoded-media cache this metric reads clips through (its own, unless a pass shares one)."""
        if self._media is None:
            from nava_eval.metrics.shared_media import MediaCache

            self.share_media(MediaCache(self.private_media_bytes))
        assert self._media is not None
        return self._media

    def share_media(self, cache: MediaCache) -> None:
        """Read clips through `cache`, registering this metric's streams so one decode serves all."""
        for fps in self.media_frame_rates:
            cache.register_frames(fps)
        if self.media_audio:
            cache.register_audio()
        self._media = cache

    # ------------------------------------------------------------------ options and protocol

    def reject_options(self, options: Mapping[str, Any], valid: str) -> None:
        """TypeError naming options this metric does not know (`valid`: the ones it does)."""
        if options:
            raise TypeError(f"{self.name}: unknown option(s) {sorted(options)}; valid: {valid}")

    def protocol_id(self, base: str | None = None, variant: str = "") -> str:
        """`base` (default: the class's protocol) + variant suffixes + the smoke suffix in smoke mode."""
        smoke = self.smoke and self.smoke_networks
        return (base or type(self).protocol) + variant + (SMOKE_SUFFIX if smoke else "")

    def batch_size_on(self, device: str, gpu: int, cpu: int) -> int:
        """The batch size asked for, else the metric's default for this device."""
        return self.batch_size or (gpu if str(device).startswith("cuda") else cpu)

    # ------------------------------------------------------------------ weights

    def resolve_weight(self, name: str) -> Path:
        """The checked file of scorer weight `name` (a user's override first); its provenance is kept."""
        from nava_eval.metrics.weights import resolve_weight

        resolved = resolve_weight(name, self.weight_overrides)
        self.weights_provenance[name] = resolved.provenance()
        return resolved.path

    def hub_source(self, name: str, source: str = "hf-hub") -> str:
        """A user's folder for hub model `name`, else its cached snapshot folder (never downloads)."""
        from nava_eval.metrics.weights import hub_folder

        path = str(hub_folder(name, self.weight_overrides))
        self.weights_provenance[name] = {"source": source, "path": path}
        return path

    # ------------------------------------------------------------------ life cycle

    def setup(self, device: str = "cpu") -> None:
        """Load the networks once per process (idempotent)."""
        if self._loaded() and (device == self.device or not self.reload_on_new_device):
            return
        self.device = device
        self._load(device)

    @abc.abstractmethod
    def _loaded(self) -> bool:
        """Whether the networks are loaded."""

    @abc.abstractmethod
    def _load(self, device: str) -> None:
        """Load the networks onto `device`."""

    @abc.abstractmethod
    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        """Score a batch; one outcome per item, in order; never raises for one bad item."""


@dataclass(frozen=True)
class MetricEntry:
    """What callers ask about a registered metric without constructing it, read from its class."""

    name: str
    target: str  # "module:Class"
    protocol: str  # the default one (an instance may add variant suffixes)
    fields: tuple[MetricField, ...]
    description: str
    requires: frozenset[str] = frozenset()
    weight_names: tuple[str, ...] = ()


def metric_class(name: str) -> type:
    """The class of registered metric `name` (UnknownName listing the valid names otherwise)."""
    from nava_eval.metrics.registry import METRICS

    return METRICS.load(name)


def metric_entry(name: str) -> MetricEntry:
    """Registered metric `name`, described by its class (imports its module, never torch)."""
    from nava_eval.metrics.registry import METRICS

    target = METRICS[name]
    cls = load(target)
    return MetricEntry(
        name=name,
        target=target,
        protocol=cls.protocol,
        fields=tuple(cls.fields),
        description=cls.description,
        requires=frozenset(getattr(cls, "requires", ())),
        weight_names=tuple(getattr(cls, "weight_names", ())),
    )


def metric_entries() -> dict[str, MetricEntry]:
    """All registered metrics, by name."""
    from nava_eval.metrics.registry import METRICS

    return {name: metric_entry(name) for name in METRICS}


def get_metric(name: str, **options: Any) -> Metric:
    """Instantiate a registered metric with options (e.g. weights={...}, smoke=True)."""
    return metric_class(name)(**options)
