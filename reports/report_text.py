"""`nava-eval report` output: the paper view, paper vs harness, the user study and the speed table, as text.

Everything here is made from one `RowSet` (reports.rows) plus the published facts that are not
metric values (reports.published_facts, reports.user_study).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nava_eval import direction
from nava_eval.errors import InvalidValue
from nava_eval.reports.paper_view import (
    PAPER_CSS,
    WIDTH,
    PaperTable,
    Reproduction,
    View,
    _wrap,
    build_paper_tables,
    render_html,
    render_markdown,
    reproductions,
)
from nava_eval.reports.rows import RowSet
from nava_eval.rundir.files import finite_or_null

#: A table beside the paper view: caption, headers, rows, notes under it.
Side = tuple[str, Sequence[str], list[list[str]], list[str]]


def _fmt(value: float) -> str:
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.3f}"


def _md_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [headers, *body]) for i in range(len(headers))]
    line = lambda vals: "| " + " | ".join(str(v).ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
    return [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *[line(r) for r in body]]


def _html_table(caption: str, headers: Sequence[str], body: Sequence[Sequence[str]], cls: str) -> str:
    esc = html.escape
    parts = [f'<table class="{cls}"><caption>{esc(caption)}</caption><thead><tr>']
    parts += [f"<th>{esc(h)}</th>" for h in headers]
    parts.append("</tr></thead><tbody>")
    for row in body:
        parts.append("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


REPRO_HEADERS = ("run", "published", "metric", "published", "measured", "95 % CI", "verdict")


def _repro_body(items: Sequence[Reproduction]) -> list[list[str]]:
    from nava_eval.reports.paper_view import SHORT_LABELS

    body = []
    for r in items:
        ci = f"[{_fmt(r.ci[0])}, {_fmt(r.ci[1])}]" if r.ci else "–"
        verdict = (
            r.verdict
            if r.verdict != "different protocol"
            else f"not compared: {r.protocol} ≠ {r.published_protocol}"
        )
        body.append(
            [
                r.run,
                r.published,
                SHORT_LABELS.get(r.field, r.field),
                _fmt(r.published_value),
                _fmt(r.measured),
                ci,
                verdict,
            ]
        )
    return body


def render_derived_md(rowset: RowSet, width: int = WIDTH) -> str:
    """The derived-metric tables (Verse-Bench Overall) of every benchmark in `rowset`, as Markdown."""
    out = []
    for benchmark in rowset.benchmarks():
        for caption, headers, body, notes in _derived_sides(rowset, benchmark):
            lines = [f"**{caption}**", "", *_md_table(headers, body), ""]
            lines += [_wrap(n, width) for n in notes]
            out.append("\n".join(lines).rstrip() + "\n")
    return "\n".join(out)


def _derived_sides(rowset: RowSet, benchmark: str) -> list[Side]:
    """One side table per derived metric: each model's value and sub-scores; below it, why others have none."""
    by_metric: dict[str, list] = {}
    for outcome in rowset.derived:
        if outcome.benchmark == benchmark:
            by_metric.setdefault(outcome.metric.label, []).append(outcome)
    sides: list[Side] = []
    for label, outcomes in by_metric.items():
        metric = outcomes[0].metric
        fields = metric.all_fields
        headers = ["Model", *(f"{f.label} {direction.arrow(f.direction)}" for f in fields)]
        body = [
            [o.label, *(f"{o.value.values[f.name]:.4f}" for f in fields)]
            for o in outcomes
            if o.value.protocol is not None
        ]
        if not body:
            body = [["(no model has every input)", *("–" for _ in fields)]]
        notes = [f"{label}: {metric.description}; computed only when every input is measured under "
                 "the protocol it names (`nava-eval ls derived`)."]  # fmt: skip
        for o in outcomes:
            if o.value.protocol is not None:
                extra = f"; {o.value.note}" if o.value.note else ""
                notes.append(f"{o.label}: protocol {o.value.protocol}{extra}.")
            else:
                notes.append(f"{o.label}: missing; {o.value.reason}.")
        sides.append((f"{label} ({benchmark})", headers, body, notes))
    return sides


def _sections(
    rowset: RowSet,
    *,
    view: View,
    per_set: bool,
    metrics: Sequence[str] | None,
    aliases: Mapping[str, str] | None,
    published: bool,
    gpu_bench: str | Path | None,
) -> tuple[list[PaperTable], list[Side]]:
    """The paper tables and the side tables (caption, headers, body) that go with them."""
    tables = build_paper_tables(rowset, view=view, per_set=per_set, metrics=metrics, aliases=aliases)
    side: list[Side] = []
    for benchmark in rowset.benchmarks():
        items = reproductions(rowset, benchmark, aliases)
        if items:
            side.append((f"Paper vs harness ({benchmark})", REPRO_HEADERS, _repro_body(items), []))
        side += _derived_sides(rowset, benchmark)
    if published and "versebench" in rowset.benchmarks():
        from nava_eval.reports.user_study import STUDY_HEADERS, study_notes, study_rows

        caption = "User study: NAVA vs each baseline, human GSB votes (win/tie/lose for NAVA)"
        side.append((caption, STUDY_HEADERS, study_rows(), study_notes()))
    if (published and "versebench" in rowset.benchmarks()) or gpu_bench is not None:
        from nava_eval.reports.published_facts import SPEED_HEADERS, speed_table

        rows, notes = speed_table(gpu_bench)
        caption = "Speed and memory: NAVA's README table (published) and this harness's `bench gpu`"
        side.append((caption, SPEED_HEADERS, rows, notes))
    return tables, side


