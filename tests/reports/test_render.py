"""report.html: self-contained, loads in headless Chromium with the expected table rows, links resolve."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nava_eval.reports.render import REPORT_NAME, render_report, sample_table, write_report
from nava_eval.reports.tables import SMOKE_BANNER

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

VALUES = {
    "sync_c": {"set1": [6.0, 7.0, 8.0, 9.0], "set3": [5.0, 6.5, 7.5]},
    "sync_d": {"set1": [8.0, 8.5, 7.0, 7.5], "set3": [9.0, 8.0, 8.5]},
}


class _Tables(HTMLParser):
    """Collects, per table id (or div id around it), the text of each row's first cell, plus img/link targets."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[str]] = {}
        self.sources: list[str] = []
        self.links: list[str] = []
        self._ids: list[str] = []
        self._current: str | None = None
        self._cell = 0
        self._capture = False
        self.banners = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "div":
            self._ids.append(a.get("id") or "")
        if tag == "table":
            self._current = a.get("id") or next((i for i in reversed(self._ids) if i), "") or "anon"
            self.tables.setdefault(self._current, [])
        if tag == "tr" and self._current is not None:
            self._cell = 0
        if tag in ("td", "th") and self._current is not None:
            self._cell += 1
            self._capture = self._cell == 1
            if self._capture:
                self.tables[self._current].append("")
        if tag == "img":
            self.sources.append(a.get("src") or "")
        if tag in ("a", "link", "script"):
            self.links.append(a.get("href") or a.get("src") or "")
        if "smoke-banner" in (a.get("class") or ""):
            self.banners += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._ids:
            self._ids.pop()
        if tag == "table":
            self._current = None
        if tag in ("td", "th"):
            self._capture = False

    def handle_data(self, data: str) -> None:
        if self._capture and self._current is not None:
            self.tables[self._current][-1] += data


def _parse(text: str) -> _Tables:
    parser = _Tables()
    parser.feed(text)
    return parser


@pytest.fixture
def report_run(make_run) -> Path:
    run = make_run("nava-smoke", VALUES, smoke=True, failed=[("set1", "set1-003")])
    write_report(run)
    return run


def test_report_is_self_contained_with_expected_content(report_run: Path) -> None:
    text = (report_run / REPORT_NAME).read_text(encoding="utf-8")
    page = _parse(text)
    # No network: every image is an inline data URI, no stylesheet/script fetched, no absolute URL.
    assert page.sources and all(src.startswith("data:image/png;base64,") for src in page.sources)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "<script" not in text and "<link" not in text
    # Charts: the paper view's small multiples (one figure, a panel per column) plus one per-set plot per
    # field (2); no paper-vs-harness figure for a smoke run.
    assert len(page.sources) == 3
    assert SMOKE_BANNER in text and page.banners >= 3  # page + both tables

    comparison = page.tables["comparison"]
    assert comparison[0] == "Model" and comparison[1] == "NAVA (measured) [smoke]"
    assert "NAVA" in comparison
    # The metadata block summarises coverage in a line per group of fields, not a row per field.
    assert text.count("<th>coverage</th>") <= 2 and "failed 1" in text
    samples = page.tables["samples"]
    assert len(samples) == 1 + 7
    assert samples[1] == "set1-003"  # unscored (its latest score failed) comes first
    assert "sync: failed (corrupt)" in text

    # Links are relative to the report and point at real files.
    for href in page.links:
        assert not href.startswith("/"), href
        assert (report_run / href).exists(), href
    assert "outputs/set1/set1-000.mp4" in page.links and "scores/sync.jsonl" in page.links


def test_sample_order_is_worst_first(make_run) -> None:
    run = make_run("r", {"sync_c": {"s": [5.0, 9.0, 1.0]}, "sync_d": {"s": [7.0, 6.0, 9.0]}})
    from nava_eval.reports.per_sample import load_run

    order = sample_table(load_run(run))["id"].tolist()
    # s-002 has the lowest Sync-C and the highest Sync-D: worst; s-001 is best on both.
    assert order == ["s-002", "s-000", "s-001"]


def test_report_for_results_only_and_other_dir(report_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "r.html"
    write_report(report_run, out=out)
    page = _parse(out.read_text(encoding="utf-8"))
    assert "../nava-smoke/outputs/set1/set1-000.mp4" in page.links
    text = render_report(report_run, published=False)
    assert "NAVA (published)" not in text


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing: install Debian packages chromium and chromium-driver (CI does)",
)
def test_report_in_headless_chromium(report_run: Path, tmp_path: Path) -> None:
    url = (report_run / REPORT_NAME).resolve().as_uri()

    def chromium(*args: str) -> subprocess.CompletedProcess[str]:
        profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
        cmd = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    dom = chromium("--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = _parse(dom.stdout)
    assert page.tables["comparison"][1] == "NAVA (measured) [smoke]"
    assert len(page.tables["samples"]) == 8
    assert SMOKE_BANNER in dom.stdout

    shot = tmp_path / "report.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1280,1600")
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    shutil.rmtree(tmp_path / "profile-0", ignore_errors=True)
