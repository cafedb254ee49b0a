"""`nava-eval leaderboard`: validated submissions → one static page (sortable columns, per-set tabs).

Each zip is validated first exactly as `nava-eval validate` does (reports.leaderboard: hostile-zip
checks, hashes, and every aggregate recomputed from the bundled per-sample scores); a rejected zip is
listed with its errors and gets no row. The rows are the tidy rows (reports.rows) of the accepted
results.json files and the tables are paper views (reports.paper_view, every field), so the page shows
the numbers `report` shows. Each row links its provenance: harness version, git sha, protocol ids,
weight sha256s (provenance/<n>.json beside index.html). The page is self-contained (no network).
"""

from __future__ import annotations

import html
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nava_eval.reports.leaderboard import validate_submission
from nava_eval.reports.paper_view import PAPER_CSS, PaperTable, build_paper_table
from nava_eval.reports.rows import ALL, build_rows
from nava_eval.rundir.files import atomic_write_json, atomic_write_text
from nava_eval.rundir.records import Results
from nava_eval.rundir.safe_json import parse_json
from nava_eval.rundir.schema import from_dict

INDEX = "index.html"


@dataclass(frozen=True)
class SiteResult:
    index: Path
    accepted: tuple[str, ...]
    rejected: tuple[tuple[str, tuple[str, ...]], ...]  # (zip, errors)


def _results_of(path: Path) -> Results:
    """results.json of a zip `validate_submission` accepted (so its members are known to be safe)."""
    with zipfile.ZipFile(path) as zf:
        data = parse_json(zf.read("results.json"), f"{path.name}:results.json")
    return from_dict(Results, data, f"{path.name}:results.json")


_SORT_JS = """
document.querySelectorAll('.tabs button').forEach(function (button) {
  button.addEventListener('click', function () {
    document.querySelectorAll('.tab').forEach(function (t) { t.hidden = t.id !== button.dataset.tab; });
    document.querySelectorAll('.tabs button').forEach(function (b) { b.classList.toggle('active', b === button); });
  });
});
document.querySelectorAll('th.sortable').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], index = th.cellIndex;
    var descending = th.dataset.order !== 'desc';
    table.querySelectorAll('th.sortable').forEach(function (h) { delete h.dataset.order; });
    th.dataset.order = descending ? 'desc' : 'asc';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = parseFloat(a.cells[index].dataset.value), y = parseFloat(b.cells[index].dataset.value);
      if (isNaN(x)) { return 1; } if (isNaN(y)) { return -1; }
      return descending ? y - x : x - y;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 1.5em auto;
       max-width: 1200px; padding: 0 1em; color: #1d1d1f; }
.tabs button { border: 1px solid #ccc; background: #f6f6f6; padding: 0.3em 0.9em; cursor: pointer; }
.tabs button.active { background: #1f5fa8; color: #fff; }
th.sortable { cursor: pointer; } th.sortable[data-order=desc]::after { content: " ▼"; }
th.sortable[data-order=asc]::after { content: " ▲"; } .rejected { color: #a00; }
"""


def _tab_id(table: PaperTable) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{table.benchmark}-{table.set_name}".lower())


def _table_html(table: PaperTable, provenance: dict[str, str]) -> str:
    esc = html.escape
    parts = ['<div class="paper-view"><table><thead><tr><th>Model</th><th>Run</th>']
    parts += [
        f'<th class="sortable" data-key="{esc(c.key)}" title="{esc(c.protocol)}">{esc(c.header)}</th>'
        for c in table.columns
    ]
    parts.append("<th>Provenance</th></tr></thead><tbody>")
    for row in table.rows:
        parts.append(
            f'<tr data-label="{esc(row.label)}"><td>{esc(row.model)}</td><td>{esc(row.run or "")}</td>'
        )
        for c in table.columns:
            cell = table.cells.get((row.label, c.key))
            value = "" if cell is None else repr(cell.value)
            text = esc(table.cell_text(row.label, c.key))
            if table.is_best(row.label, c.key):
                text = f'<strong class="best">{text}</strong>'
            parts.append(f'<td data-value="{value}">{text}</td>')
        link = provenance.get(row.label)
        parts.append(f'<td><a href="{esc(link)}">provenance</a></td></tr>' if link else "<td></td></tr>")
    parts.append("</tbody></table>")
    notes = [f"{i}. {n}" for i, n in enumerate(table.footnotes, start=1)] + list(table.notes)
    parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul></div>")
    return "".join(parts)


def build_site(zips: list[str | Path], out_dir: str | Path) -> SiteResult:
    """Validate every zip, then write out_dir/index.html (and provenance/*.json) for the accepted ones."""
    out = Path(out_dir)
    accepted: list[tuple[Path, Results]] = []
    rejected: list[tuple[str, tuple[str, ...]]] = []
    for item in zips:
        path = Path(item)
        report = validate_submission(path)
        if report.ok:
            accepted.append((path, _results_of(path)))
        else:
            rejected.append((path.name, report.errors))
    rowset = build_rows([res for _, res in accepted])
    provenance: dict[str, str] = {}
    for index, (path, res) in enumerate(accepted):
        label = rowset.label("imported" if res.origin == "imported" else "run", res.model, res.run_name)
        prov = res.provenance
        record = {
            "submission": path.name,
            "run": res.run_name,
            "model": res.model,
            "benchmark": res.benchmark,
            "nava_eval_version": prov.nava_eval_version if prov else None,
            "git_sha": prov.git_sha if prov else None,
            "git_dirty": prov.git_dirty if prov else None,
            "protocols": {name: m.protocol for name, m in res.metrics.items()},
            "scorer_weights_sha256": dict(prov.scorer_weights_sha256) if prov else {},
            "checkpoint_sha256": dict(prov.checkpoint_sha256) if prov else {},
            "smoke": res.smoke,
        }
        name = f"provenance/{index:03d}.json"
        atomic_write_json(out / name, record)
        provenance[label] = name

    tables: list[PaperTable] = []
    for benchmark in rowset.benchmarks():
        frame = rowset.only(benchmark).frame
        for set_name in [ALL, *sorted(set(frame["set"]) - {ALL})]:
            tables.append(build_paper_table(rowset, benchmark, view="full", set_name=set_name))
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
        f"<title>nava-eval leaderboard</title><style>{_CSS}{PAPER_CSS}</style></head><body>",
        "<h1>nava-eval leaderboard</h1>",
        f"<p>{len(accepted)} submission(s) accepted after validation (every aggregate recomputed from its "
        f"per-sample scores); {len(rejected)} rejected. Click a column to sort.</p>",
    ]
    if rowset.banner:
        parts.append(f'<p class="smoke-banner"><strong>{esc(rowset.banner)}</strong></p>')
    parts.append('<div class="tabs">')
    for i, table in enumerate(tables):
        active = ' class="active"' if i == 0 else ""
        parts.append(f'<button type="button" data-tab="{_tab_id(table)}"{active}>{esc(table.title)}</button>')
    parts.append("</div>")
    for i, table in enumerate(tables):
        hidden = "" if i == 0 else " hidden"
        parts.append(
            f'<section class="tab" id="{_tab_id(table)}"{hidden}>{_table_html(table, provenance)}</section>'
        )
    if rejected:
        parts.append('<h2>Rejected</h2><ul class="rejected">')
        parts += [f"<li>{esc(name)}: {esc('; '.join(errors))}</li>" for name, errors in rejected]
        parts.append("</ul>")
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    index = out / INDEX
    atomic_write_text(index, "\n".join(parts) + "\n")
    return SiteResult(index, tuple(p.name for p, _ in accepted), tuple(rejected))
