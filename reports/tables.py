"""Comparison tables: our runs beside published baselines, with bootstrap CIs, best marked, protocol footnotes.

`build_table` gathers numbers into a `ComparisonTable` (plain numbers, no formatting); `render_table`
turns it into md, csv, html, latex or json. A table is per benchmark. Run values come from
results.json; their ± is half the 95 % percentile-bootstrap interval of the per-sample scores
(seed 0, 1000 resamples): results.json's own ci95 (drawn that way by reports.aggregate), or drawn
here from scores/*.jsonl when results.json has none or another seed / resample count is asked for.
Published numbers come from `reports.published` already in our units (WER %, SIM ×100).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from nava_eval import direction
from nava_eval.errors import InvalidValue
from nava_eval.reports.estimate import field_estimate
from nava_eval.reports.model_names import published_name
from nava_eval.reports.per_sample import RunData, load_run
from nava_eval.reports.stats import DEFAULT_RESAMPLES, DEFAULT_SEED
from nava_eval.rundir.files import finite_or_null
from nava_eval.rundir.records import Results

Format = Literal["md", "csv", "html", "latex", "json"]
FORMATS: tuple[str, ...] = ("md", "csv", "html", "latex", "json")

SMOKE_BANNER = "smoke: random weights, numbers are not meaningful"

#: Column headers for our field names; unknown fields show their own name.
FIELD_LABELS: dict[str, str] = {
    "sync_c": "Sync-C",
    "sync_d": "Sync-D",
    "video_quality": "VideoQuality",
    "imaging_quality": "ImagingQuality",
    "wer": "WER (%)",
    "sim": "SIM (×100)",
    "ib": "IB",
    "av_align": "AV-Align",
    "id": "ID",
    "pq": "PQ",
    "fd": "FD",
    "cs": "CLAP",
    "kl": "KL",
    "desync": "DeSync",
    "av_a": "AV-A",
    "sim_speakers": "SIM per speaker (×100)",
    "sim_speakers_worst": "SIM worst speaker (×100)",
    "amplitude_rms": "RMS",
    "loudness_lufs": "LUFS",
    "versebench_overall": "Overall",
}

#: Published splits that stand for the whole benchmark (see reports.published.SPLIT_KEYS).
WHOLE_BENCHMARK_SPLITS = ("all", "all-per-set-mean")


@dataclass(frozen=True)
class Column:
    """One numeric column: one quantity under one protocol, overall (`set` None) or on one set.

    A column never mixes protocols: a published number and a measured one share a column only when
    their protocol ids are equal; otherwise each protocol gets its own column.
    """

    key: str
    field: str  # the quantity (sync_c, wer, ...): our field name or the one a published metric maps to
    set: str | None
    direction: str  # "higher" | "lower" | "neutral" (nava_eval.direction)
    label: str
    footnotes: tuple[int, ...] = ()
    protocol: str = "unknown"
    show_protocol: bool = False  # the quantity has columns of several protocols in this table

    @property
    def header(self) -> str:
        arrow = direction.arrow(self.direction)
        where = f" {self.set}" if self.set else ""
        which = f" [{self.protocol}]" if self.show_protocol else ""
        marks = "".join(f"[{n}]" for n in self.footnotes)
        return f"{self.label}{which} {arrow}{where}{marks}"


def column_key(quantity: str, protocol: str, set_name: str | None = None) -> str:
    """Stable key of a column: quantity@protocol, with [set] for a per-set column."""
    key = f"{quantity}@{protocol}"
    return key if set_name is None else f"{key}[{set_name}]"


@dataclass(frozen=True)
class Row:
    """A run or a published model."""

    label: str
    kind: str  # "run" | "published"
    model: str
    params_b: float | None
    run_name: str | None = None
    smoke: bool = False
    n_outputs: int | None = None  # runs: planned samples (× seeds) with an output
    n_planned: int | None = None  # runs: planned samples (× seeds)
    n_seeds: int | None = None  # multi-seed runs
    published_as: str | None = None  # runs: the published model this run is (reports.model_names)

    @property
    def coverage(self) -> str:
        """ "598/600" (outputs / planned), with the seed count of a multi-seed run; "" for published rows."""
        if self.n_planned is None or self.n_outputs is None:
            return ""  # published rows, and results.json files written before coverage was recorded
        seeds = f" ({self.n_seeds} seeds)" if self.n_seeds else ""
        return f"{self.n_outputs}/{self.n_planned}{seeds}"


@dataclass(frozen=True)
class Cell:
    value: float
    ci95: tuple[float, float] | None
    protocol: str
    n: int | None = None
    split: str | None = None
    note: str = ""
    seed_sd: float | None = None  # multi-seed runs: between-seed standard deviation of the value


@dataclass(frozen=True)
class ReproRow:
    """One (run, column) of the paper-vs-harness table: a measured number beside the published one."""

    run: str  # row label of the run
    published: str  # row label of the published model
    quantity: str
    protocol: str
    column: str | None  # the shared column key; None when the protocols differ (not compared)
    published_value: float
    measured: float | None
    ci95: tuple[float, float] | None
    seed_sd: float | None
    verdict: str  # "agrees" | "disagrees" | "different protocol (...)" | "no CI"


@dataclass(frozen=True)
class ComparisonTable:
    """Numbers of one benchmark's table; `frame()` is the displayed pandas table."""

    benchmark: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    cells: dict[tuple[str, str], Cell]  # (row label, column key) → cell
    best: dict[str, frozenset[str]]  # column key → labels of the best row(s)
    footnotes: tuple[str, ...] = ()
    banner: str | None = None
    seed: int = DEFAULT_SEED
    n_resamples: int = DEFAULT_RESAMPLES
    notes: tuple[str, ...] = field(default_factory=tuple)
    # column key → labels of run rows whose number disagrees with their own model's published one
    disagree: dict[str, frozenset[str]] = field(default_factory=dict)
    reproducibility: tuple[ReproRow, ...] = ()

    def cell(self, row: str, column: str) -> Cell | None:
        return self.cells.get((row, column))

    def cell_text(self, row: str, column: str) -> str:
        """ "value ± half-CI [sd s]", with DISAGREE_MARK when it disagrees with the same model's published number."""
        text = _fmt_cell(self.cell(row, column))
        if row in self.disagree.get(column, ()):
            text += DISAGREE_MARK
        return text

    @property
    def has_coverage(self) -> bool:
        return any(row.n_outputs is not None for row in self.rows)

    def frame(self, mark_best: str = "*") -> pd.DataFrame:
        """Display table: one string per cell, "value ± half-CI", best per column suffixed with `mark_best`."""
        records = []
        lead = _lead_headers(self)
        for row in self.rows:
            record: dict[str, Any] = dict(zip(lead, _lead_values(self, row), strict=True))
            for column in self.columns:
                cell = self.cell(row.label, column.key)
                text = self.cell_text(row.label, column.key)
                if cell is not None and row.label in self.best.get(column.key, ()):
                    text += mark_best
                record[column.header] = text
            records.append(record)
        return pd.DataFrame.from_records(records, columns=[*lead, *[c.header for c in self.columns]])

    def numeric_frame(self) -> pd.DataFrame:
        """Machine-readable table: value, ci_lo, ci_hi, protocol and best flag per column."""
        records = []
        for row in self.rows:
            record: dict[str, Any] = {
                "model": row.label,
                "kind": row.kind,
                "run": row.run_name,
                "params_b": row.params_b,
                "n_outputs": row.n_outputs,
                "n_planned": row.n_planned,
                "n_seeds": row.n_seeds,
                "published_as": row.published_as,
            }
            for column in self.columns:
                cell = self.cell(row.label, column.key)
                record[column.key] = cell.value if cell else math.nan
                record[f"{column.key}_ci_lo"] = cell.ci95[0] if cell and cell.ci95 else math.nan
                record[f"{column.key}_ci_hi"] = cell.ci95[1] if cell and cell.ci95 else math.nan
                record[f"{column.key}_seed_sd"] = (
                    cell.seed_sd if cell and cell.seed_sd is not None else math.nan
                )
                record[f"{column.key}_protocol"] = cell.protocol if cell else None
                record[f"{column.key}_best"] = bool(cell) and row.label in self.best.get(column.key, ())
                record[f"{column.key}_disagrees_published"] = row.label in self.disagree.get(column.key, ())
            records.append(record)
        return pd.DataFrame.from_records(records)


