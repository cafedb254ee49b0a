"""tools/bench_gpu.py as on the lent GPU machine: a bare checkout (nothing installed) and without the
packages that machine lacks and tools/device_wheels.sh does not carry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]

ABSENT_THERE = ("av", "soundfile", "ftfy", "jsonschema")

PRELUDE = f"""
import importlib.util, pathlib, sys
sys.path.insert(0, {str(REPO_ROOT / "tools")!r})
import bench_gpu
"""


def _site_without(absent: tuple[str, ...], folder: Path) -> Path:
    """This environment's site-packages (as links) without `absent` and without the editable install."""
    folder.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        top = entry.name.split("-")[0].split(".")[0].lower()
        if top in absent or top.startswith(("__editable__", "nava_eval")) or entry.suffix == ".pth":
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    # -S: no site hooks; PYTHONPATH: the filtered packages. nava_eval is then only the checkout.
    env = {**os.environ, "PYTHONPATH": str(_site_without(ABSENT_THERE, cwd / "site"))}
    return subprocess.run(
        [sys.executable, "-S", "-c", PRELUDE + code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_device_path_imports_and_runs_from_a_bare_checkout(tmp_path) -> None:
    code = f"""
for name in {ABSENT_THERE!r}:
    assert importlib.util.find_spec(name) is None, name
assert importlib.util.find_spec("nava_eval") is None  # not installed
bench_gpu.use_checkout()
import nava_eval.runners.perf.gpu.runner, nava_eval.metrics.sync, nava_eval.metrics.video_quality
from nava_eval.runners.perf.gpu.plan import versebench_plan
from nava_eval.runners.perf.sync import write_synthetic_clip
from nava_eval.metrics.media_decode import probe
clip = write_synthetic_clip(pathlib.Path({str(tmp_path)!r}) / "c.mp4", n_frames=8, size=(64, 64))
print(versebench_plan("cpu").step.latent_grid, probe(clip).pix_fmt)
sys.argv = ["bench_gpu.py", "--device", "cpu", "--sections", "ceiling,audio_vae,projection",
            "--out", {str(tmp_path / "out")!r}]
bench_gpu.main()
"""
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(37, 44, 80) yuv420p" in result.stdout
    data = json.loads((tmp_path / "out" / "bench_gpu.json").read_text())
    assert [(s["name"], s["status"]) for s in data["sections"]] == [
        ("ceiling", "ok"),
        ("audio_vae", "ok"),
        ("projection", "ok"),
    ]
