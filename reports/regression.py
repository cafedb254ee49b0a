"""The CI regression gate: is a run worse than a baseline on any metric, beyond that metric's tolerance?

Direction-aware: a drop of a higher-is-better metric and a rise of a lower-is-better one count as
"worse"; improvements never fail; a neutral level (loudness) that moves either way counts as worse. The point estimates decide; the delta's 95 % bootstrap CI is
printed so a reviewer can tell noise from a real change (paired by sample id when both sides are
run directories). Unusable inputs are an error (exit 2), never a comparison: different benchmarks,
or a metric measured with a different protocol, or a value that is not a finite number. Which way
is "worse" comes from the metric registry (or, for a field it does not know, the baseline run),
never from the candidate's own file. A run that scored markedly fewer samples than the baseline
fails even when its mean looks fine (`coverage_tolerance`). A published baseline of protocol
"unknown" is compared at face value with a warning, since published tables rarely say how they
were measured. See docs/regression.md.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nava_eval import direction
from nava_eval.errors import InvalidValue
from nava_eval.reports.estimate import (
    Coverage,
    coverage_shortfall,
    field_estimate,
    result_coverage,
    values_coverage,
)
from nava_eval.reports.per_sample import (
    RunData,
    field_values,
    is_multi_seed,
    load_run,
    paired_items,
    paired_set_statistic,
)
from nava_eval.reports.stats import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    PER_SET_MEANS,
    bootstrap_ci,
    paired_bootstrap,
)
from nava_eval.reports.tables import FIELD_LABELS, SMOKE_BANNER, WHOLE_BENCHMARK_SPLITS, field_order
from nava_eval.user_files import brief, user_path

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_UNUSABLE = 2

UNKNOWN_PROTOCOL = "unknown"


@dataclass(frozen=True)
class Tolerance:
    """How much worse than the baseline a metric may get: absolute units, or percent of the baseline."""

    amount: float
    relative: bool = False

    def allowed(self, baseline: float) -> float:
        return abs(baseline) * self.amount / 100.0 if self.relative else self.amount

    def __str__(self) -> str:
        return f"{self.amount:g}%" if self.relative else f"{self.amount:g}"


#: Default tolerances, in each field's own units (documented in docs/regression.md). Chosen near the
#: run-to-run spread of the scorers on a full benchmark, so a gate on a deterministic run fails on real
#: changes and not on scorer noise.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "sync_c": Tolerance(0.1),  # SyncNet confidence, ~6-8 on VerseBench
    "sync_d": Tolerance(0.1),  # SyncNet distance, ~7-8
    "video_quality": Tolerance(0.01),  # 0-1 scale
    "imaging_quality": Tolerance(0.01),  # 0-1 scale
    "wer": Tolerance(0.5),  # percentage points
    "sim": Tolerance(1.0),  # ×100 cosine
}
#: Any field without a default: 2 % of the baseline value.
FALLBACK_TOLERANCE = Tolerance(2.0, relative=True)
#: Fraction of the baseline's scored samples a run may lose (per field) before the gate fails: a mean
#: over fewer samples is another number, however close it looks. Deterministic runs lose none.
DEFAULT_COVERAGE_TOLERANCE = 0.02

_TOLERANCE_RE = re.compile(r"\s*([A-Za-z0-9_.\-]+)\s*=\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)\s*")


def parse_tolerance(text: str) -> tuple[str, Tolerance]:
    """ "wer=0.5" (absolute, the metric's units) or "sync_c=2%" (relative to the baseline) → (field, Tolerance)."""
    match = _TOLERANCE_RE.fullmatch(text)
    if not match:
        raise InvalidValue(
            f"bad tolerance {brief(text)}; write METRIC=ABS or METRIC=REL% (e.g. wer=0.5 or sync_c=2%)"
        )
    name, amount, percent = match.groups()
    value = float(amount)
    if not math.isfinite(value) or (percent and value > 100.0):
        # 1e400 parses as infinity: a gate that can never fail.
        raise InvalidValue(
            f"bad tolerance {brief(text)}: the amount must be finite (a percentage at most 100%)"
        )
    return name, Tolerance(value, relative=bool(percent))


@dataclass(frozen=True)
class BaselineValue:
    value: float
    protocol: str
    n: int | None = None
    direction: str | None = None  # a baseline run's own record; published numbers have none
    coverage: Coverage | None = None  # items and items per seed of a baseline run; published: None


@dataclass(frozen=True)
class Baseline:
    """What a run is checked against: another run, or a published model's numbers."""

    label: str
    kind: str  # "run" | "published"
    benchmark: str
    values: dict[str, BaselineValue]
    run: RunData | None = None
    smoke: bool = False


@dataclass(frozen=True)
class CheckRow:
    """One metric of the gate."""

    field: str
    direction: str
    status: str  # "pass" | "fail"
    baseline: float | None
    value: float | None
    delta: float | None = None  # run − baseline
    ci95: tuple[float, float] | None = None
    tolerance: str = ""
    worse_by: float | None = None
    message: str = ""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of `check`; `exit_code` is 0 (pass), 1 (regression) or 2 (unusable inputs)."""

    exit_code: int
    run: str
    baseline: str
    rows: tuple[CheckRow, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    smoke: bool = False


class UnusableInput(ValueError):
    """Inputs that cannot be compared (exit 2)."""


def resolve_baseline(against: str | Path, run: RunData) -> Baseline:
    """A run directory or results.json path → that run; anything else → a published model of the run's benchmark."""
    path = user_path(against) if str(against).startswith("~") else Path(against)
    # A folder that is not a run (e.g. ./nava beside a checkout) must not hide the published model "NAVA".
    if path.is_file() or (path / "results.json").is_file():
        base = load_run(path)
        values = {
            name: BaselineValue(m.value, m.protocol, m.n, m.direction, field_coverage(base, name, m))
            for name, m in base.results.metrics.items()
            if m.value is not None
        }
        return Baseline(base.described, "run", base.results.benchmark, values, base, base.results.smoke)
    return _published_baseline(str(against), run)


def field_coverage(run: RunData, name: str, metric) -> Coverage:
    """Items and items per seed of one field: from the per-sample scores of a multi-seed run when at hand."""
    if metric.seeds and not run.scores.empty:
        values = field_values(run.scores, name)
        if not values.empty:
            return values_coverage(values)
    return result_coverage(metric)


def _run_field_for(run: RunData, quantity: str, protocol: str) -> str:
    """The run field a published number of (quantity, protocol) is checked against.

    The field of the same quantity and protocol when the run has one (sync_c_mova for a published
    Sync-C of `sync/mova-lse-v1`); else one of the same quantity, so the protocol clash is reported.
    """
    same = [n for n, m in run.results.metrics.items() if m.measures == quantity]
    exact = [n for n in same if run.results.metrics[n].protocol == protocol]
    return (exact or same or [quantity])[0]


def _published_baseline(model: str, run: RunData) -> Baseline:
    from nava_eval.reports.published import load_published

    table = load_published()
    table = table[table["benchmark"] == run.results.benchmark]
    rows = table[table["model"].str.casefold() == model.casefold()]
    if rows.empty:
        names = ", ".join(sorted(table["model"].unique())) or "none"
        raise UnusableInput(
            f"baseline {model!r} is neither a run directory with results.json, a results.json, nor a published model of "
            f"benchmark {run.results.benchmark!r} (published models: {names})"
        )
    sets = run.sets()
    splits = [sets[0]] if len(sets) == 1 and sets[0] in set(rows["split"]) else list(WHOLE_BENCHMARK_SPLITS)
    chosen = rows[rows["split"].isin(splits)]
    if chosen.empty:
        raise UnusableInput(
            f"published {model!r} has numbers only for split(s) {', '.join(sorted(rows['split'].unique()))}, "
            f"but the run covers set(s) {', '.join(sets) or 'unknown'}; run those sets or pick another baseline"
        )
    values = {
        _run_field_for(run, str(r["metric"]), str(r["protocol"])): BaselineValue(
            float(r["value"]), str(r["protocol"] or UNKNOWN_PROTOCOL)
        )
        for r in chosen.to_dict("records")
    }
    label = f"{rows['model'].iloc[0]} (published, {', '.join(sorted(chosen['split'].unique()))})"
    return Baseline(label, "published", run.results.benchmark, values)


def _delta_ci(
    run: RunData, baseline: Baseline, name: str, seed: int, n_resamples: int
) -> tuple[float, float] | None:
    """95 % CI of run − baseline: paired on common samples when possible, else the run's own CI shifted."""
    base_value = baseline.values[name].value
    ours = field_values(run.scores, name) if not run.scores.empty else None
    metric = run.results.metrics.get(name)
    if metric is not None and metric.kind == "set":
        # A set-level statistic (FD): resample the items both runs hold and apply the reducer to each.
        if baseline.run is not None:
            paired, _, _ = paired_set_statistic(baseline.run, run, name, seed, n_resamples)
            if paired is not None:
                return paired.ci95
        return (metric.ci95[0] - base_value, metric.ci95[1] - base_value) if metric.ci95 else None
    per_set = metric is not None and metric.aggregation == PER_SET_MEANS
    if ours is not None and not ours.empty and baseline.run is not None and not baseline.run.scores.empty:
        theirs = field_values(baseline.run.scores, name)
        # Same item, same seed (multi-seed runs); resampled by item. See reports.per_sample.paired_items.
        pairs = paired_items(theirs, ours)
        if pairs.complete and len(pairs.frame) > 0:
            sets = [str(s) for s in pairs.frame["set"]] if per_set else None
            paired = paired_bootstrap(
                pairs.frame["a"].to_numpy(), pairs.frame["b"].to_numpy(), seed, n_resamples, sets=sets
            )
            return paired.ci95
    if ours is not None and not ours.empty:
        if is_multi_seed(ours):
            estimate = field_estimate(run.scores, name, metric.aggregation if metric else "per-item mean", seed,
                                      n_resamples)  # fmt: skip
            if estimate is not None:
                return estimate[1][0] - base_value, estimate[1][1] - base_value
        lo, hi = bootstrap_ci(ours["value"].to_numpy(), seed, n_resamples)
        return lo - base_value, hi - base_value
    if metric is not None and metric.ci95:
        return metric.ci95[0] - base_value, metric.ci95[1] - base_value
    return None


def check(
    run: str | Path | RunData,
    against: str | Path,
    tolerances: Mapping[str, Tolerance] | Sequence[str] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    coverage_tolerance: float = DEFAULT_COVERAGE_TOLERANCE,
) -> CheckResult:
    """Gate `run` against `against` (run dir, results.json or published model name); never raises on bad input.

    coverage_tolerance: the fraction (0-1) of the baseline's scored samples per field the run may lack.
    """
    run_label, base_label = str(run), str(against)
    try:
        if isinstance(tolerances, Mapping) or tolerances is None:
            parsed = dict(tolerances or {})
        else:
            parsed = dict(parse_tolerance(t) for t in tolerances)
        loaded = load_run(run)
        run_label = loaded.described
        baseline = resolve_baseline(against, loaded)
        base_label = baseline.label
        if not 0.0 <= coverage_tolerance <= 1.0:
            raise InvalidValue(f"coverage tolerance must be a fraction in [0, 1], got {coverage_tolerance}")
        return _check(loaded, baseline, parsed, seed, n_resamples, coverage_tolerance)
    except (ValueError, OSError) as exc:  # SchemaError and UnusableInput are ValueErrors
        return CheckResult(EXIT_UNUSABLE, run_label, base_label, errors=(str(exc),))


def _check(
    run: RunData,
    baseline: Baseline,
    tolerances: dict[str, Tolerance],
    seed: int,
    n_resamples: int,
    coverage_tolerance: float = DEFAULT_COVERAGE_TOLERANCE,
) -> CheckResult:
    errors: list[str] = []
    warnings: list[str] = []
    smoke = run.results.smoke or baseline.smoke
    if run.results.benchmark != baseline.benchmark:
        errors.append(
            f"different benchmarks: run is {run.results.benchmark!r}, baseline is {baseline.benchmark!r}; "
            "a regression check compares the same benchmark"
        )
    ours = {name: m for name, m in run.results.metrics.items() if m.value is not None}
    if baseline.kind == "published":
        skipped = sorted(set(baseline.values) - set(ours))
        if skipped:
            warnings.append(f"published metrics this run does not compute, not checked: {', '.join(skipped)}")
        names = field_order(set(baseline.values) & set(ours))
    else:
        names = field_order(baseline.values)
    unknown_tol = sorted(set(tolerances) - set(names))
    if unknown_tol:
        errors.append(
            f"--tolerance for metric(s) not in this check: {', '.join(unknown_tol)}; "
            f"checked metrics: {', '.join(names) or 'none'}"
        )
    for name in names:
        if name not in ours:
            continue
        theirs = baseline.values[name].protocol
        mine = ours[name].protocol
        if theirs == UNKNOWN_PROTOCOL:
            warnings.append(f"{name}: baseline protocol is unknown; compared at face value with {mine}")
        elif theirs != mine:
            errors.append(
                f"{name}: different protocols (run {mine}, baseline {theirs}); not comparable: rescore the "
                "baseline with this nava-eval or compare against a run of the same protocol"
            )
    if not names:
        errors.append("no metric in common between the run and the baseline")
    errors += _non_finite_errors(run.results.metrics, "run")
    if baseline.run is not None:
        errors += _non_finite_errors(baseline.run.results.metrics, "baseline")
    else:
        errors += [
            f"baseline: {name} = {v.value} is not a finite number"
            for name, v in baseline.values.items()
            if not math.isfinite(v.value)
        ]
    directions, direction_errors = _directions(names, ours, baseline)
    errors += direction_errors
    if errors:
        return CheckResult(EXIT_UNUSABLE, run.described, baseline.label, errors=tuple(errors), warnings=tuple(warnings),
                           smoke=smoke)  # fmt: skip

    rows: list[CheckRow] = []
    for name in names:
        base = baseline.values[name]
        tolerance = tolerances.get(name) or DEFAULT_TOLERANCES.get(name, FALLBACK_TOLERANCE)
        metric = ours.get(name)
        field_direction = directions[name]
        if metric is None:
            rows.append(
                CheckRow(name, field_direction, "fail", base.value, None, tolerance=str(tolerance),
                         message="missing in run (the baseline has it)")
            )  # fmt: skip
            continue
        delta = metric.value - base.value
        worse_by = direction.worsened_by(delta, field_direction)  # a neutral level: |delta|
        allowed = tolerance.allowed(base.value)
        failed = worse_by > allowed + 1e-12
        message = (
            f"worse by {worse_by:.4g} > tolerance {allowed:.4g}"
            if failed
            else ("better" if worse_by < 0 else f"within tolerance {allowed:.4g}")
        )
        # Per item and per seed, never in (item, seed) units: extra seeds must not hide missing items.
        shortfall = (
            coverage_shortfall(field_coverage(run, name, metric), base.coverage, coverage_tolerance)
            if base.coverage is not None
            else []
        )
        if shortfall:
            failed = True
            message = (
                f"coverage fell: {'; '.join(shortfall)} "
                f"(tolerance {coverage_tolerance:.0%} may go missing); " + message
            )
        elif metric.n and base.n and metric.n != base.n:
            message += f"; n differs ({metric.n} vs baseline {base.n})"
        rows.append(
            CheckRow(
                field=name,
                direction=field_direction,
                status="fail" if failed else "pass",
                baseline=base.value,
                value=metric.value,
                delta=delta,
                ci95=_delta_ci(run, baseline, name, seed, n_resamples),
                tolerance=str(tolerance),
                worse_by=worse_by,
                message=message,
            )
        )
    code = EXIT_REGRESSION if any(r.status == "fail" for r in rows) else EXIT_OK
    return CheckResult(code, run.described, baseline.label, tuple(rows), (), tuple(warnings), smoke)


def registry_directions() -> dict[str, str]:
    """field → "higher" | "lower", from the metric registry (imports no torch)."""
    from nava_eval.metrics.base import metric_entries

    return {f.name: f.direction for entry in metric_entries().values() for f in entry.fields}


def _directions(names: Sequence[str], ours: Mapping, baseline: Baseline) -> tuple[dict[str, str], list[str]]:
    """Each checked field's direction (registry, else the baseline run's) and the files that contradict it."""
    registry = registry_directions()
    out: dict[str, str] = {}
    errors: list[str] = []
    for name in names:
        theirs = baseline.values[name].direction if name in baseline.values else None
        known = registry.get(name) or theirs
        if known is None:
            errors.append(
                f"{name}: no metric registered with this field, so which way is worse is unknown; "
                "check against a baseline run that records it"
            )
            continue
        out[name] = known
        source = "the metric registry" if name in registry else "the baseline run"
        mine = ours[name].direction if name in ours else None
        if mine is not None and mine != known:
            errors.append(
                f"{name}: the run's results.json says direction {mine!r}, but {source} says {known!r} "
                "(the file was edited or written by another tool); rescore the run with `nava-eval score`"
            )
        if theirs is not None and theirs != known:
            errors.append(
                f"{name}: the baseline's results.json says direction {theirs!r}, but {source} says {known!r}"
            )
    return out, errors


def _non_finite_errors(metrics: Mapping, side: str) -> list[str]:
    """NaN or ±inf in a results.json value or CI: never compared (NaN passes every `>` test)."""
    errors = []
    for name, m in metrics.items():
        numbers = [m.value, *(m.ci95 or [])]
        if any(isinstance(x, float) and not math.isfinite(x) for x in numbers if x is not None):
            errors.append(
                f"{side}: {name} = {m.value} (CI {m.ci95}) is not a finite number; results.json is damaged or "
                "was not written by nava-eval: rescore the run with `nava-eval score`"
            )
    return errors


def _num(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def render_check(result: CheckResult) -> str:
    """The table of deltas printed by `nava-eval check`."""
    from tabulate import tabulate

    out = []
    if result.smoke:
        out += [f"** {SMOKE_BANNER} **", ""]
    out.append(f"run: {result.run}")
    out.append(f"baseline: {result.baseline}")
    if result.rows:
        body = []
        for r in result.rows:
            arrow = direction.arrow(r.direction)
            ci = f"[{_num(r.ci95[0], True)}, {_num(r.ci95[1], True)}]" if r.ci95 else "–"
            body.append(
                [f"{FIELD_LABELS.get(r.field, r.field)} {arrow}", _num(r.baseline), _num(r.value),
                 _num(r.delta, True), ci, r.tolerance, r.status.upper(), r.message]
            )  # fmt: skip
        headers = ["metric", "baseline", "run", "Δ (run − base)", "95 % CI of Δ", "tolerance", "status", ""]
        out += ["", tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)]
    out += [""] + [f"warning: {w}" for w in result.warnings]
    out += [f"error: {e}" for e in result.errors]
    verdict = {EXIT_OK: "PASS", EXIT_REGRESSION: "FAIL: regression", EXIT_UNUSABLE: "ERROR: unusable inputs"}
    out.append(f"{verdict[result.exit_code]} (exit {result.exit_code})")
    return "\n".join(line for line in out if line is not None).strip() + "\n"


def junit_xml(result: CheckResult) -> str:
    """JUnit XML: one testcase per metric; unusable inputs become one errored testcase."""
    failures = sum(r.status == "fail" for r in result.rows)
    suite = ET.Element(
        "testsuite",
        name="nava-eval check",
        tests=str(max(len(result.rows), 1 if result.errors else 0)),
        failures=str(failures),
        errors=str(1 if result.errors else 0),
        skipped="0",
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="run", value=result.run)
    ET.SubElement(props, "property", name="baseline", value=result.baseline)
    if result.smoke:
        ET.SubElement(props, "property", name="banner", value=SMOKE_BANNER)
    for r in result.rows:
        case = ET.SubElement(suite, "testcase", classname="nava-eval.check", name=r.field, time="0")
        text = (
            f"baseline {_num(r.baseline)}, run {_num(r.value)}, delta {_num(r.delta, True)}, "
            f"tolerance {r.tolerance}: {r.message}"
        )
        if r.status == "fail":
            ET.SubElement(case, "failure", message=r.message, type="regression").text = text
        else:
            ET.SubElement(case, "system-out").text = text
    if result.errors:
        case = ET.SubElement(suite, "testcase", classname="nava-eval.check", name="inputs", time="0")
        ET.SubElement(case, "error", message=result.errors[0], type="unusable-input").text = "\n".join(
            result.errors
        )
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def write_junit(result: CheckResult, path: str | Path) -> Path:
    """Write `junit_xml(result)` atomically."""
    from nava_eval.rundir.files import atomic_write_text

    return atomic_write_text(path, junit_xml(result))


__all__ = [
    "DEFAULT_TOLERANCES",
    "FALLBACK_TOLERANCE",
    "Baseline",
    "CheckResult",
    "CheckRow",
    "Tolerance",
    "check",
    "junit_xml",
    "parse_tolerance",
    "render_check",
    "resolve_baseline",
    "write_junit",
]