def _fmt_number(value: float) -> str:
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.3f}"


def _fmt_params(params_b: float | None) -> str:
    return (
        "" if params_b is None or (isinstance(params_b, float) and math.isnan(params_b)) else f"{params_b:g}"
    )


def _fmt_cell(cell: Cell | None) -> str:
    if cell is None:
        return "–"
    text = _fmt_number(cell.value)
    if cell.ci95 is not None:
        half = (cell.ci95[1] - cell.ci95[0]) / 2
        text += f" ± {_fmt_number(half)}"
    if cell.seed_sd is not None:
        text += f" [sd {_fmt_number(cell.seed_sd)}]"
    return text


#: Suffix of a run's number that disagrees with its own model's published number beyond the CI.
DISAGREE_MARK = " ≠"


def _lead_headers(table: ComparisonTable) -> list[str]:
    return ["Model", "Params (B)", *(["Coverage"] if table.has_coverage else [])]


def _lead_values(table: ComparisonTable, row: Row) -> list[str]:
    return [row.label, _fmt_params(row.params_b), *([row.coverage] if table.has_coverage else [])]


def field_order(names: Sequence[str]) -> list[str]:
    """Fields in registry order (sync_c, sync_d, video_quality, …), unknown ones last by name."""
    from nava_eval.metrics.base import metric_entries  # no torch: registry entries are strings

    order = [f.name for entry in metric_entries().values() for f in entry.fields] + list(FIELD_LABELS)
    rank = {name: i for i, name in enumerate(dict.fromkeys(order))}
    return sorted(dict.fromkeys(names), key=lambda n: (rank.get(n, len(rank)), n))


