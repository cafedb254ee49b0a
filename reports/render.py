"""report.html: one self-contained page per run (no network): tables, CI bar charts, per-set plots, per-sample table.

The page is the jinja2 template `reports/templates/report.html.j2` (autoescaped). Everything is
inline: CSS in a <style> block, plots as base64 PNG from matplotlib's Agg canvas (no
pyplot global state, no display). Links to outputs and score files are relative to the report's
folder, so the run directory can be moved or zipped with its report.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from nava_eval import direction
from nava_eval.errors import InvalidValue
from nava_eval.reports.estimate import field_estimate
from nava_eval.reports.paper_view import PAPER_CSS, build_paper_tables, render_html
from nava_eval.reports.per_sample import RunData, load_run
from nava_eval.reports.rows import SMOKE_BANNER, build_rows
from nava_eval.reports.stats import DEFAULT_RESAMPLES, DEFAULT_SEED
from nava_eval.reports.tables import FIELD_LABELS, field_order
from nava_eval.rundir.files import atomic_write_text
from nava_eval.rundir.records import SampleRecord, latest_by_unit, load_sample_records

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
TEMPLATE_NAME = "report.html.j2"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #1d1d1f; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
tr.published td { color: #555; } strong.best { color: #0a5d00; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
.smoke-banner { background: #fff3cd; border: 2px solid #e0a800; padding: 0.6em 1em; font-size: 1.1em; }
.footnotes { font-size: 0.85em; color: #444; } .meta td { text-align: left; }
.plots img { max-width: 100%; margin: 0.5em 0; display: block; }
td.failed, td.skipped { color: #a00; } td.missing { color: #999; }
td.notes { text-align: left; white-space: normal; font-size: 0.85em; color: #a00; }
#samples th { white-space: normal; } .wide { max-width: 100%; overflow-x: auto; }
"""


