"""The paper view: one row per model, one column per metric, short headers, protocols as footnotes.

Built from a `RowSet` (reports.rows) only. A column is one quantity under one protocol: a measured
number and a published one share a column exactly when their protocol ids are equal; a measured
number whose protocol no published number has gets its own column, its header starred. The default
view shows the benchmark's headline metrics (NAVA's Table 1 / Table 2 columns), at most MAX_COLUMNS;
`view="full"` shows every field; `set_name` gives the table of one set. Best per column in bold
(smoke rows never take it); ± is half the 95 % CI; "sd" the standard deviation between seeds.
The text renderer splits a table wider than the terminal into blocks that each fit.
"""

from __future__ import annotations

import html
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from nava_eval import direction
from nava_eval.errors import UnknownName
from nava_eval.reports.rows import ALL, WHOLE_BENCHMARK_SPLITS, ModelInfo, RowSet, is_secondary

View = Literal["paper", "full"]

#: Short column labels (the paper's own where it has one).
SHORT_LABELS: dict[str, str] = {
    "sync_c": "Sync-C",
    "sync_d": "Sync-D",
    "ib": "IB",
    "video_quality": "VQ",
    "imaging_quality": "IQ",
    "wer": "WER",
    "sim": "SIM",
    "pq": "PQ",
    "pc": "PC",
    "ce": "CE",
    "cu": "CU",
    "fd": "FD",
    "cs": "CLAP",
    "dnsmos": "DNSMOS",
    "is": "IS",
    "desync": "DeSync",
    "av_align": "AV-Align",
    "av_a": "AV-A",
    "kl": "KL",
    "id": "ID",
    "sim_speakers": "SIM/spk",
    "sim_speakers_worst": "SIM/spk min",
    "amplitude_rms": "RMS",
    "loudness_lufs": "LUFS",
    "versebench_overall": "Overall",
    "versebench_s_joint": "S_joint",
    "versebench_s_video": "S_video",
    "versebench_s_audio": "S_audio",
    "versebench_s_other": "S_other",
}

#: Units a label carries in a footnote rather than in the header.
UNITS: dict[str, str] = {"wer": "WER in % (CER for Chinese)", "sim": "SIM ×100"}

#: The benchmark's headline metrics, in the paper's order: NAVA's Table 1 (Verse-Bench), Table 2 (Seed-TTS).
HEADLINE: dict[str, tuple[str, ...]] = {
    "versebench": ("sync_c", "sync_d", "ib", "video_quality", "wer", "pq", "fd"),
    "seedtts": ("wer", "sim"),
}

MAX_COLUMNS = 12
HTML_BLOCK = 10  # metric columns per HTML table block (a 1280 px page holds 10 with CIs)
WIDTH = 120
SECONDARY = "§"
DISAGREE = " ≠"
SMOKE_SUFFIX = "+smoke-random-weights"
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def base_protocol(protocol: str) -> str:
    """The protocol a smoke run imitates (its id without the random-weights suffix)."""
    return protocol.removesuffix(SMOKE_SUFFIX)


@dataclass(frozen=True)
class PaperColumn:
    field: str
    protocol: str
    direction: str
    marker: int  # footnote number of the protocol
    measured_only: bool  # no published number has this protocol

    @property
    def key(self) -> str:
        return f"{self.field}@{self.protocol}"

    @property
    def header(self) -> str:
        arrow = direction.arrow(self.direction)
        star = "*" if self.measured_only else ""
        return f"{SHORT_LABELS.get(self.field, self.field)}{star} {arrow}{str(self.marker).translate(_SUPERSCRIPT)}"


@dataclass(frozen=True)
class PaperCell:
    value: float
    ci: tuple[float, float] | None = None
    seed_sd: float | None = None
    set_tag: str | None = None  # a published number of one set shown in the overall column (full view)
    secondary: bool = False
    disagrees: bool = False  # a run's CI excludes its own model's published number of this column

    def text(self) -> str:
        out = _fmt(self.value)
        if self.ci is not None:
            out += f" ± {_fmt((self.ci[1] - self.ci[0]) / 2)}"
        if self.seed_sd is not None:
            out += f" (sd {_fmt(self.seed_sd)})"
        if self.set_tag:
            out += f" ({self.set_tag})"
        if self.secondary:
            out += SECONDARY
        if self.disagrees:
            out += DISAGREE
        return out


