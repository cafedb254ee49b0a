"""Paired comparison of two runs of one benchmark: per metric, B − A on the samples both scored.

Pairing by sample id removes the prompt-to-prompt variance both runs share, so the interval of the
delta is much tighter than two separate CIs would suggest. A metric measured with different
protocols in the two runs is listed as not comparable rather than given a meaningless delta.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nava_eval import direction
from nava_eval.errors import InvalidValue
from nava_eval.reports.per_sample import RunData, field_values, load_run, paired_items, paired_set_statistic
from nava_eval.reports.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, PER_SET_MEANS, paired_bootstrap
from nava_eval.reports.tables import FIELD_LABELS, SMOKE_BANNER, field_order
from nava_eval.rundir.files import finite_or_null


@dataclass(frozen=True)
class MetricComparison:
    """One field: means of each run on the common samples, B − A with its paired 95 % CI."""

    field: str
    direction: str
    protocol_a: str
    protocol_b: str
    n_a: int
    n_b: int
    n_common: int
    mean_a: float | None = None
    mean_b: float | None = None
    delta: float | None = None
    ci95: tuple[float, float] | None = None
    p_value: float | None = None
    significant: bool = False
    better: str | None = None  # "A", "B" or None (not significant / not comparable / a neutral level)
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """Result of `compare_runs`."""

    benchmark: str
    run_a: str
    run_b: str
    metrics: tuple[MetricComparison, ...]
    smoke: bool
    seed: int
    n_resamples: int


def _direction(run: RunData, name: str) -> str:
    # The registry decides which way is better; a run's own file only for a field no metric registers.
    from nava_eval.metrics.base import metric_entries

    for entry in metric_entries().values():
        for f in entry.fields:
            if f.name == name:
                return f.direction
    metric = run.results.metrics.get(name)
    return metric.direction if metric is not None else "higher"


def compare_runs(
    run_a: str | Path | RunData,
    run_b: str | Path | RunData,
    *,
    fields: Sequence[str] | None = None,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> Comparison:
    """Paired bootstrap of B − A per field; raises ValueError when the runs are of different benchmarks."""
    a, b = load_run(run_a), load_run(run_b)
    if a.results.benchmark != b.results.benchmark:
        raise InvalidValue(
            f"runs are of different benchmarks ({a.results.benchmark} vs {b.results.benchmark}); "
            "a paired comparison needs the same prompts"
        )
    for run in (a, b):
        if run.run_dir is None or not (run.run_dir / "scores").is_dir():
            raise InvalidValue(
                f"run {run.results.run_name}: no per-sample scores (scores/*.jsonl) next to its results.json; "
                "compare needs run directories"
            )
    present_a = set(a.scores["field"]) | set(a.results.metrics)
    present_b = set(b.scores["field"]) | set(b.results.metrics)
    if fields is not None:
        unknown = [f for f in fields if f not in present_a | present_b]
        if unknown:
            raise InvalidValue(
                f"--metric {', '.join(unknown)}: not scored in either run; "
                f"fields: {', '.join(field_order(present_a | present_b))}"
            )
    names = list(fields) if fields is not None else field_order(present_a | present_b)
    rows = []
    for name in names:
        if any(
            m is not None and m.kind == "set"
            for m in (a.results.metrics.get(name), b.results.metrics.get(name))
        ):
            rows.append(_compare_set_field(a, b, name, seed, n_resamples))
            continue
        va, vb = field_values(a.scores, name), field_values(b.scores, name)
        pa = a.results.metrics[name].protocol if name in a.results.metrics else _protocol(va)
        pb = b.results.metrics[name].protocol if name in b.results.metrics else _protocol(vb)
        base = {
            "field": name,
            "direction": _direction(a if name in present_a else b, name),
            "protocol_a": pa,
            "protocol_b": pb,
            "n_a": len(va),
            "n_b": len(vb),
        }
        if va.empty or vb.empty:
            missing = "A" if va.empty else "B"
            rows.append(MetricComparison(**base, n_common=0, note=f"no per-sample scores in run {missing}"))
            continue
        pairs = paired_items(va, vb)
        common = pairs.frame
        if pa != pb:
            rows.append(
                MetricComparison(**base, n_common=len(common), note="different protocols: not comparable")
            )
            continue
        if len(common) == 0:
            rows.append(MetricComparison(**base, n_common=0, note="no sample scored by both runs"))
            continue
        x, y = common["a"].to_numpy(), common["b"].to_numpy()
        ref = a.results.metrics.get(name) or b.results.metrics.get(name)
        per_set = ref is not None and ref.aggregation == PER_SET_MEANS
        sets = [str(s) for s in common["set"]] if per_set else None
        paired = paired_bootstrap(x, y, seed=seed, n_resamples=n_resamples, sets=sets)
        better = None
        if paired.significant:
            better = _winner(paired.delta, base["direction"])
        notes = [pairs.note] if pairs.note else []
        if pairs.left_out:
            notes.append(f"{pairs.left_out} sample(s) scored by only one run left out")
        rows.append(
            MetricComparison(
                **base,
                n_common=len(common),
                mean_a=float(x.mean()),
                mean_b=float(y.mean()),
                delta=paired.delta,
                ci95=paired.ci95,
                p_value=paired.p_value,
                significant=paired.significant,
                better=better,
                note="; ".join(notes),
            )
        )
    return Comparison(
        benchmark=a.results.benchmark,
        run_a=a.described,
        run_b=b.described,
        metrics=tuple(rows),
        smoke=a.results.smoke or b.results.smoke,
        seed=seed,
        n_resamples=n_resamples,
    )


def _compare_set_field(a: RunData, b: RunData, name: str, seed: int, n_resamples: int) -> MetricComparison:
    """A set-level field (FD): no per-item values, so items are resampled and the reducer applied to both runs."""
    ma, mb = a.results.metrics.get(name), b.results.metrics.get(name)
    base = {
        "field": name,
        "direction": (ma or mb).direction,  # type: ignore[union-attr]
        "protocol_a": ma.protocol if ma else "unknown",
        "protocol_b": mb.protocol if mb else "unknown",
        "n_a": ma.n if ma else 0,
        "n_b": mb.n if mb else 0,
    }
    if ma is None or mb is None:
        return MetricComparison(**base, n_common=0, note=f"not in run {'A' if ma is None else 'B'}")
    if ma.protocol != mb.protocol:
        return MetricComparison(**base, n_common=0, note="different protocols: not comparable")
    paired, n_items, note = paired_set_statistic(a, b, name, seed, n_resamples)
    if paired is None:
        return MetricComparison(
            **base, n_common=n_items, mean_a=ma.value, mean_b=mb.value,
            delta=None if ma.value is None or mb.value is None else mb.value - ma.value,
            note=f"{note}; statistic undefined on the paired items: results.json values, no CI",
        )  # fmt: skip
    better = None
    if paired.significant:
        better = _winner(paired.delta, base["direction"])
    return MetricComparison(
        **base, n_common=n_items, mean_a=paired.value_a, mean_b=paired.value_b, delta=paired.delta,
        ci95=paired.ci95, p_value=paired.p_value, significant=paired.significant, better=better, note=note,
    )  # fmt: skip


def _winner(delta: float, field_direction: str) -> str | None:
    """ "B" when B − A = `delta` is an improvement, "A" when it is not, None for a neutral level."""
    b_improved = direction.improved(delta, field_direction)
    return None if b_improved is None else ("B" if b_improved else "A")


def _protocol(values: Any) -> str:
    return str(values["protocol"].iloc[-1]) if len(values) else "unknown"


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+.3f}" if abs(value) < 10 else f"{value:+.2f}"


def render_comparison(comparison: Comparison, fmt: str = "md") -> str:
    """Markdown table (default) or JSON of a comparison."""
    if fmt == "json":
        data = asdict(comparison)
        data["banner"] = SMOKE_BANNER if comparison.smoke else None
        return json.dumps(finite_or_null(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt != "md":
        raise InvalidValue(f"unknown comparison format {fmt!r}; valid formats: md, json")
    from tabulate import tabulate

    body = []
    for m in comparison.metrics:
        arrow = direction.arrow(m.direction)
        ci = f"[{_fmt(m.ci95[0])}, {_fmt(m.ci95[1])}]" if m.ci95 else "–"
        mean_a = "–" if m.mean_a is None else f"{m.mean_a:.3f}"
        mean_b = "–" if m.mean_b is None else f"{m.mean_b:.3f}"
        if m.better:
            verdict = f"{m.better} better"
        elif m.significant and not direction.ranks(m.direction):
            verdict = "differs (a level: no better side)"
        else:
            verdict = "not significant" if m.delta is not None else "not compared"
        body.append(
            [
                f"{FIELD_LABELS.get(m.field, m.field)} {arrow}",
                m.n_common,
                mean_a,
                mean_b,
                _fmt(m.delta),
                ci,
                verdict,
                m.note,
            ]
        )
    headers = ["metric", "n paired", "A", "B", "B − A", "95 % CI", "verdict", "note"]
    out = []
    if comparison.smoke:
        out += [f"> **{SMOKE_BANNER}**", ""]
    out.append(f"A = {comparison.run_a}, B = {comparison.run_b} ({comparison.benchmark})")
    out.append("")
    out.append(tabulate(body, headers=headers, tablefmt="github", disable_numparse=True))
    out.append("")
    out.append(
        f"Paired bootstrap over samples scored by both runs ({comparison.n_resamples} resamples, seed "
        f"{comparison.seed}); significant when the 95 % CI of B − A excludes 0."
    )
    return "\n".join(out) + "\n"
