"""The leaderboard page: only validated submissions, sortable columns, per-set tabs, provenance links."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from nava_eval.reports.leaderboard import submit
from nava_eval.runners.cli.main import cli
from tests.reports.test_render import CHROMIUM, CHROMIUM_FLAGS

GOOD = {
    "sync_c": {"set1": [6.0, 7.0, 8.0], "set3": [5.0, 6.5]},
    "sync_d": {"set1": [8.0, 8.5, 7.0], "set3": [9.0, 8.0]},
}
BETTER = {
    "sync_c": {"set1": [8.0, 9.0, 9.5], "set3": [7.0, 7.5]},
    "sync_d": {"set1": [6.0, 6.5, 7.0], "set3": [6.0, 6.2]},
}


@pytest.fixture
def zips(make_run, tmp_path: Path) -> list[Path]:
    a = submit(make_run("run-a", GOOD, model="model-a"), tmp_path / "a.zip")
    b = submit(make_run("run-b", BETTER, model="model-b"), tmp_path / "b.zip")
    # c: results.json claims a better Sync-C than its own per-sample scores give; the manifest is updated to
    # match, so only recomputing the aggregate from the bundled scores can catch it.
    c = tmp_path / "c.zip"
    with zipfile.ZipFile(a) as src:
        members = {info.filename: src.read(info.filename) for info in src.infolist()}
    results = json.loads(members["results.json"])
    results["metrics"]["sync_c"]["value"] = 99.0
    members["results.json"] = json.dumps(results).encode()
    manifest = json.loads(members["submission.json"])
    manifest["files"]["results.json"] = {
        "sha256": hashlib.sha256(members["results.json"]).hexdigest(),
        "size": len(members["results.json"]),
    }
    members["submission.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(c, "w") as dst:
        for name, data in members.items():
            dst.writestr(name, data)
    return [a, b, c]


def test_leaderboard_validates_and_links_provenance(zips: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["leaderboard", *map(str, zips), "-o", str(out)])
    assert result.exit_code == 1  # c.zip is rejected
    assert "rejected c.zip" in result.output and "2 accepted, 1 rejected" in result.output
    assert "do not match the per-sample scores" in result.output  # caught by the recomputation
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count('<tr data-label="model-a">') == 3 and page.count('<tr data-label="model-b">') == 3
    assert [t for t in re.findall(r'data-tab="([^"]+)"', page)] == [
        "versebench-all",
        "versebench-set1",
        "versebench-set3",
    ]
    links = sorted(set(re.findall(r'href="(provenance/\d+\.json)"', page)))
    assert links == ["provenance/000.json", "provenance/001.json"]
    prov = json.loads((out / links[0]).read_text())
    assert prov["submission"] == "a.zip" and prov["git_sha"] == "0" * 40
    assert prov["protocols"]["sync_c"] == "sync/syncnet-lse-v1" and "nava_eval_version" in prov


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (Debian package chromium)")
def test_page_sorts_in_headless_chromium_without_console_errors(zips: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "site"
    CliRunner().invoke(cli, ["leaderboard", *map(str, zips[:2]), "-o", str(out)])
    page = (out / "index.html").read_text(encoding="utf-8")
    catch = "<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message))});</script>"
    probe = (
        "<script>var th=document.querySelector('#versebench-all th[data-key^=\"sync_c@\"]');"
        "var order=function(){return Array.prototype.map.call(document.querySelectorAll('#versebench-all tbody tr'),"
        "function(r){return r.dataset.label}).join(',')};"
        "var before=order();th.click();var desc=order();th.click();var asc=order();"
        "document.body.setAttribute('data-result',JSON.stringify({before:before,desc:desc,asc:asc,errors:window.__errors}));</script>"
    )
    test_page = out / "probe.html"
    test_page.write_text(
        page.replace("<head>", "<head>" + catch).replace("</body>", probe + "</body>"), encoding="utf-8"
    )
    profile = tmp_path / "profile"
    cmd = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--dump-dom", test_page.as_uri()]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    raw = re.search(r"data-result=\"([^\"]+)\"", done.stdout).group(1)
    result = json.loads(raw.replace("&quot;", '"'))
    assert result["errors"] == [] and "Uncaught" not in done.stderr
    assert result["before"] == "model-a,model-b"
    assert result["desc"] == "model-b,model-a"  # Sync-C: 8.2 above 6.5
    assert result["asc"] == "model-a,model-b"
    shutil.rmtree(profile, ignore_errors=True)
