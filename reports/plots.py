"""Honest plots of the paper view: one panel per metric column, measured and published values together.

Each panel is one quantity under one protocol (a paper-view column), so a measured number and a
published one share a panel exactly when they share a column. Values are dots, measured ones with
their 95 % CI as whiskers (no bars, so no truncated bar axis); the value axis never uses offset
notation. Panels are small multiples on one figure. When a run is a published model, a second
figure sets the paper's number beside the harness's, one panel per metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nava_eval import direction
from nava_eval.errors import InvalidValue
from nava_eval.reports.paper_view import (
    SHORT_LABELS,
    PaperTable,
    build_paper_tables,
    reproductions,
)
from nava_eval.reports.rows import RowSet

MEASURED = {"color": "#1f5fa8", "marker": "o"}
PUBLISHED = {"color": "#b05a00", "marker": "s"}


def _plain_axis(ax: Any) -> None:
    """No "1e-10+1e2" offsets: tick labels are the values themselves."""
    from matplotlib.ticker import ScalarFormatter

    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    ax.xaxis.set_major_formatter(formatter)


def _grid(n: int) -> tuple[int, int]:
    cols = min(4, n)
    return math.ceil(n / cols), cols


def _metric_size(table: PaperTable) -> tuple[float, float]:
    nrows, ncols = _grid(max(1, len(table.columns)))
    return 3.6 * ncols, 0.5 + 0.32 * len(table.rows) * nrows + 0.8 * nrows


def metric_figure(table: PaperTable, target: Any = None) -> Any:
    """Small multiples: one panel per column of `table`, a row per model with a value in it."""
    from matplotlib.figure import Figure

    columns = [c for c in table.columns if any((r.label, c.key) in table.cells for r in table.rows)]
    nrows, ncols = _grid(max(1, len(columns)))
    fig = target if target is not None else Figure(figsize=_metric_size(table), layout="constrained")
    title = table.title + (f" ({table.banner})" if table.banner else "")
    fig.suptitle(title, fontsize=10)
    for index, column in enumerate(columns):
        ax = fig.add_subplot(nrows, ncols, index + 1)
        rows = [r for r in table.rows if (r.label, column.key) in table.cells]
        for y, row in enumerate(rows):
            cell = table.cells[(row.label, column.key)]
            style = PUBLISHED if row.kind == "published" else MEASURED
            if cell.ci is not None:
                err = [[cell.value - cell.ci[0]], [cell.ci[1] - cell.value]]
                ax.errorbar([cell.value], [y], xerr=err, fmt=style["marker"], color=style["color"], capsize=3)
            else:
                face = "none" if cell.secondary or cell.set_tag else style["color"]
                ax.plot([cell.value], [y], style["marker"], color=style["color"], markerfacecolor=face)
        ax.set_yticks(
            range(len(rows)), [r.label + ("" if r.kind == "published" else " •") for r in rows], fontsize=7
        )
        ax.invert_yaxis()
        arrow = direction.describe(column.direction)
        ax.set_title(f"{column.header}\n{column.protocol}", fontsize=7)
        ax.set_xlabel(f"{SHORT_LABELS.get(column.field, column.field)} ({arrow})", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
        _plain_axis(ax)
    fig.text(
        0.0, 0.0, "• measured (95 % CI whiskers); squares: published; hollow: secondary source or one set only",
        fontsize=7,
    )  # fmt: skip
    return fig


def _compared(rowset: RowSet, benchmark: str, aliases: Mapping[str, str] | None) -> list[Any]:
    return [r for r in reproductions(rowset, benchmark, aliases) if r.verdict != "different protocol"]


def _versus_size(n: int) -> tuple[float, float]:
    nrows, ncols = _grid(n)
    return 3.4 * ncols, 1.8 * nrows + 0.6


def paper_vs_harness_figure(
    rowset: RowSet, benchmark: str, aliases: Mapping[str, str] | None = None, target: Any = None
) -> Any:
    """One panel per metric a run shares with its own published model: the paper's number beside the harness's."""
    from matplotlib.figure import Figure

    items = _compared(rowset, benchmark, aliases)
    if not items:
        return None
    nrows, ncols = _grid(len(items))
    fig = target if target is not None else Figure(figsize=_versus_size(len(items)), layout="constrained")
    fig.suptitle(f"Paper vs harness ({benchmark})", fontsize=10)
    for index, item in enumerate(items):
        ax = fig.add_subplot(nrows, ncols, index + 1)
        ax.plot([item.published_value], [0], PUBLISHED["marker"], color=PUBLISHED["color"])
        if item.ci is not None:
            err = [[item.measured - item.ci[0]], [item.ci[1] - item.measured]]
            ax.errorbar(
                [item.measured], [1], xerr=err, fmt=MEASURED["marker"], color=MEASURED["color"], capsize=3
            )
        else:
            ax.plot([item.measured], [1], MEASURED["marker"], color=MEASURED["color"])
        ax.set_yticks([0, 1], [f"paper ({item.published})", f"harness ({item.run})"], fontsize=7)
        ax.set_ylim(-0.6, 1.6)
        ax.set_title(
            f"{SHORT_LABELS.get(item.field, item.field)}: {item.verdict}\n{item.protocol}", fontsize=7
        )
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
        _plain_axis(ax)
    return fig


def figures(rowset: RowSet, aliases: Mapping[str, str] | None = None) -> list[Any]:
    """The metric figure of each benchmark, then its paper-vs-harness figure when a run has one."""
    out = []
    for table in build_paper_tables(rowset):
        out.append(metric_figure(table))
        versus = paper_vs_harness_figure(rowset, table.benchmark, aliases)
        if versus is not None:
            out.append(versus)
    return out


def write_plots(rowset: RowSet, path: str | Path, aliases: Mapping[str, str] | None = None) -> Path:
    """All figures as small multiples on one page (PNG, SVG or PDF by the suffix of `path`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    parts: list[tuple[tuple[float, float], Any]] = []
    for table in build_paper_tables(rowset, aliases=aliases):
        parts.append((_metric_size(table), lambda sub, t=table: metric_figure(t, sub)))
        items = _compared(rowset, table.benchmark, aliases)
        if items:
            draw = lambda sub, b=table.benchmark: paper_vs_harness_figure(rowset, b, aliases, sub)  # noqa: E731
            parts.append((_versus_size(len(items)), draw))
    if not parts:
        raise InvalidValue("nothing to plot: no run or published number in the selection")
    width = max(size[0] for size, _ in parts)
    heights = [size[1] for size, _ in parts]
    page = Figure(figsize=(width, sum(heights)), layout="constrained")
    subs = page.subfigures(len(parts), 1, height_ratios=heights) if len(parts) > 1 else [page]
    for sub, (_, draw) in zip(subs, parts, strict=True):
        draw(sub)
    FigureCanvasAgg(page)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    page.savefig(out, dpi=110)
    return out
