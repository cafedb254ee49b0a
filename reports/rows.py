"""Tidy rows: one observation per row, the single source of every report view, file and page.

A row is one number: a model's value of one quantity (`field`: sync_c, wer, ...) under one protocol,
on the whole benchmark (`set` "all") or on one set, with its CI, sample count and seeds. Runs come
from their results.json (the estimator's output: nothing is recomputed here); published numbers come
from `reports.published`, already in our units. The paper view, the full view, the CSV/Parquet/JSONL
files, the plots, the HTML report and the leaderboard page all read a `RowSet`, so a number is
computed once and shown the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nava_eval.errors import InvalidValue
from nava_eval.reports.derived import DerivedMetric, DerivedValue, builtin_derived, evaluate_on_rows
from nava_eval.rundir.records import Results, load_results, results_path

#: The columns of a tidy row, in order (the CSV header; `load_results` returns exactly these).
COLUMNS: tuple[str, ...] = (
    "model",
    "kind",
    "run",
    "benchmark",
    "set",
    "field",
    "protocol",
    "direction",
    "value",
    "ci_lo",
    "ci_hi",
    "n",
    "n_seeds",
    "seed_sd",
    "source",
    "banner",
)

#: `set` of a number over a run's whole population (published: a whole-benchmark split keeps its own key).
ALL = "all"

SMOKE_BANNER = "smoke: random weights, numbers are not meaningful"

#: Published splits that stand for the whole benchmark (reports.published.SPLIT_KEYS values).
WHOLE_BENCHMARK_SPLITS = ("all", "all-per-set-mean")

#: Marker text a published `source` carries when the number was read from a secondary source.
SECONDARY_MARK = "secondary"


def is_secondary(source: object) -> bool:
    """A published number read through a secondary source (another paper's table, a summary), not the primary."""
    return isinstance(source, str) and SECONDARY_MARK in source.lower()


@dataclass(frozen=True)
class ModelInfo:
    """What a view shows about a row's model besides its numbers (one per (kind, model, run))."""

    label: str  # display name, unique in the RowSet
    model: str
    kind: str  # run | imported | published
    run: str | None = None
    params_b: float | None = None
    resolutions: Mapping[str, str] = field(default_factory=dict)  # benchmark → resolution (published)
    n_outputs: int | None = None
    n_planned: int | None = None
    n_seeds: int | None = None
    smoke: bool = False
    provenance: Mapping[str, object] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DerivedOutcome:
    """One derived metric on one model: its value (as rows of the frame) or why it is missing."""

    label: str  # the model's label in the RowSet
    benchmark: str
    metric: DerivedMetric
    value: DerivedValue


@dataclass(frozen=True)
class RowSet:
    """The tidy rows plus the per-model and per-protocol facts the views print around them."""

    frame: pd.DataFrame  # exactly COLUMNS
    models: tuple[ModelInfo, ...] = ()
    # (field, protocol) → the sets a measured protocol aggregates over ("set3"), when not every set
    populations: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # (field, protocol) → the evidence a published number's protocol rests on ("inferred: ...")
    evidence: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # (field, published protocol) → unit note ("published as a fraction; shown in %")
    unit_notes: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # Derived metrics evaluated per model: (model label, benchmark, metric, its value or why it is missing)
    derived: tuple[DerivedOutcome, ...] = ()

    def label(self, kind: str, model: str, run: object) -> str:
        run_name = None if run is None or (isinstance(run, float) and math.isnan(run)) else run
        for info in self.models:
            if info.kind == kind and info.model == model and info.run == run_name:
                return info.label
        return model

    def info(self, label: str) -> ModelInfo:
        return next(m for m in self.models if m.label == label)

    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(self.frame["benchmark"]))

    def only(self, benchmark: str) -> RowSet:
        frame = self.frame[self.frame["benchmark"] == benchmark].reset_index(drop=True)
        keep = {(k, m, r) for k, m, r in zip(frame["kind"], frame["model"], frame["run"], strict=True)}
        keep = {(k, m, None if isinstance(r, float) else r) for k, m, r in keep}
        models = tuple(m for m in self.models if (m.kind, m.model, m.run) in keep)
        derived = tuple(d for d in self.derived if d.benchmark == benchmark)
        return RowSet(frame, models, self.populations, self.evidence, self.unit_notes, derived)

    @property
    def banner(self) -> str | None:
        banners = [b for b in self.frame["banner"].dropna().unique() if b]
        return str(banners[0]) if banners else None


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def run_rows(results: Results, source: str) -> list[dict[str, object]]:
    """Tidy rows of one results.json: the overall number of every field, then one row per set."""
    kind = "imported" if results.origin == "imported" else "run"
    n_seeds = len(results.seeds) if results.seeds else 1
    banner = SMOKE_BANNER if results.smoke else ""
    out: list[dict[str, object]] = []
    for metric in results.metrics.values():
        base = {
            "model": results.model,
            "kind": kind,
            "run": results.run_name,
            "benchmark": results.benchmark,
            "field": metric.measures,
            "protocol": metric.protocol,
            "direction": metric.direction,
            "n_seeds": n_seeds,
            "source": source,
            "banner": banner,
        }
        if metric.value is not None:
            ci = metric.ci95 or [None, None]
            out.append(
                base
                | {"set": ALL, "value": float(metric.value), "ci_lo": _num(ci[0]), "ci_hi": _num(ci[1])}
                | {"n": metric.n, "seed_sd": _num(metric.seed_sd)}
            )
        for set_name, per_set in metric.per_set.items():
            if per_set.value is None:
                continue
            ci = per_set.ci95 or [None, None]
            out.append(
                base
                | {"set": set_name, "value": float(per_set.value), "ci_lo": _num(ci[0]), "ci_hi": _num(ci[1])}
                | {"n": per_set.n, "seed_sd": _num(per_set.seed_sd)}
            )
    return out