def _default_direction(name: str) -> str | None:
    from nava_eval.metrics.base import metric_entries

    for entry in metric_entries().values():
        for f in entry.fields:
            if f.name == name:
                return f.direction
    return None


def _published_frame(published: bool | pd.DataFrame, benchmark: str) -> pd.DataFrame:
    if isinstance(published, pd.DataFrame):
        frame = published
    elif published:
        from nava_eval.reports.published import load_published

        frame = load_published()
    else:
        return pd.DataFrame(columns=["benchmark", "split", "model", "metric", "value"])
    return frame[frame["benchmark"] == benchmark].reset_index(drop=True)


def _run_fields(run: RunData, wanted: Sequence[str] | None) -> dict[str, tuple[str, str]]:
    """field name → (quantity, protocol) of the run's fields, restricted to `wanted` names/quantities."""
    out: dict[str, tuple[str, str]] = {}
    for name, metric in run.results.metrics.items():
        if wanted is None or name in wanted or metric.measures in wanted:
            out[name] = (metric.measures, metric.protocol)
    if not run.scores.empty:  # fields scored but not aggregated yet (no results.json entry)
        for name, grp in run.scores.groupby("field", sort=False):
            name = str(name)
            if name not in out and name not in run.results.metrics and (wanted is None or name in wanted):
                out[name] = (name, str(grp["protocol"].iloc[-1]))
    return out


def _run_cells(
    run: RunData, fields: dict[str, tuple[str, str]], per_set: bool, seed: int, n_resamples: int
) -> dict[str, Cell]:
    """Cells of one run, keyed by column key (quantity@protocol[set])."""
    cells: dict[str, Cell] = {}
    scores = run.scores
    default_draw = seed == DEFAULT_SEED and n_resamples == DEFAULT_RESAMPLES
    for name, (quantity, protocol) in fields.items():
        metric = run.results.metrics.get(name)
        has_scores = not scores.empty and (scores["field"] == name).any()
        if metric is None and not has_scores:
            continue
        aggregation = metric.aggregation if metric else "per-item mean"
        # results.json's CI was drawn from the same per-sample values with the default seed, in sample-id
        # order (reports.aggregate); reuse it so the table and results.json agree to the last digit. A
        # set-level statistic (FD) has no per-item values to redraw from: its stored CI is the one.
        set_level = metric is not None and metric.kind == "set"
        stored = (
            metric is not None and metric.value is not None and metric.ci95 is not None and default_draw
        ) or set_level
        population = metric.sets if metric is not None else None
        sub_scores = scores if population is None or scores.empty else scores[scores["set"].isin(population)]
        estimate = (
            field_estimate(sub_scores, name, aggregation, seed, n_resamples)
            if has_scores and not stored
            else None
        )
        value = metric.value if metric and metric.value is not None else (estimate[0] if estimate else None)
        if stored and metric is not None and metric.ci95 is not None:
            ci: tuple[float, float] | None = (metric.ci95[0], metric.ci95[1])
        else:
            ci = estimate[1] if estimate else (tuple(metric.ci95) if metric and metric.ci95 else None)
        n = metric.n if metric else (estimate[2] if estimate else None)
        seed_sd = metric.seed_sd if metric is not None else None
        if value is not None:
            cells[column_key(quantity, protocol)] = Cell(float(value), ci, protocol, n, seed_sd=seed_sd)
        if not per_set:
            continue
        for set_name in run.sets():
            if population is not None and set_name not in population:
                continue
            key = column_key(quantity, protocol, set_name)
            set_result = metric.per_set.get(set_name) if metric else None
            sub = (
                scores[(scores["field"] == name) & (scores["set"] == set_name)]
                if has_scores and not set_level
                else scores.iloc[0:0]
            )
            if set_result is not None and set_result.value is not None and (set_level or default_draw):
                ci95 = (set_result.ci95[0], set_result.ci95[1]) if set_result.ci95 else None
                cells[key] = Cell(
                    float(set_result.value), ci95, protocol, set_result.n, seed_sd=set_result.seed_sd
                )
            elif not sub.empty:
                estimate_set = field_estimate(sub, name, "per-item mean", seed, n_resamples)
                if estimate_set is not None:
                    sd = set_result.seed_sd if set_result is not None else None
                    point = (
                        set_result.value if set_result and set_result.value is not None else estimate_set[0]
                    )
                    cells[key] = Cell(float(point), estimate_set[1], protocol, estimate_set[2], seed_sd=sd)
            elif set_result is not None and set_result.value is not None:
                ci = tuple(set_result.ci95) if set_result.ci95 else None
                cells[key] = Cell(float(set_result.value), ci, protocol, set_result.n)
    return cells