@dataclass(frozen=True)
class PaperTable:
    benchmark: str
    set_name: str  # "all" or one set
    rows: tuple[ModelInfo, ...]
    columns: tuple[PaperColumn, ...]
    cells: Mapping[tuple[str, str], PaperCell]  # (row label, column key)
    best: Mapping[str, frozenset[str]]
    footnotes: tuple[str, ...]  # protocol footnotes, numbered from 1
    notes: tuple[str, ...] = ()
    banner: str | None = None
    hidden: tuple[str, ...] = ()  # columns the paper view left out (shown by view="full")

    @property
    def title(self) -> str:
        where = "" if self.set_name == ALL else f", {self.set_name}"
        return f"{self.benchmark}{where}"

    def lead_headers(self) -> list[str]:
        heads = ["Model", "Params"]
        if any(self.benchmark in r.resolutions for r in self.rows):
            heads.append("Res.")
        if any(r.n_planned for r in self.rows):
            heads.append("Cov.")
        return heads

    def lead_values(self, row: ModelInfo) -> list[str]:
        values = [row.label, "" if row.params_b is None else f"{row.params_b:g}B"]
        if any(self.benchmark in r.resolutions for r in self.rows):
            values.append(row.resolutions.get(self.benchmark, ""))
        if any(r.n_planned for r in self.rows):
            values.append(f"{row.n_outputs}/{row.n_planned}" if row.n_planned else "")
        return values

    def cell_text(self, row: str, key: str) -> str:
        cell = self.cells.get((row, key))
        return "–" if cell is None else cell.text()

    def is_best(self, row: str, key: str) -> bool:
        return row in self.best.get(key, ())


def _fmt(value: float) -> str:
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.3f}"


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _overall_splits(rowset: RowSet, benchmark: str, set_name: str) -> set[str]:
    """Published splits that fill the columns: whole-benchmark splits, or the one set a view is about."""
    from nava_eval.reports.published import DEFAULT_SPLIT

    if set_name != ALL:
        return {set_name}
    splits = set(WHOLE_BENCHMARK_SPLITS)
    runs = rowset.frame[rowset.frame["kind"] != "published"]
    run_sets = set(runs["set"]) - {ALL}
    if runs.empty and benchmark in DEFAULT_SPLIT:
        splits.add(DEFAULT_SPLIT[benchmark])
    elif len(run_sets) == 1:
        splits |= run_sets
    return splits


def field_rank(names: Sequence[str], benchmark: str) -> list[str]:
    """Headline fields in the paper's order, then the rest in registry order."""
    from nava_eval.reports.tables import field_order

    head = HEADLINE.get(benchmark, ())
    rest = field_order([n for n in names if n not in head])
    return [n for n in head if n in names] + rest