def _png(fig: object) -> str:
    """A matplotlib Figure as a base64 PNG data URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # attaches the canvas; Figure.savefig needs one
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")  # type: ignore[attr-defined]
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/png;base64,{data}"


def _per_set_chart(run: RunData, name: str, seed: int, n_resamples: int) -> str | None:
    """Bars per set of one field with 95 % CIs, from per-sample scores (or results.json's per_set)."""
    from matplotlib.figure import Figure

    points: list[tuple[str, float, float, float, int]] = []
    scores = run.scores
    if not scores.empty and (scores["field"] == name).any():
        # The estimator's per-set numbers (reports.estimate): items with all their seeds in a multi-seed run.
        for set_name, grp in scores[scores["field"] == name].groupby("set"):
            estimate = field_estimate(grp, name, "per-item mean", seed, n_resamples)
            if estimate is not None:
                (value, (lo, hi), n) = estimate
                points.append((str(set_name), value, lo, hi, n))
    elif name in run.results.metrics:
        for set_name, res in sorted(run.results.metrics[name].per_set.items()):
            if res.value is not None:
                lo, hi = res.ci95 if res.ci95 else (res.value, res.value)
                points.append((set_name, res.value, lo, hi, res.n))
    if not points:
        return None
    fig = Figure(figsize=(1.2 * len(points) + 2.5, 3.0))
    ax = fig.add_subplot()
    x = np.arange(len(points))
    means = np.array([p[1] for p in points])
    err = np.vstack([means - np.array([p[2] for p in points]), np.array([p[3] for p in points]) - means])
    ax.bar(x, means, yerr=err, color="#1f77b4", capsize=4)
    ax.set_xticks(x, [f"{p[0]}\n(n={p[4]})" for p in points])
    ax.set_title(f"{FIELD_LABELS.get(name, name)} per set (95 % CI)")
    _plain_axis(ax.yaxis)
    return _png(fig)


def _plain_axis(axis: object) -> None:
    """Tick labels are the values themselves, never an offset ("1e-10+1e2")."""
    from matplotlib.ticker import ScalarFormatter

    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    axis.set_major_formatter(formatter)  # type: ignore[attr-defined]


def _relative_link(target: Path, report_dir: Path) -> str:
    return Path(os.path.relpath(target.resolve(), report_dir)).as_posix()


def sample_table(run: RunData) -> pd.DataFrame:
    """One row per sample: id, set, status, output, one column per field, notes; worst first.

    "Worst" is the mean over ranked fields (not neutral levels) of the sample's direction-aware percentile rank (1 = worst of the
    run); samples that failed generation or have no score come first, then that rank descending.
    """
    samples: dict[str, SampleRecord] = {}
    if run.run_dir is not None and (run.run_dir / "samples.jsonl").exists():
        # The frame's `id` is the unit as text (item id, or item@seed in a multi-seed run).
        samples = {
            u.key: r for u, r in latest_by_unit(load_sample_records(run.run_dir / "samples.jsonl")).items()
        }
    scores = run.scores
    fields = field_order(scores["field"].unique()) if not scores.empty else []
    ids = list(dict.fromkeys([*samples, *(scores["id"].tolist() if not scores.empty else [])]))
    frame = pd.DataFrame({"id": ids})
    frame["set"] = [samples[i].set if i in samples else None for i in ids]
    frame["status"] = [samples[i].status if i in samples else "done" for i in ids]
    frame["output"] = [samples[i].output if i in samples else None for i in ids]
    ranks = []
    for name in fields:
        sub = scores[scores["field"] == name].drop_duplicates("id", keep="last").set_index("id")
        frame[name] = frame["id"].map(sub["value"])
        if frame["set"].isna().any():
            frame["set"] = frame["set"].fillna(frame["id"].map(sub["set"]))
        metric = run.results.metrics.get(name)
        field_direction = metric.direction if metric else "higher"
        if direction.ranks(field_direction):  # a neutral level (loudness) has no worst end
            ranks.append(frame[name].rank(pct=True, ascending=field_direction == "lower"))  # 1.0 = worst
    notes: dict[str, list[str]] = {}
    for rec in run.issues.to_dict("records"):
        notes.setdefault(rec["id"], []).append(
            f"{rec['metric']}: {rec['status']}" + (f" ({rec['reason']})" if rec["reason"] else "")
        )
    sample_errors = {i: f"generate: {samples[i].error}" for i in samples if samples[i].error}
    frame["notes"] = [
        "; ".join(([sample_errors[i]] if i in sample_errors else []) + notes.get(i, [])) for i in frame["id"]
    ]
    bad = (frame["status"] != "done") | (frame[fields].isna().any(axis=1) if fields else False)
    frame["worst_rank"] = pd.concat(ranks, axis=1).mean(axis=1) if ranks else 0.0
    frame["_bad"] = bad.astype(int)
    frame = frame.sort_values(["_bad", "worst_rank", "id"], ascending=[False, False, True], kind="stable")
    return frame.drop(columns="_bad").reset_index(drop=True)


def _sample_rows(run: RunData, report_dir: Path) -> tuple[list[str], list[dict[str, object]]]:
    """Column labels and one row per sample (worst first) for the template's per-sample table."""
    frame = sample_table(run)
    fields = [c for c in frame.columns if c not in ("id", "set", "status", "output", "worst_rank", "notes")]
    rows = []
    for rec in frame.to_dict("records"):
        output = rec["output"]
        href = (
            _relative_link(run.run_dir / output, report_dir) if output and run.run_dir is not None else None
        )
        values = []
        for name in fields:
            value = rec[name]
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            values.append(None if missing else f"{value:.4g}")
        rank = rec["worst_rank"]
        rows.append(
            {
                "id": rec["id"], "set": rec["set"] or "", "status": rec["status"], "href": href,
                "output_name": Path(output).name if output else "", "cells": values,
                "rank": "" if rank is None or math.isnan(rank) else f"{rank:.2f}", "notes": rec["notes"],
            }
        )  # fmt: skip
    return [FIELD_LABELS.get(f, f) for f in fields], rows


def _meta(run: RunData) -> tuple[list[tuple[str, object]], list[str]]:
    r = run.results
    rows: list[tuple[str, object]] = [
        ("run", r.run_name),
        ("model", r.model),
        ("benchmark", r.benchmark),
        ("preset", r.preset or ""),
        ("samples", r.n_samples),
        ("created", r.created_at or ""),
    ]
    if r.provenance is not None:
        p = r.provenance
        sha = (p.git_sha or "unknown") + (" (dirty)" if p.git_dirty else "")
        rows += [
            ("nava-eval", p.nava_eval_version),
            ("git", sha),
            ("python / torch", f"{p.python} / {p.torch}"),
        ]
        rows += [("GPUs", ", ".join(p.gpus) or "none"), ("host", p.hostname)]
    return rows, coverage_summary(r)


def coverage_summary(results: object) -> list[str]:
    """Coverage in a line or two: fields with the same counts are grouped; only gaps are named."""
    groups: dict[tuple[int, int, int, int], list[str]] = {}
    for name, m in results.metrics.items():  # type: ignore[attr-defined]
        groups.setdefault((m.n, m.n_skipped, m.n_failed, m.n_missing), []).append(name)
    lines = []
    for (n, skipped, failed, missing), names in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        gaps = [f"{k} {v}" for k, v in (("skipped", skipped), ("failed", failed), ("missing", missing)) if v]
        who = f"{len(names)} fields" if len(names) > 3 else ", ".join(names)
        lines.append(
            f"{who}: n={n}" + (f"; {', '.join(gaps)}" if gaps else "; nothing skipped, failed or missing")
        )
    return lines


@functools.cache
def _template() -> jinja2.Template:
    # Autoescape everything; only our own rendered tables are passed in as Markup.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nava_eval.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template(TEMPLATE_NAME)


def render_report(
    run: str | Path | RunData,
    others: Sequence[str | Path | RunData] = (),
    *,
    report_dir: str | Path | None = None,
    published: bool | pd.DataFrame = True,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> str:
    """The report page of `run` (with `others` beside it in the tables) as one HTML string."""
    main = load_run(run)
    extra = [load_run(o) for o in others]
    if report_dir is None:
        report_dir = main.run_dir if main.run_dir is not None else Path.cwd()
    report_dir = Path(report_dir).resolve()
    rowset = build_rows([main.results, *(o.results for o in extra)], published=published)
    tables = build_paper_tables(rowset, per_set=True)
    overall = [t for t in tables if t.set_name == "all"]
    per_set_tables = [t for t in tables if t.set_name != "all"]
    r = main.results
    smoke = r.smoke or any(o.results.smoke for o in extra)
    from nava_eval.reports.plots import metric_figure, paper_vs_harness_figure

    figures = [metric_figure(t) for t in overall]
    figures += [f for t in overall if (f := paper_vs_harness_figure(rowset, t.benchmark)) is not None]
    metric_plots = [_png(fig) for fig in figures]
    per_set_plots = [
        p
        for name in field_order(list(main.results.metrics))
        if (p := _per_set_chart(main, name, seed, n_resamples))
    ]
    meta, coverage = _meta(main)
    field_labels, samples = _sample_rows(main, report_dir)
    score_files = sorted((main.run_dir / "scores").glob("*.jsonl")) if main.run_dir else []
    return _template().render(
        css=Markup(_CSS + PAPER_CSS),
        run_name=r.run_name,
        benchmark=r.benchmark,
        model=r.model,
        smoke_banner=SMOKE_BANNER if smoke else None,
        meta=meta,
        coverage=coverage,
        comparison_html=Markup("".join(render_html(t) for t in overall)),
        per_set_html=Markup("".join(render_html(t) for t in per_set_tables)) if per_set_tables else None,
        metric_plots=metric_plots,
        per_set_plots=per_set_plots,
        score_files=[(p.name, _relative_link(p, report_dir)) for p in score_files],
        field_labels=field_labels,
        samples=samples,
    )


def write_report(
    run: str | Path | RunData,
    others: Sequence[str | Path | RunData] = (),
    out: str | Path | None = None,
    **options: object,
) -> Path:
    """Write report.html (default: into the run directory) atomically; returns its path."""
    main = load_run(run)
    if out is None:
        if main.run_dir is None:
            raise InvalidValue("the run has no directory; pass out= for the report path")
        out = main.run_dir / REPORT_NAME
    out = Path(out)
    text = render_report(main, others, report_dir=out.parent, **options)  # type: ignore[arg-type]
    return atomic_write_text(out, text)