def published_rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Tidy rows of `reports.published.load_published()` (already in our units and field names)."""
    out = []
    for rec in frame.to_dict("records"):
        out.append(
            {
                "model": rec["model"],
                "kind": "published",
                "run": None,
                "benchmark": rec["benchmark"],
                "set": rec["split"],
                "field": rec["metric"],
                "protocol": rec["protocol"],
                "direction": rec["direction"],
                "value": float(rec["value"]),
                "ci_lo": math.nan,
                "ci_hi": math.nan,
                "n": math.nan,
                "n_seeds": math.nan,
                "seed_sd": math.nan,
                "source": rec["source"],
                "banner": "",
            }
        )
    return out


def _frame(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(rows), columns=list(COLUMNS))
    for name in ("value", "ci_lo", "ci_hi", "seed_sd"):
        frame[name] = frame[name].astype("float64")
    for name in ("n", "n_seeds"):
        frame[name] = frame[name].astype("Int64")
    return frame


def _published(
    published: bool | pd.DataFrame, benchmarks: Sequence[str] | None, run_benchmarks: Sequence[str]
) -> pd.DataFrame | None:
    if published is False:
        return None
    if isinstance(published, pd.DataFrame):
        pub = published
    else:
        from nava_eval.reports.published import load_published

        pub = load_published()
    wanted = list(benchmarks) if benchmarks else sorted(set(run_benchmarks))
    return pub[pub["benchmark"].isin(wanted)] if wanted else pub


def _loaded(item: str | Path | Results) -> tuple[Results, str]:
    if isinstance(item, Results):
        return item, f"results.json of run {item.run_name}"
    return load_results(item), str(results_path(item))


def build_rows(
    runs: Sequence[str | Path | Results] = (),
    *,
    published: bool | pd.DataFrame = False,
    benchmarks: Sequence[str] | None = None,
    derived: Sequence[DerivedMetric] | None = None,
) -> RowSet:
    """The RowSet of `runs` (run dirs, results.json paths or Results) and, with `published`, the published rows.

    Published rows are kept for the runs' benchmarks (or `benchmarks`, or all of them when neither is given).
    `derived` (default: the built-in derived metrics marked default) are evaluated on every model; a
    value becomes rows like any other number, a missing one is kept with its reason (`RowSet.derived`).
    """
    from nava_eval.reports.published_facts import model_facts

    loaded = [_loaded(r) for r in runs]
    rows: list[dict[str, object]] = []
    models: list[ModelInfo] = []
    populations: dict[tuple[str, str], str] = {}
    same_model: dict[str, int] = {}
    for res, _ in loaded:
        same_model[res.model] = same_model.get(res.model, 0) + 1
    pub_frame = _published(published, benchmarks, [r.benchmark for r, _ in loaded])
    pub_names = set() if pub_frame is None else {str(m) for m in pub_frame["model"].unique()}
    seen: set[str] = set(pub_names)
    for res, source in loaded:
        rows += run_rows(res, source)
        label = res.model if same_model[res.model] == 1 else f"{res.model} ({res.run_name})"
        if label in pub_names:
            label += " (measured)"
        if res.smoke:
            label += " [smoke]"
        while label in seen:
            label += "'"
        seen.add(label)
        prov = res.provenance
        provenance: dict[str, object] = {}
        if prov is not None:
            provenance = {
                "nava_eval_version": prov.nava_eval_version,
                "git_sha": prov.git_sha,
                "git_dirty": prov.git_dirty,
                "scorer_weights_sha256": dict(prov.scorer_weights_sha256),
                "checkpoint_sha256": dict(prov.checkpoint_sha256),
            }
        provenance["protocols"] = sorted({m.protocol for m in res.metrics.values()})
        models.append(
            ModelInfo(
                label,
                res.model,
                "imported" if res.origin == "imported" else "run",
                res.run_name,
                res.params_b,
                {},
                res.n_outputs,
                res.n_samples or None,
                len(res.seeds) if res.seeds else None,
                res.smoke,
                provenance,
                tuple(n for n in res.notes if n != SMOKE_BANNER),
            )
        )
        for metric in res.metrics.values():
            if metric.sets:
                populations[(metric.measures, metric.protocol)] = "+".join(sorted(metric.sets))

    evidence: dict[tuple[str, str], str] = {}
    unit_notes: dict[tuple[str, str], str] = {}
    if pub_frame is not None:
        pub = pub_frame
        rows += published_rows(pub)
        facts = model_facts()
        for model, grp in pub.groupby("model", sort=False):
            params = grp["params_b"].dropna()
            label = str(model)
            models.append(
                ModelInfo(
                    label,
                    str(model),
                    "published",
                    None,
                    float(params.iloc[0]) if len(params) else None,
                    {b: f.resolution for (b, m), f in facts.items() if m == model},
                )
            )
        for rec in pub.to_dict("records"):
            key = (str(rec["metric"]), str(rec["protocol"]))
            if rec.get("protocol_evidence"):
                evidence.setdefault(key, str(rec["protocol_evidence"]))
            if rec.get("note"):
                unit_notes.setdefault(key, str(rec["note"]))
    outcomes = _derived_rows(rows, models, derived)
    return RowSet(_frame(rows), tuple(models), populations, evidence, unit_notes, tuple(outcomes))


def _derived_rows(
    rows: list[dict[str, object]], models: Sequence[ModelInfo], derived: Sequence[DerivedMetric] | None
) -> list[DerivedOutcome]:
    """Evaluate the derived metrics on each model's whole-benchmark numbers; append their values to `rows`."""
    chosen = [d for d in builtin_derived() if d.default] if derived is None else list(derived)
    outcomes: list[DerivedOutcome] = []
    banners = {(str(r["kind"]), str(r["model"]), r["run"]): r["banner"] for r in rows}
    for (kind, model, run, benchmark), metric, value in evaluate_on_rows(
        chosen, rows, (ALL, *WHOLE_BENCHMARK_SPLITS)
    ):
        label = next((m.label for m in models if (m.kind, m.model, m.run) == (kind, model, run)), model)
        outcomes.append(DerivedOutcome(label, benchmark, metric, value))
        if value.protocol is None:
            continue
        fields = {f.name: f for f in metric.all_fields}
        for name, number in value.values.items():
            rows.append(
                {
                    "model": model, "kind": kind, "run": run, "benchmark": benchmark, "set": ALL,
                    "field": name, "protocol": value.protocol, "direction": fields[name].direction,
                    "value": number, "ci_lo": math.nan, "ci_hi": math.nan, "n": math.nan,
                    "n_seeds": math.nan, "seed_sd": math.nan,
                    "source": f"derived: {metric.label} from this model's other numbers",
                    "banner": banners.get((kind, model, run), ""),
                }
            )  # fmt: skip
    return outcomes


