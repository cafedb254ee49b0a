"""Derived metrics: numbers computed from a model's other numbers (Verse-Bench's Overall score).

A derived metric is a declaration, not a scorer: it names its inputs by quantity and protocol id,
and a formula over them. It is evaluated on the tidy rows of each model (a run, an imported model or
a published one), so it is computed once and shown the same in every view and file.

Its number exists only when every input exists under the protocol the declaration names. Otherwise
it is missing, with the reason (which input is absent, or measured under which other protocol), and
never a number under the derived protocol id. Protocol variants carry over: when every input is a
`+smoke-random-weights` number, the derived value is one too; mixed variants are refused. An input
may also accept a named stand-in protocol (`Input.stand_ins`): the derived protocol then carries
that stand-in's suffix, so a reader sees which input was not the official one.

Define one in a few lines and pass it to `build_rows(..., derived=[...])` or `report --derived
module:NAME`::

    from nava_eval.reports.derived import DerivedMetric, Input

    MY_TOTAL = DerivedMetric(
        name="my_total", label="My total", protocol="total/my-total-v1", benchmark="versebench",
        inputs=(Input("AS", "video_quality", "video-quality/versebench-as-v2"),
                Input("PQ", "pq", "audiobox/versebench-aesthetics-v1")),
        formula=lambda v: 0.5 * v["AS"] + 0.5 * v["PQ"] / 10,
    )
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from nava_eval.direction import Direction
from nava_eval.lazy import Registry, load

SMOKE = "+smoke-random-weights"  # metrics.base.SMOKE_SUFFIX (reports import no metric module)

#: The built-in derived metrics, name → "module:ATTRIBUTE" (a `DerivedMetric`); lazy.
DERIVED = Registry(
    "derived metric",
    {
        "versebench_overall": "nava_eval.reports.derived_versebench:OVERALL",
        "versebench_overall_sentinel": "nava_eval.reports.derived_versebench:OVERALL_SENTINEL",
    },
)


@dataclass(frozen=True)
class Input:
    """One input: `symbol` in the formula, read from quantity `field` measured under `protocol`.

    `scale` converts our unit to the formula's (WER is stored in %, a toolkit formula may take a
    fraction: scale 0.01). `stand_ins` maps another protocol id that may stand in for `protocol` to the
    suffix the derived protocol then carries (e.g. {"sync/syncnet-lse-v1": "+lse-c-syncnet-python"}).
    """

    symbol: str
    field: str
    protocol: str
    scale: float = 1.0
    stand_ins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DerivedField:
    """One number a derived metric yields (the Overall score and its sub-scores)."""

    name: str
    label: str
    direction: Direction = "higher"


@dataclass(frozen=True)
class DerivedValue:
    """A derived metric evaluated on one model: its fields' values, or why there are none."""

    protocol: str | None
    values: Mapping[str, float]
    reason: str = ""  # non-empty: missing, and why
    inputs: Mapping[str, float] = field(default_factory=dict)  # symbol → value in the formula's units
    note: str = ""  # what a reader should know about a value that exists (inputs substituted)


@dataclass(frozen=True)
class DerivedMetric:
    """A number computed from other numbers of one model on one benchmark.

    `formula` takes {symbol: value in the formula's units} and returns the main value (a float) or
    {field name: value} for every declared field (the main field is `name`). `fields` defaults to the
    one field `name` (`label`, `direction`).
    """

    name: str
    label: str
    protocol: str
    benchmark: str
    inputs: tuple[Input, ...]
    formula: Callable[[Mapping[str, float]], float | Mapping[str, float]]
    direction: Direction = "higher"
    description: str = ""
    fields: tuple[DerivedField, ...] = ()
    # Not None: an input with no number at all takes this value (formula units), as some toolkits do,
    # and the protocol says so (`+missing-as-<value>`). None (default): the derived value is missing.
    missing_value: float | None = None
    default: bool = True  # evaluated in every report; False: only when asked for (`--derived NAME`)

    def __post_init__(self) -> None:
        symbols = [i.symbol for i in self.inputs]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"derived metric {self.name!r}: input symbols repeat: {symbols}")
        if "+" in self.protocol:
            raise ValueError(f"derived metric {self.name!r}: protocol {self.protocol!r} has a variant suffix")

    @property
    def all_fields(self) -> tuple[DerivedField, ...]:
        return self.fields or (DerivedField(self.name, self.label, self.direction),)

    def evaluate(self, measured: Mapping[str, Mapping[str, float]]) -> DerivedValue:
        """Evaluate on one model's numbers: `measured[quantity][protocol id]` = value over the whole benchmark."""
        values: dict[str, float] = {}
        suffixes: dict[str, str] = {}
        absent: list[str] = []
        elsewhere: list[str] = []
        substituted: list[str] = []
        for spec in self.inputs:
            by_protocol = measured.get(spec.field, {})
            if not by_protocol:
                if self.missing_value is None:
                    absent.append(spec.symbol)
                else:
                    values[spec.symbol] = self.missing_value
                    substituted.append(spec.symbol)
                continue
            found = _read(spec, by_protocol)
            if found is None:
                elsewhere.append(f"{spec.symbol} only under {', '.join(sorted(by_protocol))}")
                continue
            value, suffix = found
            values[spec.symbol] = value * spec.scale
            suffixes[spec.symbol] = suffix
        if absent or elsewhere:
            said = ([f"not measured: {', '.join(absent)}"] if absent else []) + elsewhere
            return DerivedValue(None, {}, "; ".join(said))
        variant = _common_variant(suffixes) if suffixes else ""
        if variant is None:
            mixed = ", ".join(f"{s} {v or '(official)'}" for s, v in suffixes.items())
            return DerivedValue(
                None, {}, f"its inputs are measured under different protocol variants: {mixed}"
            )
        try:
            out = self.formula(values)
            result = (
                {self.name: float(out)}
                if isinstance(out, int | float)
                else {k: float(v) for k, v in out.items()}
            )
        except Exception as exc:  # a user's formula: say which definition broke, not a traceback
            from nava_eval.errors import InvalidValue

            raise InvalidValue(
                f"derived metric {self.name!r}: its formula failed on inputs {sorted(values)}: "
                f"{type(exc).__name__}: {exc}; fix the formula or its Input symbols"
            ) from None
        missing = [f.name for f in self.all_fields if f.name not in result]
        if missing:
            raise ValueError(f"derived metric {self.name!r}: its formula returned no {missing}")
        if not all(math.isfinite(v) for v in result.values()):
            return DerivedValue(None, {}, f"the formula gave a non-finite value: {result}", values)
        note = ""
        if substituted:
            variant = f"+missing-as-{self.missing_value:g}" + variant
            note = f"not measured, taken as {self.missing_value:g}: {', '.join(substituted)}"
        return DerivedValue(self.protocol + variant, result, "", values, note)