def _footnote(footnotes: list[str], text: str) -> int:
    """Number of `text` in `footnotes`, appending it the first time (columns share identical notes)."""
    if text not in footnotes:
        footnotes.append(text)
    return footnotes.index(text) + 1


def build_table(
    runs: Sequence[str | Path | Results | RunData] = (),
    benchmark: str | None = None,
    *,
    published: bool | pd.DataFrame = True,
    per_set: bool = False,
    metrics: Sequence[str] | None = None,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    aliases: Mapping[str, str] | None = None,
) -> ComparisonTable:
    """One benchmark's comparison table of `runs` (dirs, results.json paths or Results) and published rows.

    Each run's row carries its own model name (results.json `model`: an imported run's `--model`) and
    coverage. A run that *is* a published model (reports.model_names: `aliases`, built-in aliases, or
    the same name) is checked against that model's published numbers column by column: a measured value
    whose 95 % CI excludes the published number of the same protocol is marked (DISAGREE_MARK), and
    every such pair is listed in `reproducibility` (the paper-vs-harness table).

    Columns are (quantity, protocol) pairs: a measured number sits in a published column only when the
    protocol ids match; a quantity measured under several protocols gets one column per protocol, its
    header naming the protocol. With no runs it is the published table of `benchmark`. `metrics`
    restricts and orders the quantities (field names or quantities); by default the runs' quantities,
    or every published one when there are no runs. Published numbers of a whole-benchmark split (or of
    exactly the sets a run's protocol aggregates over) fill the overall columns; one of a single set
    (set3, en) fills that set's column, and the overall one too when every run covers only that set
    (or there are none).
    """
    loaded = [load_run(r) for r in runs]
    names = sorted({r.results.benchmark for r in loaded})
    if len(names) > 1:
        raise InvalidValue(f"runs are of different benchmarks ({', '.join(names)}); a table is per benchmark")
    if benchmark is None:
        if not names:
            raise InvalidValue("build_table needs runs or a benchmark name")
        benchmark = names[0]
    elif names and names[0] != benchmark:
        raise InvalidValue(f"runs are of benchmark {names[0]!r}, not {benchmark!r}")

    pub = _published_frame(published, benchmark)
    pub_models = [str(m) for m in pub["model"].unique()] if len(pub) else []
    run_sets = {s for r in loaded for s in r.sets()}
    if not loaded:
        # Published-only: the per-set columns are the single-set splits the baselines report.
        run_sets = (
            {str(s) for s in pub["split"].unique() if s not in WHOLE_BENCHMARK_SPLITS} if len(pub) else set()
        )
    overall_splits = set(WHOLE_BENCHMARK_SPLITS)
    if loaded and len(run_sets) == 1:
        overall_splits |= run_sets
    elif not loaded:
        from nava_eval.reports.published import DEFAULT_SPLIT

        if benchmark in DEFAULT_SPLIT:
            overall_splits.add(DEFAULT_SPLIT[benchmark])

    wanted = list(metrics) if metrics is not None else None
    run_fields = [_run_fields(run, wanted) for run in loaded]
    if wanted is not None:
        _check_field_names(wanted, loaded, pub)
        quantities = list(dict.fromkeys(q for w in wanted for q in _quantities_named(w, run_fields)))
    elif loaded:
        quantities = field_order({q for fields in run_fields for q, _ in fields.values()})
    else:
        quantities = (
            field_order(pub[pub["split"].isin(overall_splits)]["metric"].unique()) if len(pub) else []
        )
    # The sets a protocol aggregates over (MOVA's Sync: set3), from the runs' results.json.
    populations: dict[tuple[str, str], str] = {}
    for run in loaded:
        for metric in run.results.metrics.values():
            if metric.sets:
                populations[(metric.measures, metric.protocol)] = "+".join(sorted(metric.sets))

    rows: list[Row] = []
    cells: dict[tuple[str, str], Cell] = {}
    directions: dict[str, str] = {}
    specs: dict[tuple[str, str], None] = {}  # (quantity, protocol) in first-seen order
    labels_seen: dict[str, int] = {}
    for run, fields in zip(loaded, run_fields, strict=True):
        label = run.label
        labels_seen[label] = labels_seen.get(label, 0) + 1
        if labels_seen[label] > 1:
            label = f"{label} #{labels_seen[label]}"
        res = run.results
        rows.append(
            Row(
                label,
                "run",
                res.model,
                res.params_b,
                res.run_name,
                res.smoke,
                n_outputs=res.n_outputs,
                n_planned=res.n_samples or None,
                n_seeds=len(res.seeds) if res.seeds else None,
                published_as=None if res.smoke else published_name(res.model, pub_models, aliases),
            )
        )
        for key, cell in _run_cells(run, fields, per_set, seed, n_resamples).items():
            cells[(label, key)] = cell
        for name, (quantity, protocol) in fields.items():
            if quantity in quantities:
                specs.setdefault((quantity, protocol))
            metric = run.results.metrics.get(name)
            if metric is not None:
                directions.setdefault(quantity, metric.direction)

    pub_notes: dict[str, str] = {}
    evidence: dict[tuple[str, str], str] = {}
    for model, grp in pub.groupby("model", sort=False):
        label = f"{model} (published)"
        added = False
        for rec in grp.to_dict("records"):
            quantity, split = rec["metric"], rec["split"]
            if quantity not in quantities:
                continue
            protocol = str(rec["protocol"])
            directions.setdefault(quantity, rec["direction"])
            cell = Cell(float(rec["value"]), None, protocol, None, split, rec.get("note") or "")
            placed = False
            if split in overall_splits or populations.get((quantity, protocol)) == split:
                cells[(label, column_key(quantity, protocol))] = cell
                placed = True
            if per_set and split in run_sets:
                cells[(label, column_key(quantity, protocol, split))] = cell
                placed = True
            if placed:
                added = True
                specs.setdefault((quantity, protocol))
                if rec.get("protocol_evidence"):
                    evidence.setdefault((quantity, protocol), str(rec["protocol_evidence"]))
                pub_notes.setdefault(
                    f"{rec.get('split_label', split)}|{rec.get('source', '')}",
                    f"published, split {rec.get('split_label', split)!s}: {rec.get('source', 'source not recorded')}",
                )
        if added:
            params = grp["params_b"].dropna()
            rows.append(Row(label, "published", str(model), float(params.iloc[0]) if len(params) else None))

    rank = {q: i for i, q in enumerate(quantities)}
    ordered = sorted(specs, key=lambda qp: rank.get(qp[0], len(rank)))  # stable: protocols in seen order
    protocols_of: dict[str, list[str]] = {}
    for quantity, protocol in ordered:
        protocols_of.setdefault(quantity, []).append(protocol)
    set_names = sorted(run_sets) if per_set else []
    column_specs = [(q, p, None) for q, p in ordered] + [(q, p, s) for q, p in ordered for s in set_names]
    columns: list[Column] = []
    footnotes: list[str] = []
    best: dict[str, frozenset[str]] = {}
    smoke_labels = {row.label for row in rows if row.smoke}
    for quantity, protocol, set_name in column_specs:
        key = column_key(quantity, protocol, set_name)
        present = [(row.label, cells[(row.label, key)]) for row in rows if (row.label, key) in cells]
        if not present:
            continue
        field_direction = directions.get(quantity) or _default_direction(quantity) or "higher"
        label = FIELD_LABELS.get(quantity, quantity)
        marks = [
            _footnote(footnotes, f"{label}: {note}.")
            for note in sorted({c.note for _, c in present if c.note})
        ]
        # Smoke rows (random weights) never take "best": their numbers mean nothing.
        contenders = [(lbl, c) for lbl, c in present if lbl not in smoke_labels]
        target = direction.best([c.value for _, c in contenders], field_direction)
        if target is not None:  # a neutral level (loudness) has no best value
            best[key] = frozenset(lbl for lbl, c in contenders if c.value == target)
        columns.append(
            Column(
                key,
                quantity,
                set_name,
                field_direction,
                label,
                tuple(dict.fromkeys(marks)),
                protocol,
                len(protocols_of[quantity]) > 1,
            )
        )

    disagree, repro = _reproducibility(rows, columns, cells, pub, quantities, overall_splits)
    notes = []
    if loaded:
        notes.append(
            f"± is half the 95 % bootstrap CI of the mean over per-sample scores ({n_resamples} resamples, "
            f"seed {seed}); published numbers carry no CI."
        )
    if any(row.n_seeds for row in rows):
        notes.append(
            "Multi-seed runs: the value is the mean over seeds, ± the item bootstrap CI (items resampled with "
            "all their seeds), [sd s] the standard deviation of the value between seeds."
        )
    if any(row.n_outputs is not None for row in rows):
        notes.append(
            "Coverage: samples with an output / samples planned (× seeds); the rest count as missing."
        )
    if disagree:
        notes.append(
            f"{DISAGREE_MARK.strip()}: the measured number's 95 % CI excludes the published number of the same "
            "model and protocol (paper vs harness below)."
        )
    shown = dict.fromkeys((c.field, c.protocol) for c in columns)
    for quantity, protocol in shown:
        where = f", {populations[(quantity, protocol)]} only" if (quantity, protocol) in populations else ""
        proof = (
            f" (published numbers: {evidence[(quantity, protocol)]})"
            if (quantity, protocol) in evidence
            else ""
        )
        notes.append(f"{FIELD_LABELS.get(quantity, quantity)}: protocol {protocol}{where}{proof}")
    notes += [note for run in loaded for note in coverage_notes(run)]
    notes += sorted(pub_notes.values())
    banner = SMOKE_BANNER if any(r.results.smoke for r in loaded) else None
    return ComparisonTable(
        benchmark=benchmark,
        rows=tuple(rows),
        columns=tuple(columns),
        cells=cells,
        best=best,
        footnotes=tuple(footnotes),
        banner=banner,
        seed=seed,
        n_resamples=n_resamples,
        notes=tuple(notes),
        disagree=disagree,
        reproducibility=tuple(repro),
    )


