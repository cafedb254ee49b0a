"""Plots: one panel per metric column, measured and published together, whiskers, no offsets, no bars."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg

from nava_eval.reports.paper_view import build_paper_table
from nava_eval.reports.plots import metric_figure, paper_vs_harness_figure, write_plots
from nava_eval.reports.rows import build_rows
from tests.reports.rows_fixtures import matching_run, smoke_run


def test_one_panel_per_column_measured_and_published_together(tmp_path: Path) -> None:
    rowset = build_rows([matching_run(tmp_path), smoke_run(tmp_path)], published=True)
    table = build_paper_table(rowset, "versebench")
    fig = metric_figure(table)
    FigureCanvasAgg(fig).draw()
    axes = fig.get_axes()
    assert [ax.get_title().split("\n")[0] for ax in axes] == [c.header for c in table.columns]
    sync = axes[0]  # Sync-C under sync/mova-lse-v1: the published five and the measured nava-6b
    labels = [t.get_text() for t in sync.get_yticklabels()]
    assert "nava-6b •" in labels and "NAVA" in labels and "sync/mova-lse-v1" in sync.get_title()
    assert len(sync.collections) == 1  # one CI whisker: the measured run (published numbers carry none)
    whisker = sync.collections[0].get_segments()[0]
    assert sorted(whisker[:, 0].tolist()) == [7.7, 8.1]
    for ax in axes:
        formatter = ax.xaxis.get_major_formatter()
        assert formatter.get_useOffset() is False and ax.xaxis.get_offset_text().get_text() == ""
        assert not ax.patches  # dots, never bars: no truncated bar axis


def test_tiny_differences_show_plain_tick_labels(tmp_path: Path) -> None:
    rowset = build_rows([smoke_run(tmp_path)], published=False)
    fig = metric_figure(build_paper_table(rowset, "versebench", view="full"))
    FigureCanvasAgg(fig).draw()
    vq = next(ax for ax in fig.get_axes() if ax.get_title().startswith("VQ"))
    # CI 0.5702..0.5704: matplotlib's default would print an offset such as "+5.703e-1"
    assert vq.xaxis.get_offset_text().get_text() == ""
    assert all(t.get_text().startswith("0.570") for t in vq.get_xticklabels() if t.get_text())


def test_paper_vs_harness_and_the_page(tmp_path: Path) -> None:
    rowset = build_rows([matching_run(tmp_path)], published=True)
    fig = paper_vs_harness_figure(rowset, "versebench")
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert titles == [
        "Sync-C: agrees\nsync/mova-lse-v1",
        "IB: disagrees\nib/mova-imagebind-huge-v1",
    ]  # 0.313 is outside [0.29, 0.31]
    assert paper_vs_harness_figure(build_rows([smoke_run(tmp_path)], published=True), "versebench") is None
    out = write_plots(rowset, tmp_path / "plots.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_secondary_sources_are_hollow_in_plots() -> None:
    table = build_paper_table(build_rows([], published=True, benchmarks=["seedtts"]), "seedtts")
    fig = metric_figure(table)
    wer = fig.get_axes()[0]
    labels = [t.get_text() for t in wer.get_yticklabels()]
    faces = {label: line.get_markerfacecolor() for label, line in zip(labels, wer.get_lines(), strict=True)}
    assert faces["CosyVoice 2"] == "none" and faces["NAVA"] != "none"