def render_report_text(
    rowset: RowSet,
    fmt: str = "md",
    *,
    view: View = "paper",
    per_set: bool = False,
    metrics: Sequence[str] | None = None,
    aliases: Mapping[str, str] | None = None,
    published: bool = False,
    gpu_bench: str | Path | None = None,
    width: int = WIDTH,
) -> str:
    """The report as md (fits `width` columns), a self-contained HTML page, LaTeX or JSON."""
    tables, side = _sections(
        rowset,
        view=view,
        per_set=per_set,
        metrics=metrics,
        aliases=aliases,
        published=published,
        gpu_bench=gpu_bench,
    )
    if fmt == "md":
        out = [render_markdown(t, width) for t in tables]
        for caption, headers, body, notes in side:
            lines = [f"**{caption}**", "", *_md_table(headers, body), ""]
            lines += [_wrap(n, width) for n in notes]
            out.append("\n".join(lines).rstrip() + "\n")
        return "\n".join(out)
    if fmt == "html":
        return html_page(tables, side)
    if fmt == "latex":
        return "\n".join(render_latex(t) for t in tables)
    if fmt == "json":
        return json.dumps(finite_or_null({"tables": [table_dict(t) for t in tables], "side": [
            {"caption": c, "headers": list(h), "rows": b, "notes": n} for c, h, b, n in side
        ]}), indent=2, ensure_ascii=False, allow_nan=False) + "\n"  # fmt: skip
    raise InvalidValue(
        f"unknown report format {fmt!r}; valid: md, html, latex, json (csv, parquet, jsonl: tidy rows)"
    )


PAGE_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 1.5em auto;
       max-width: 1200px; padding: 0 1em; color: #1d1d1f; line-height: 1.4; }
table.side { border-collapse: collapse; width: 100%; margin: 1.2em 0; font-size: 0.9em; }
table.side th, table.side td { border-bottom: 1px solid #ddd; padding: 0.25em 0.45em; text-align: left;
  white-space: normal; overflow-wrap: anywhere; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
.notes { font-size: 0.85em; color: #444; overflow-wrap: anywhere; }
"""


def html_page(tables: Sequence[PaperTable], side: Sequence[Side]) -> str:
    """A self-contained page (no network); nothing on it is wider than the window."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
        f"<title>nava-eval report</title><style>{PAGE_CSS}{PAPER_CSS}</style></head><body>",
    ]
    parts += [render_html(t) for t in tables]
    for caption, headers, body, notes in side:
        parts.append(_html_table(caption, headers, body, "side"))
        if notes:
            parts.append(
                '<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "↑": r"$\uparrow$",
          "↓": r"$\downarrow$", "±": r"$\pm$", "×": r"$\times$", "–": "--", "§": r"\S{}"}  # fmt: skip


def _latex(text: str) -> str:
    out = "".join(_LATEX.get(ch, ch) for ch in text)
    for digit, sup in zip("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹", strict=True):
        out = out.replace(sup, f"$^{digit}$")
    return out


def render_latex(table: PaperTable) -> str:
    lines = [f"% {table.banner}"] if table.banner else []
    heads = [*table.lead_headers(), *[c.header for c in table.columns]]
    lines.append(r"\begin{tabular}{l" + "r" * (len(heads) - 1) + "}")
    lines += [r"\toprule", " & ".join(_latex(h) for h in heads) + r" \\", r"\midrule"]
    for row in table.rows:
        values = [_latex(v) for v in table.lead_values(row)]
        for c in table.columns:
            text = _latex(table.cell_text(row.label, c.key))
            values.append(r"\textbf{" + text + "}" if table.is_best(row.label, c.key) else text)
        lines.append(" & ".join(values) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [f"% [{i}] {n}" for i, n in enumerate(table.footnotes, start=1)]
    return "\n".join(lines) + "\n"


def table_dict(table: PaperTable) -> dict[str, Any]:
    return {
        "benchmark": table.benchmark,
        "set": table.set_name,
        "banner": table.banner,
        "columns": [{"key": c.key, "field": c.field, "protocol": c.protocol, "header": c.header,
                     "direction": c.direction, "measured_only": c.measured_only} for c in table.columns],
        "rows": [
            {"label": r.label, "model": r.model, "kind": r.kind, "run": r.run, "params_b": r.params_b,
             "resolution": r.resolutions.get(table.benchmark),
             "coverage": {"outputs": r.n_outputs, "planned": r.n_planned} if r.n_planned else None,
             "cells": {c.key: {"value": cell.value, "ci95": list(cell.ci) if cell.ci else None,
                               "seed_sd": cell.seed_sd, "best": table.is_best(r.label, c.key),
                               "set": cell.set_tag, "secondary_source": cell.secondary}
                       for c in table.columns if (cell := table.cells.get((r.label, c.key))) is not None}}
            for r in table.rows
        ],
        "footnotes": list(table.footnotes),
        "notes": list(table.notes),
    }  # fmt: skip