def _reproducibility(
    rows: Sequence[Row],
    columns: Sequence[Column],
    cells: dict[tuple[str, str], Cell],
    pub: pd.DataFrame,
    quantities: Sequence[str],
    overall_splits: set[str],
) -> tuple[dict[str, frozenset[str]], list[ReproRow]]:
    """Measured vs published numbers of the same model: shared columns compared, other protocols listed."""
    disagree: dict[str, set[str]] = {}
    repro: list[ReproRow] = []
    for row in rows:
        if row.kind != "run" or row.published_as is None:
            continue
        pub_label = f"{row.published_as} (published)"
        compared: set[tuple[str, str]] = set()
        for column in columns:
            mine, theirs = cells.get((row.label, column.key)), cells.get((pub_label, column.key))
            if mine is None or theirs is None:
                continue
            compared.add((column.field, column.set or ""))
            if mine.ci95 is None:
                verdict = "no CI"
            else:
                inside = mine.ci95[0] <= theirs.value <= mine.ci95[1]
                verdict = "agrees" if inside else "disagrees"
                if not inside:
                    disagree.setdefault(column.key, set()).add(row.label)
            repro.append(
                ReproRow(row.label, pub_label, column.field, column.protocol, column.key, theirs.value,
                         mine.value, mine.ci95, mine.seed_sd, verdict)
            )  # fmt: skip
        # The published model's numbers this run has no same-protocol column for: say why not compared.
        theirs_rows = (
            pub[(pub["model"] == row.published_as) & pub["split"].isin(overall_splits)] if len(pub) else pub
        )
        for rec in theirs_rows.to_dict("records") if len(theirs_rows) else []:
            quantity = str(rec["metric"])
            if quantity not in quantities or (quantity, "") in compared:
                continue
            ours = [
                (c.protocol, cells[(row.label, c.key)])
                for c in columns
                if c.field == quantity and c.set is None and (row.label, c.key) in cells
            ]
            if not ours:
                continue
            protocol, mine = ours[0]
            repro.append(
                ReproRow(row.label, pub_label, quantity, protocol, None, float(rec["value"]), mine.value, mine.ci95,
                         mine.seed_sd, f"different protocol (published: {rec['protocol']})")
            )  # fmt: skip
    return {k: frozenset(v) for k, v in disagree.items()}, repro