def _split(protocol: str) -> tuple[str, str]:
    base, plus, suffix = protocol.partition("+")
    return base, plus + suffix


def _read(spec: Input, by_protocol: Mapping[str, float]) -> tuple[float, str] | None:
    """(value, variant suffix) of `spec` among one quantity's numbers by protocol id; None if none fits."""
    candidates: list[tuple[float, str]] = []
    for protocol, value in by_protocol.items():
        base, suffix = _split(protocol)
        if base == spec.protocol:
            candidates.append((value, suffix))
        elif base in spec.stand_ins:
            candidates.append((value, spec.stand_ins[base] + suffix))
    if not candidates:
        return None
    # The official protocol before a stand-in, then the shortest variant (a plain id before `+cropped`).
    candidates.sort(key=lambda c: (c[1].replace(SMOKE, "") != "", len(c[1])))
    return candidates[0]


def _common_variant(suffixes: Mapping[str, str]) -> str | None:
    """The derived protocol's suffix: the stand-in suffixes, plus the run-wide variant all inputs share."""
    stand_in_parts: list[str] = []
    run_variants: set[str] = set()
    for suffix in suffixes.values():
        parts = ["+" + p for p in suffix.split("+") if p]
        run_variants.add("".join(p for p in parts if p == SMOKE))
        stand_in_parts += [p for p in parts if p != SMOKE]
    if len(run_variants) > 1:
        return None
    return "".join(dict.fromkeys(stand_in_parts)) + run_variants.pop()


def derived_metric(name: str) -> DerivedMetric:
    """A built-in derived metric by name (UnknownName lists the valid ones)."""
    return DERIVED.load(name)


def load_derived(spec: str) -> DerivedMetric:
    """A built-in name, or "module:ATTRIBUTE" naming a user's DerivedMetric."""
    if ":" not in spec:
        return derived_metric(spec)
    from nava_eval.errors import InvalidValue

    try:
        obj = load(spec)
    except ImportError as exc:
        raise InvalidValue(
            f"--derived {spec}: cannot import it ({exc}); give module:NAME of a DerivedMetric"
        ) from None
    if not isinstance(obj, DerivedMetric):
        raise InvalidValue(f"--derived {spec}: is a {type(obj).__name__}, not a DerivedMetric")
    return obj


def builtin_derived() -> list[DerivedMetric]:
    return [derived_metric(name) for name in DERIVED]


def evaluate_on_rows(
    derived: Sequence[DerivedMetric], rows: Sequence[Mapping[str, object]], whole: Sequence[str]
) -> list[tuple[tuple[str, str, object, str], DerivedMetric, DerivedValue]]:
    """Each derived metric on each model (kind, model, run, benchmark) of its benchmark in tidy `rows`.

    A model's numbers over the whole benchmark are its rows whose set is in `whole`. A model with
    none of a metric's inputs is left out (nothing to say); one with some gets a value or a reason.
    """
    by_model: dict[tuple[str, str, object, str], dict[str, dict[str, float]]] = {}
    for rec in rows:
        if rec["set"] not in whole or rec["value"] is None or _nan(rec["value"]):
            continue
        key = (str(rec["kind"]), str(rec["model"]), rec["run"], str(rec["benchmark"]))
        by_model.setdefault(key, {}).setdefault(str(rec["field"]), {})[str(rec["protocol"])] = float(
            rec["value"]
        )  # type: ignore[arg-type]
    out = []
    for key, measured in by_model.items():
        for metric in derived:
            if metric.benchmark != key[3]:
                continue
            if not any(i.field in measured for i in metric.inputs):
                continue
            out.append((key, metric, metric.evaluate(measured)))
    return out


def _nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)