def build_paper_table(
    rowset: RowSet,
    benchmark: str,
    *,
    view: View = "paper",
    set_name: str = ALL,
    metrics: Sequence[str] | None = None,
    max_columns: int = MAX_COLUMNS,
    aliases: Mapping[str, str] | None = None,
) -> PaperTable:
    """The paper view of one benchmark (and one set, or the whole benchmark) of `rowset`.

    A run that is a published model (reports.model_names, `aliases`) gets ≠ on each number whose 95 % CI
    excludes that model's published number in the same column.
    """
    rs = rowset.only(benchmark)
    frame = rs.frame
    splits = _overall_splits(rs, benchmark, set_name)
    cells: dict[tuple[str, str], PaperCell] = {}
    directions: dict[str, str] = {}
    published_protocols: dict[str, list[str]] = {}
    measured_protocols: dict[str, list[str]] = {}
    tagged: dict[tuple[str, str], PaperCell] = {}
    by_run: dict[str, dict[str, list[str]]] = {}  # field → run label → its protocols
    for rec in frame.to_dict("records"):
        fld, protocol = str(rec["field"]), str(rec["protocol"])
        key = f"{fld}@{protocol}"
        directions.setdefault(fld, str(rec["direction"]))
        label = rs.label(rec["kind"], rec["model"], rec["run"])
        if rec["kind"] == "published":
            cell = PaperCell(float(rec["value"]), secondary=is_secondary(rec["source"]))
            if rec["set"] in splits or (
                set_name == ALL and rs.populations.get((fld, protocol)) == rec["set"]
            ):
                cells[(label, key)] = cell
                published_protocols.setdefault(fld, [])
                if protocol not in published_protocols[fld]:
                    published_protocols[fld].append(protocol)
            elif set_name == ALL and view == "full":
                tagged.setdefault(
                    (label, key), PaperCell(cell.value, set_tag=str(rec["set"]), secondary=cell.secondary)
                )
        elif rec["set"] == set_name:
            ci = (float(rec["ci_lo"]), float(rec["ci_hi"])) if _present(rec["ci_lo"]) else None
            sd = float(rec["seed_sd"]) if _present(rec["seed_sd"]) and (rec["n_seeds"] or 1) > 1 else None
            cells[(label, key)] = PaperCell(float(rec["value"]), ci, sd)
            by_run.setdefault(fld, {}).setdefault(label, []).append(protocol)
            measured_protocols.setdefault(fld, [])
            if protocol not in measured_protocols[fld]:
                measured_protocols[fld].append(protocol)
    # A published single-set number (MOVA's DNSMOS on set3) shown, tagged, where no whole-benchmark one is.
    for (label, key), cell in tagged.items():
        fld, _, protocol = key.partition("@")
        if (label, key) not in cells:
            cells[(label, key)] = cell
            if protocol not in published_protocols.setdefault(fld, []):
                published_protocols[fld].append(protocol)

    names = list(dict.fromkeys([*published_protocols, *measured_protocols]))
    if metrics is not None:
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise UnknownName(
                f"unknown metric field(s) {', '.join(unknown)}; valid: {', '.join(field_rank(names, benchmark))}"
            )
        names = [m for m in metrics]
    else:
        names = field_rank(names, benchmark)
    head = HEADLINE.get(benchmark)
    specs: list[tuple[str, str, bool]] = []  # (field, protocol, measured_only)
    hidden: list[str] = []
    for fld in names:
        pub = published_protocols.get(fld, [])
        extra = [p for p in measured_protocols.get(fld, []) if p not in pub]
        in_view = view == "full" or metrics is not None or head is None or fld in head
        if not in_view:
            hidden += [f"{SHORT_LABELS.get(fld, fld)} [{p}]" for p in [*pub, *extra]]
            continue
        specs += [(fld, p, False) for p in pub]
        if view == "paper" and metrics is None and extra:
            # A measured-only column only for a run none of whose numbers of this quantity is shown yet,
            # the protocol imitating a published one first.
            shown = set(pub)
            keep: list[str] = []
            for protocols in by_run.get(fld, {}).values():
                if not shown & set(protocols):
                    pick = sorted(protocols, key=lambda p: base_protocol(p) not in pub)[0]
                    keep.append(pick)
                    shown.add(pick)
            hidden += [f"{SHORT_LABELS.get(fld, fld)} [{p}]" for p in extra if p not in keep]
            extra = [p for p in extra if p in keep]
        specs += [(fld, p, True) for p in extra]
    if len(specs) > max_columns and view == "paper":
        # Columns published numbers share come first; measured-only ones are dropped from the end.
        ranked = sorted(range(len(specs)), key=lambda i: (specs[i][2], i))[:max_columns]
        hidden += [f"{SHORT_LABELS.get(f, f)} [{p}]" for i, (f, p, _) in enumerate(specs) if i not in ranked]
        specs = [specs[i] for i in sorted(ranked)]

    rows = [m for m in rs.models if any((m.label, f"{f}@{p}") in cells for f, p, _ in specs)]
    footnotes: list[str] = []
    columns: list[PaperColumn] = []
    best: dict[str, frozenset[str]] = {}
    for fld, protocol, measured_only in specs:
        key = f"{fld}@{protocol}"
        text = _protocol_note(rs, fld, protocol)
        if text not in footnotes:
            footnotes.append(text)
        field_direction = directions.get(fld, "higher")
        columns.append(PaperColumn(fld, protocol, field_direction, footnotes.index(text) + 1, measured_only))
        contenders = [
            (m.label, cells[(m.label, key)].value)
            for m in rows
            if (m.label, key) in cells and not m.smoke and not cells[(m.label, key)].set_tag
        ]
        target = direction.best([v for _, v in contenders], field_direction)
        if target is not None:  # a neutral level (loudness) has no best value
            best[key] = frozenset(lbl for lbl, v in contenders if v == target)

    if set_name == ALL:
        for item in reproductions(rowset, benchmark, aliases):
            key = (item.run, f"{item.field}@{item.protocol}")
            if item.verdict == "disagrees" and key in cells:
                cells[key] = replace(cells[key], disagrees=True)
    notes = _notes(rs, rows, columns, cells, hidden)
    return PaperTable(
        benchmark, set_name, tuple(rows), tuple(columns), cells, best, tuple(footnotes), tuple(notes),
        rs.banner, tuple(hidden),
    )  # fmt: skip