def coverage_notes(run: RunData) -> list[str]:
    """What a run's numbers leave out: failed generations, failed and missing scores (never silent)."""
    out = [f"{run.label}: {note}" for note in run.results.notes if note != SMOKE_BANNER]
    gaps = []
    for name, m in run.results.metrics.items():
        parts = [f"{m.n_failed} failed"] * bool(m.n_failed) + [f"{m.n_missing} missing"] * bool(m.n_missing)
        if parts:
            gaps.append(f"{FIELD_LABELS.get(name, name)} {', '.join(parts)}")
    if gaps:
        out.append(f"{run.label}: not in the means: " + "; ".join(gaps))
    return out


def _check_field_names(fields: Sequence[str], loaded: Sequence[RunData], pub: pd.DataFrame) -> None:
    """An unknown name is an error listing the valid ones, not an empty table."""
    from nava_eval.metrics.base import metric_entries

    known = {x for entry in metric_entries().values() for f in entry.fields for x in (f.name, f.measures)}
    known |= {x for r in loaded for name, m in r.results.metrics.items() for x in (name, m.measures)}
    known |= {str(m) for m in pub["metric"].unique()} if len(pub) else set()
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise InvalidValue(
            f"unknown metric field(s) {', '.join(unknown)}; valid: {', '.join(field_order(known))}"
        )


