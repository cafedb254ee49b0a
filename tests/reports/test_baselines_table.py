"""Measured baselines in tables: model-name mapping, paper-vs-harness marks, coverage, seed variance."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from seed_runs import write_seed_run

from nava_eval.reports.model_names import check_aliases, parse_alias, published_name
from nava_eval.reports.stats import seed_estimate
from nava_eval.reports.tables import DISAGREE_MARK, build_table, render_table

MOVA = "sync/mova-lse-v1"
SC, SD = f"sync_c@{MOVA}", f"sync_d@{MOVA}"
PUBLISHED = ["NAVA", "Ovi 1.1", "MOVA (A18B/32B total)", "MOVA-360p"]


def test_published_name_rules() -> None:
    assert published_name("nava-6b", PUBLISHED) == "NAVA"  # built-in alias
    assert published_name("ovi  1.1", PUBLISHED) == "Ovi 1.1"  # same name, case and spaces aside
    assert published_name("MOVA", PUBLISHED) is None  # a paper row may be a variant: no guessing
    assert published_name("MOVA", PUBLISHED, {"mova": "MOVA-360p"}) == "MOVA-360p"
    assert published_name("nava-6b", PUBLISHED, {"nava-6b": "Ovi 1.1"}) == "Ovi 1.1"  # the user's alias wins
    assert published_name("nava-tiny", PUBLISHED) is None
    assert parse_alias(" mova = MOVA-360p ") == ("mova", "MOVA-360p")
    with pytest.raises(ValueError, match="RUN_MODEL=PUBLISHED_MODEL"):
        parse_alias("mova")
    with pytest.raises(ValueError, match="published models: .*Ovi 1.1"):
        check_aliases({"x": "Nope"}, PUBLISHED, "versebench")


def _near(center: float, n: int = 40, spread: float = 0.3) -> list[float]:
    rng = np.random.default_rng(int(center * 1000))
    values = rng.normal(0.0, spread, size=n)
    return list(center + values - values.mean())  # mean exactly `center`


def test_paper_vs_harness_marks_disagreements_of_the_same_model_and_protocol(make_run) -> None:
    # NAVA publishes Sync-C 7.7914 / Sync-D 7.5655 under sync/mova-lse-v1.
    ours = make_run(
        "nava-run",
        {"sync_c": {"set3": _near(7.80)}, "sync_d": {"set3": _near(9.0)}},
        model="nava-6b",
        protocols={"sync_c": MOVA, "sync_d": MOVA},
    )
    other = make_run("ovi-run", {"sync_c": {"set3": _near(7.0)}}, model="Ovi 1.1")  # other protocol
    table = build_table([ours, other], "versebench")
    row = next(r for r in table.rows if r.run_name == "nava-run")
    assert row.published_as == "NAVA"
    assert table.disagree == {SD: frozenset({row.label})}
    by_key = {(r.run, r.column): r for r in table.reproducibility}
    agree, disagree = by_key[(row.label, SC)], by_key[(row.label, SD)]
    assert agree.verdict == "agrees" and agree.published_value == pytest.approx(7.7914)
    assert agree.ci95[0] <= 7.7914 <= agree.ci95[1]
    assert disagree.verdict == "disagrees" and disagree.measured == pytest.approx(9.0)
    (ovi,) = [r for r in table.reproducibility if r.run.startswith("Ovi 1.1")]
    assert ovi.column is None and ovi.verdict == f"different protocol (published: {MOVA})"
    assert ovi.protocol == "sync/syncnet-lse-v1"

    md = render_table(table, "md")
    assert "**Paper vs harness**" in md and DISAGREE_MARK.strip() in md
    assert f"{table.cell_text(row.label, SD)}" in md and table.cell_text(row.label, SD).endswith(
        DISAGREE_MARK
    )
    assert not table.cell_text(row.label, SC).endswith(DISAGREE_MARK)
    data = json.loads(render_table(table, "json"))
    assert {r["verdict"] for r in data["reproducibility"]} >= {"agrees", "disagrees"}
    cells = next(r for r in data["rows"] if r["run"] == "nava-run")["cells"]
    assert cells[SD]["disagrees_published"] is True and cells[SC]["disagrees_published"] is False
    csv = render_table(table, "csv")
    assert f"{SD}_disagrees_published" in csv.splitlines()[0]
    html = render_table(table, "html")
    assert 'class="reproducibility"' in html
    # Without published rows there is nothing to compare with.
    assert build_table([ours], "versebench", published=False).reproducibility == ()


def test_smoke_runs_are_never_a_published_model(make_run) -> None:
    run = make_run(
        "s", {"sync_c": {"set3": _near(7.8)}}, model="NAVA", smoke=True, protocols={"sync_c": MOVA}
    )
    table = build_table([run], "versebench")
    assert table.rows[0].published_as is None and not table.reproducibility


def test_multi_seed_cells_show_the_seed_sd_and_coverage(tmp_path: Path) -> None:
    nan = math.nan
    a = [7.0, 7.5, 8.0, 6.1, 6.9, 7.7, 8.4, 7.3]
    b = [7.2, 7.9, nan, 6.0, 7.1, 7.4, 8.8, 7.0]
    values = {100: {"set3": a}, 101: {"set3": b}}
    run = write_seed_run(tmp_path / "ms", values)
    table = build_table([run], "versebench", published=False)
    (row,) = table.rows
    assert row.coverage == "15/16 (2 seeds)" and row.n_seeds == 2
    cell = table.cell(row.label, "sync_c@sync/syncnet-lse-v1")
    per_seed = [np.mean(a), np.nanmean(b)]
    assert cell.value == pytest.approx(np.mean(per_seed))
    assert cell.seed_sd == pytest.approx(np.std(per_seed, ddof=1))
    text = table.cell_text(row.label, "sync_c@sync/syncnet-lse-v1")
    assert f"[sd {cell.seed_sd:.3f}]" in text
    md = render_table(table, "md")
    assert "| Coverage" in md and "15/16 (2 seeds)" in md and "between seeds" in md
    # Another bootstrap seed redraws from the per-sample scores with the item (cluster) bootstrap.
    redrawn = build_table([run], "versebench", published=False, seed=3, n_resamples=300)
    other = redrawn.cell(row.label, "sync_c@sync/syncnet-lse-v1")
    direct = seed_estimate(np.array([a, b]).T, [100, 101], seed=3, n_resamples=300)
    assert other.value == pytest.approx(cell.value) and other.ci95 == pytest.approx(direct.ci95)
    assert other.ci95 != cell.ci95
