"""The table `nava-eval report` prints: runs from results.json as rows beside published baselines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reports.published_table import published_table, render
from reports.results import Results, load_results

SMOKE_NOTE = "smoke: random weights, numbers are not meaningful"


def _run_rows(results: list[Results], per_set: bool) -> tuple[pd.DataFrame, dict[str, bool]]:
    rows, directions = {}, {}
    for res in results:
        row: dict[str, float | None] = {"params_b": res.params_b}
        for name, metric in res.metrics.items():
            row[name] = metric.value
            directions[name] = metric.direction == "higher"
            if per_set:
                for set_name, set_result in metric.per_set.items():
                    row[f"{name}[{set_name}]"] = set_result.value
                    directions[f"{name}[{set_name}]"] = metric.direction == "higher"
        label = f"{res.run_name} ({res.model})" + (" [smoke]" if res.smoke else "")
        rows[label] = row
    return pd.DataFrame.from_dict(rows, orient="index"), directions


def build_report_table(
    runs: list[Path],
    published: bool,
    benchmark: str | None = None,
    split: str | None = None,
    fmt: str = "md",
    per_set: bool = False,
) -> str:
    """Render the comparison table; runs of different benchmarks are an error."""
    results = [load_results(run) for run in runs]
    benchmarks = {r.benchmark for r in results}
    if len(benchmarks) > 1:
        raise ValueError(
            f"runs are from different benchmarks ({', '.join(sorted(benchmarks))}); report them apart"
        )
    bench = benchmark or (benchmarks.pop() if benchmarks else "versebench")
    tables, directions = [], {}
    if published:
        pub, pub_dirs = published_table(bench, split)
        tables.append(pub)
        directions.update(pub_dirs)
    if results:
        run_table, run_dirs = _run_rows(results, per_set)
        tables.append(run_table)
        for key, value in run_dirs.items():
            directions.setdefault(key, value)
    table = pd.concat(tables) if len(tables) > 1 else tables[0]
    table.index.name = "model"
    ordered = [c for c in directions if c in table.columns]
    table = table.reindex(columns=["params_b", *ordered])
    text = render(table, {k: directions[k] for k in ordered}, fmt)
    notes = []
    if any(r.smoke for r in results):
        notes.append(SMOKE_NOTE)
    if published and results:
        notes.append(
            "published numbers were measured with protocols the papers do not state (protocol: unknown)"
        )
    if notes and fmt in ("md", "html", "latex"):
        text = text + "\n\n" + "\n".join(f"Note: {n}" for n in notes)
    return text
