"""The published comparison table: models × metrics with direction arrows and the best value marked."""

from __future__ import annotations

import math

import pandas as pd

from reports.published import load_published

#: Column order and display names; fields absent from a benchmark's numbers are dropped.
METRIC_LABELS: dict[str, str] = {
    "sync_c": "Sync-C",
    "sync_d": "Sync-D",
    "ib": "IB",
    "video_quality": "Video Quality",
    "wer": "WER (%)",
    "pq": "PQ",
    "fd": "FD",
    "sim": "SIM (×100)",
}


def column_label(metric: str, higher_is_better: bool) -> str:
    """`Sync-C ↑`: the display name with its direction."""
    return f"{METRIC_LABELS.get(metric, metric)} {'↑' if higher_is_better else '↓'}"


def published_table(benchmark: str, split: str | None = None) -> tuple[pd.DataFrame, dict[str, bool]]:
    """Rows = models (with params), columns = metrics; returns the numeric table and each column's direction."""
    frame = load_published(benchmark, split)
    directions = frame.groupby("metric")["higher_is_better"].first().to_dict()
    order = [m for m in METRIC_LABELS if m in directions] + sorted(
        m for m in directions if m not in METRIC_LABELS
    )
    table = frame.pivot_table(index="model", columns="metric", values="value", aggfunc="first", sort=False)
    table = table.reindex(columns=order)
    params = frame.groupby("model", sort=False)["params_b"].first()
    table.insert(0, "params_b", params.reindex(table.index))
    models_in_csv_order = list(dict.fromkeys(frame["model"]))
    table = table.reindex(models_in_csv_order)
    table.index.name = "model"
    return table, {m: bool(directions[m]) for m in order}


def best_rows(table: pd.DataFrame, directions: dict[str, bool]) -> dict[str, str]:
    """Model with the best value per metric column (direction-aware; ties keep the first)."""
    best = {}
    for metric, higher in directions.items():
        column = table[metric].dropna()
        if not column.empty:
            best[metric] = column.idxmax() if higher else column.idxmin()
    return best


def display_table(table: pd.DataFrame, directions: dict[str, bool], mark_best: bool = True) -> pd.DataFrame:
    """Strings for humans: arrows in headers, best value in bold (**x**), params as `6.3B`."""
    best = best_rows(table, directions) if mark_best else {}
    out = pd.DataFrame(index=table.index)
    out["Params"] = [
        f"{p:g}B" if isinstance(p, float) and not math.isnan(p) else "–" for p in table["params_b"]
    ]
    for metric, higher in directions.items():
        cells = []
        for model, value in table[metric].items():
            if pd.isna(value):
                cells.append("–")
                continue
            text = f"{value:.4g}"
            cells.append(f"**{text}**" if best.get(metric) == model else text)
        out[column_label(metric, higher)] = cells
    return out


def render(table: pd.DataFrame, directions: dict[str, bool], fmt: str) -> str:
    """md | csv | html | latex | json. Machine formats carry raw numbers; md/html/latex mark the best."""
    if fmt == "csv":
        return table.to_csv()
    if fmt == "json":
        return table.reset_index().to_json(orient="records", indent=2, force_ascii=False)
    shown = display_table(table, directions)
    if fmt == "md":
        return shown.to_markdown()
    if fmt == "html":
        return shown.replace(r"\*\*(.+)\*\*", r"<b>\1</b>", regex=True).to_html(escape=False)
    if fmt == "latex":
        return shown.replace(r"\*\*(.+)\*\*", r"\\textbf{\1}", regex=True).to_latex(escape=False)
    raise ValueError(f"unknown format {fmt!r}; valid formats: md, csv, html, latex, json")