def load_results_frame(
    paths: str | Path | Sequence[str | Path] = (), published: bool = True, benchmark: str | None = None
) -> pd.DataFrame:
    """`nava_eval.load_results`: the tidy rows of run directories / results.json files (and published rows)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    rowset = build_rows(list(paths), published=published, benchmarks=[benchmark] if benchmark else None)
    return rowset.frame


FORMATS = ("csv", "parquet", "jsonl")


def write_rows(frame: pd.DataFrame, fmt: str, path: Path | None = None) -> bytes:
    """Serialise tidy rows: CSV (no comment lines, readable by `pandas.read_csv` with no options), Parquet, JSONL."""
    import io

    if fmt == "csv":
        data = frame.to_csv(index=False).encode("utf-8")
    elif fmt == "jsonl":
        data = frame.to_json(orient="records", lines=True, force_ascii=False).encode("utf-8")
    elif fmt == "parquet":
        try:
            import pyarrow  # noqa: F401 - pandas' Parquet engine; checked here for a clear message
        except ImportError:
            raise InvalidValue(
                "--format parquet needs pyarrow: pip install 'nava-eval[parquet]' (csv and jsonl need nothing)"
            ) from None
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, engine="pyarrow")
        data = buffer.getvalue()
    else:
        raise InvalidValue(f"unknown row format {fmt!r}; valid: {', '.join(FORMATS)}")
    if path is not None:
        from nava_eval.rundir.files import atomic_write_bytes

        atomic_write_bytes(path, data)
    return data