def _protocol_note(rs: RowSet, fld: str, protocol: str) -> str:
    parts = [protocol]
    if (fld, protocol) in rs.populations:
        parts.append(f"{rs.populations[(fld, protocol)]} only")
    if (fld, protocol) in rs.unit_notes:
        parts.append(rs.unit_notes[(fld, protocol)])
    if (fld, protocol) in rs.evidence:
        parts.append(f"published numbers: {rs.evidence[(fld, protocol)]}")
    return "; ".join(parts)


def _notes(
    rs: RowSet,
    rows: Sequence[ModelInfo],
    columns: Sequence[PaperColumn],
    cells: Mapping[tuple[str, str], PaperCell],
    hidden: Sequence[str],
) -> list[str]:
    notes = []
    keys = {c.key for c in columns}
    shown = [cells[k] for k in cells if k[1] in keys]
    if any(c.ci is not None for c in shown):
        notes.append("± half the 95 % bootstrap CI (published numbers carry none); best per column in bold.")
    if any(c.seed_sd is not None for c in shown):
        notes.append("(sd s): standard deviation of the value between seeds.")
    if any(c.measured_only for c in columns):
        notes.append("*: measured under a protocol no published number uses (its own column).")
    if any(c.set_tag for c in shown):
        notes.append(
            "(setN): a published number of that set only; not ranked against whole-benchmark numbers."
        )
    if any(c.disagrees for c in shown):
        notes.append(
            f"{DISAGREE.strip()}: the run's 95 % CI excludes its own model's published number of the same protocol."
        )
    if any(c.secondary for c in shown):
        notes.append(
            f"{SECONDARY}: read from a secondary source (another paper's table), not the primary; verify before citing."
        )
    if any(r.n_planned for r in rows):
        notes.append("Cov.: samples with an output / samples planned (× seeds).")
    units = sorted({UNITS[c.field] for c in columns if c.field in UNITS})
    if units:
        notes.append("Units: " + "; ".join(units) + ".")
    if hidden:
        notes.append(f"Not shown ({len(hidden)}; --view full shows every field): " + ", ".join(hidden) + ".")
    sources = sorted(
        {str(s) for s in rs.frame.loc[rs.frame["kind"] == "published", "source"].unique()}
        if len(rs.frame)
        else set()
    )
    notes += [f"Published: {s}" for s in sources]
    return notes


# --- text (markdown) --------------------------------------------------------------------------------


def _width(text: str) -> int:
    return len(text)