def _quantities_named(name: str, run_fields: Sequence[dict[str, tuple[str, str]]]) -> list[str]:
    """The quantity a --metrics name stands for: a run field's quantity, else the name itself."""
    for fields in run_fields:
        if name in fields:
            return [fields[name][0]]
    return [name]


def build_tables(runs: Sequence[str | Path | Results | RunData], **options: Any) -> list[ComparisonTable]:
    """One table per benchmark among `runs`, in first-seen order."""
    loaded = [load_run(r) for r in runs]
    by_benchmark: dict[str, list[RunData]] = {}
    for run in loaded:
        by_benchmark.setdefault(run.results.benchmark, []).append(run)
    return [build_table(group, name, **options) for name, group in by_benchmark.items()]


# --- rendering -------------------------------------------------------------------------------------


def _footer_lines(table: ComparisonTable) -> list[str]:
    lines = [f"[{i}] {text}" for i, text in enumerate(table.footnotes, start=1)]
    return lines + list(table.notes)


def _render_md(table: ComparisonTable) -> str:
    from tabulate import tabulate

    frame = table.frame(mark_best="")
    body = []
    for row in table.rows:
        values = _lead_values(table, row)
        for column in table.columns:
            text = table.cell_text(row.label, column.key)
            if row.label in table.best.get(column.key, ()) and table.cell(row.label, column.key):
                text = f"**{text}**"
            values.append(text)
        body.append(values)
    out = []
    if table.banner:
        out += [f"> **{table.banner}**", ""]
    out.append(f"**{table.benchmark}** (best per column in bold)")
    out.append("")
    out.append(tabulate(body, headers=list(frame.columns), tablefmt="github", disable_numparse=True))
    out.append("")
    out += [f"{line}  " for line in _footer_lines(table)]
    if table.reproducibility:
        out += [
            "",
            f"**Paper vs harness** ({table.benchmark}: measured runs against their own published rows)",
            "",
        ]
        out.append(
            tabulate(
                _repro_body(table), headers=list(REPRO_HEADERS), tablefmt="github", disable_numparse=True
            )
        )
    return "\n".join(out).rstrip() + "\n"


REPRO_HEADERS = (
    "run",
    "published",
    "metric",
    "protocol",
    "published value",
    "measured",
    "95 % CI",
    "verdict",
)


def _repro_body(table: ComparisonTable) -> list[list[str]]:
    body = []
    for r in table.reproducibility:
        ci = f"[{_fmt_number(r.ci95[0])}, {_fmt_number(r.ci95[1])}]" if r.ci95 else "–"
        measured = "–" if r.measured is None else _fmt_number(r.measured)
        if r.seed_sd is not None:
            measured += f" [sd {_fmt_number(r.seed_sd)}]"
        body.append(
            [r.run, r.published, FIELD_LABELS.get(r.quantity, r.quantity), r.protocol,
             _fmt_number(r.published_value), measured, ci, r.verdict]
        )  # fmt: skip
    return body


def _render_html(table: ComparisonTable) -> str:
    esc = html.escape
    parts = [f'<div class="nava-table" data-benchmark="{esc(table.benchmark)}">']
    if table.banner:
        parts.append(f'<p class="smoke-banner"><strong>{esc(table.banner)}</strong></p>')
    parts.append(f"<table><caption>{esc(table.benchmark)} (best per column in bold)</caption><thead><tr>")
    parts += [f"<th>{esc(h)}</th>" for h in _lead_headers(table)]
    parts += [f'<th data-key="{esc(c.key)}">{esc(c.header)}</th>' for c in table.columns]
    parts.append("</tr></thead><tbody>")
    for row in table.rows:
        parts.append(
            f'<tr class="{row.kind}">' + "".join(f"<td>{esc(v)}</td>" for v in _lead_values(table, row))
        )
        for column in table.columns:
            cell = table.cell(row.label, column.key)
            text = esc(table.cell_text(row.label, column.key))
            if cell is not None and row.label in table.best.get(column.key, ()):
                text = f'<strong class="best">{text}</strong>'
            parts.append(f"<td>{text}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    footer = _footer_lines(table)
    if footer:
        parts.append('<ul class="footnotes">' + "".join(f"<li>{esc(line)}</li>" for line in footer) + "</ul>")
    if table.reproducibility:
        parts.append('<table class="reproducibility"><caption>Paper vs harness</caption><thead><tr>')
        parts += [f"<th>{esc(h)}</th>" for h in REPRO_HEADERS]
        parts.append("</tr></thead><tbody>")
        for values in _repro_body(table):
            parts.append("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in values) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</div>")
    return "\n".join(parts) + "\n"


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "±": r"$\pm$",
    "×": r"$\times$",
    "–": "--",
}