def _md_block(table: PaperTable, columns: Sequence[PaperColumn], compact: bool = False) -> list[str]:
    heads = [*table.lead_headers(), *[c.header for c in columns]]
    body = []
    for row in table.rows:
        values = table.lead_values(row)
        for c in columns:
            text = table.cell_text(row.label, c.key)
            values.append(f"**{text}**" if table.is_best(row.label, c.key) else text)
        body.append(values)
    widths = [max(_width(r[i]) for r in [heads, *body]) for i in range(len(heads))]
    pad = "" if compact else " "

    def line(values: Sequence[str]) -> str:
        cells = [
            v.ljust(w) if i < 1 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return f"|{pad}" + f"{pad}|{pad}".join(cells) + f"{pad}|"

    extra = len(pad) * 2
    sep = (
        "|"
        + "|".join(("-" * (w + extra - 1) + ":") if i else "-" * (w + extra) for i, w in enumerate(widths))
        + "|"
    )
    return [line(heads), sep, *[line(r) for r in body]]


def render_markdown(table: PaperTable, width: int = WIDTH) -> str:
    """GitHub markdown; a table wider than `width` is split into column blocks that each fit."""
    out: list[str] = []
    if table.banner:
        out += [f"> **{table.banner}**", ""]
    out += [f"**{table.title}**", ""]
    # Padded cells when the whole table fits; else unpadded; else column blocks, each repeating the model.
    compact = max(map(_width, _md_block(table, table.columns))) > width
    blocks: list[list[PaperColumn]] = [[]]
    for column in table.columns:
        trial = [*blocks[-1], column]
        if blocks[-1] and max(map(_width, _md_block(table, trial, compact))) > width:
            blocks.append([column])
        else:
            blocks[-1] = trial
    for i, block in enumerate(blocks):
        if i:
            out.append("")
        out += _md_block(table, block, compact)
    out.append("")
    for i, note in enumerate(table.footnotes, start=1):
        out.append(_wrap(f"{str(i).translate(_SUPERSCRIPT)} {note}", width))
    out += [_wrap(n, width) for n in table.notes]
    return "\n".join(out).rstrip() + "\n"


def _wrap(text: str, width: int) -> str:
    return (
        "  \n".join(textwrap.wrap(text, width=width - 2, subsequent_indent="  ", break_long_words=True))
        + "  "
    )


# --- HTML -------------------------------------------------------------------------------------------

PAPER_CSS = """
.paper-view { max-width: 100%; }
.paper-view table { border-collapse: collapse; width: auto; max-width: 100%; table-layout: auto; margin: 0.6em 0; font-variant-numeric: tabular-nums; }
.paper-view th, .paper-view td { border-bottom: 1px solid #ddd; padding: 0.3em 0.45em; text-align: right;
  white-space: normal; overflow-wrap: normal; word-break: normal; }
.paper-view th:first-child, .paper-view td:first-child { text-align: left; }
.paper-view tr.published td { color: #444; } .paper-view strong.best { color: #0a5d00; }
.paper-view .notes { font-size: 0.85em; color: #444; overflow-wrap: anywhere; }
.paper-view .smoke-banner { background: #fff3cd; border: 2px solid #e0a800; padding: 0.5em 1em; }
"""


def render_html(table: PaperTable) -> str:
    """An HTML fragment (class "paper-view"); cells wrap so the table never scrolls sideways."""
    esc = html.escape
    parts = [
        f'<div class="paper-view" data-benchmark="{esc(table.benchmark)}" data-set="{esc(table.set_name)}">'
    ]
    if table.banner:
        parts.append(f'<p class="smoke-banner"><strong>{esc(table.banner)}</strong></p>')
    # Wide tables come as column blocks (each repeating the model) so no block is wider than the page.
    n_blocks = max(1, math.ceil(len(table.columns) / HTML_BLOCK))
    size = max(1, math.ceil(len(table.columns) / n_blocks))  # balanced: 12 columns are 6 + 6, not 10 + 2
    blocks = [table.columns[i : i + size] for i in range(0, len(table.columns), size)] or [()]
    for index, block in enumerate(blocks):
        caption = table.title + (f" ({index + 1}/{len(blocks)})" if len(blocks) > 1 else "")
        parts.append(f"<table><caption>{esc(caption)}</caption><thead><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in table.lead_headers()]
        parts += [
            f'<th data-key="{esc(c.key)}" title="{esc(c.protocol)}">{esc(c.header)}</th>' for c in block
        ]
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            kind = "published" if row.kind == "published" else "run"
            parts.append(
                f'<tr class="{kind}">' + "".join(f"<td>{esc(v)}</td>" for v in table.lead_values(row))
            )
            for c in block:
                text = esc(table.cell_text(row.label, c.key))
                if table.is_best(row.label, c.key):
                    text = f'<strong class="best">{text}</strong>'
                parts.append(f"<td>{text}</td>")
            parts.append("</tr>")
        parts.append("</tbody></table>")
    notes = [f"{str(i).translate(_SUPERSCRIPT)} {n}" for i, n in enumerate(table.footnotes, start=1)]
    notes += list(table.notes)
    parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    parts.append("</div>")
    return "\n".join(parts) + "\n"


def strip_markup(text: str) -> str:
    """The md table without bold markers (for width checks and plain terminals)."""
    return re.sub(r"\*\*(.*?)\*\*", r"\1", text)


@dataclass(frozen=True)
class PaperReport:
    tables: tuple[PaperTable, ...] = field(default_factory=tuple)


def build_paper_tables(
    rowset: RowSet,
    *,
    view: View = "paper",
    per_set: bool = False,
    metrics: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> list[PaperTable]:
    """One table per benchmark (and, with `per_set`, one per set after it)."""
    out = []
    for benchmark in benchmarks or rowset.benchmarks():
        out.append(build_paper_table(rowset, benchmark, view=view, metrics=metrics, aliases=aliases))
        if per_set:
            frame = rowset.only(benchmark).frame
            sets = sorted(set(frame.loc[frame["kind"] != "published", "set"]) - {ALL})
            if not sets:  # published only: the single-set splits the papers report
                sets = sorted(set(frame["set"]) - set(WHOLE_BENCHMARK_SPLITS))
            for name in sets:
                table = build_paper_table(rowset, benchmark, view=view, set_name=name, metrics=metrics)
                if table.rows:
                    out.append(table)
    return out


# --- paper vs harness -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reproduction:
    """A run of a published model beside that model's published number of the same quantity."""

    run: str  # row label of the run
    published: str  # published model
    field: str
    protocol: str  # the run's protocol
    published_protocol: str
    published_value: float
    measured: float
    ci: tuple[float, float] | None
    verdict: str  # agrees | disagrees | no CI | different protocol


def reproductions(
    rowset: RowSet, benchmark: str, aliases: Mapping[str, str] | None = None
) -> list[Reproduction]:
    """Every (run, quantity) whose run is a published model (reports.model_names): same protocol compared."""
    from nava_eval.reports.model_names import published_name

    rs = rowset.only(benchmark)
    frame = rs.frame
    pub = frame[frame["kind"] == "published"]
    splits = _overall_splits(rs, benchmark, ALL)
    in_population = [
        rs.populations.get((f, p)) == s
        for f, p, s in zip(pub["field"], pub["protocol"], pub["set"], strict=True)
    ]
    pub = pub[pub["set"].isin(splits).to_numpy() | np.array(in_population, dtype=bool)]
    models = [str(m) for m in pub["model"].unique()]
    out: list[Reproduction] = []
    for info in rs.models:
        if info.kind == "published" or info.smoke:
            continue
        name = published_name(info.model, models, aliases)
        if name is None:
            continue
        mine = frame[
            (frame["kind"] == info.kind)
            & (frame["model"] == info.model)
            & (frame["run"] == info.run)
            & (frame["set"] == ALL)
        ]
        theirs = pub[pub["model"] == name]
        for rec in theirs.to_dict("records"):
            same_field = mine[mine["field"] == rec["field"]]
            if same_field.empty:
                continue
            same = same_field[same_field["protocol"] == rec["protocol"]]
            row = (same if len(same) else same_field).iloc[0]
            ci = (float(row["ci_lo"]), float(row["ci_hi"])) if _present(row["ci_lo"]) else None
            if not len(same):
                verdict = "different protocol"
            elif ci is None:
                verdict = "no CI"
            else:
                verdict = "agrees" if ci[0] <= float(rec["value"]) <= ci[1] else "disagrees"
            out.append(
                Reproduction(info.label, name, str(rec["field"]), str(row["protocol"]), str(rec["protocol"]),
                             float(rec["value"]), float(row["value"]), ci, verdict)
            )  # fmt: skip
    return out