def _latex(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def _render_latex(table: ComparisonTable) -> str:
    lines = []
    if table.banner:
        lines.append(f"% {table.banner}")
        lines.append(r"\textbf{" + _latex(table.banner) + r"}\\")
    lead = _lead_headers(table)
    lines.append(r"\begin{tabular}{l " + " ".join("r" for _ in [*lead[1:], *table.columns]) + "}")
    lines.append(r"\toprule")
    headers = [*lead, *[c.header for c in table.columns]]
    lines.append(" & ".join(_latex(h) for h in headers) + r" \\")
    lines.append(r"\midrule")
    for row in table.rows:
        values = [_latex(v) for v in _lead_values(table, row)]
        for column in table.columns:
            cell = table.cell(row.label, column.key)
            text = _latex(table.cell_text(row.label, column.key))
            if cell is not None and row.label in table.best.get(column.key, ()):
                text = r"\textbf{" + text + "}"
            values.append(text)
        lines.append(" & ".join(values) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    lines += [f"% {line}" for line in _footer_lines(table)]
    lines += [f"% paper vs harness: {' | '.join(values)}" for values in _repro_body(table)]
    return "\n".join(lines) + "\n"


def table_to_dict(table: ComparisonTable) -> dict[str, Any]:
    """JSON-ready form: every number with its CI, protocol and whether it is the column's best."""
    return {
        "benchmark": table.benchmark,
        "banner": table.banner,
        "bootstrap": {"seed": table.seed, "n_resamples": table.n_resamples, "confidence": 0.95},
        "columns": [
            {
                "key": c.key,
                "field": c.field,
                "protocol": c.protocol,
                "set": c.set,
                "direction": c.direction,
                "header": c.header,
            }
            for c in table.columns
        ],
        "rows": [
            {
                "label": row.label,
                "kind": row.kind,
                "model": row.model,
                "run": row.run_name,
                "params_b": row.params_b,
                "smoke": row.smoke,
                "coverage": {"outputs": row.n_outputs, "planned": row.n_planned, "seeds": row.n_seeds},
                "published_as": row.published_as,
                "cells": {
                    c.key: {
                        "value": cell.value,
                        "ci95": list(cell.ci95) if cell.ci95 else None,
                        "seed_sd": cell.seed_sd,
                        "protocol": cell.protocol,
                        "n": cell.n,
                        "split": cell.split,
                        "best": row.label in table.best.get(c.key, ()),
                        "disagrees_published": row.label in table.disagree.get(c.key, ()),
                    }
                    for c in table.columns
                    if (cell := table.cell(row.label, c.key)) is not None
                },
            }
            for row in table.rows
        ],
        "footnotes": list(table.footnotes),
        "notes": list(table.notes),
        "reproducibility": [
            {
                "run": r.run,
                "published": r.published,
                "quantity": r.quantity,
                "protocol": r.protocol,
                "column": r.column,
                "published_value": r.published_value,
                "measured": r.measured,
                "ci95": list(r.ci95) if r.ci95 else None,
                "seed_sd": r.seed_sd,
                "verdict": r.verdict,
            }
            for r in table.reproducibility
        ],
    }


def render_table(table: ComparisonTable, fmt: Format = "md") -> str:
    """The table as md, csv, html, latex or json text; every format carries the smoke banner."""
    if fmt == "md":
        return _render_md(table)
    if fmt == "html":
        return _render_html(table)
    if fmt == "latex":
        return _render_latex(table)
    if fmt == "json":
        return (
            json.dumps(finite_or_null(table_to_dict(table)), indent=2, ensure_ascii=False, allow_nan=False)
            + "\n"
        )
    if fmt == "csv":
        text = table.numeric_frame().to_csv(index=False)
        prefix = f"# {table.banner}\n" if table.banner else ""
        return prefix + text
    raise InvalidValue(f"unknown table format {fmt!r}; valid formats: {', '.join(FORMATS)}")
