"""--missing-image t2av: the release's silent T2AV for a VerseBench item whose image is missing."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nava_eval.benchmarks.smoke import SMOKE_VERSEBENCH_COUNTS, write_smoke_dataset
from nava_eval.benchmarks.versebench import VerseBench
from nava_eval.runners.cli.main import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_missing_image_is_an_error_or_the_releases_t2av(tmp_path: Path) -> None:
    data = write_smoke_dataset(tmp_path / "d").versebench
    (data / "set3" / "01001.jpg").unlink()
    common = [
        "run",
        "versebench",
        "--preset",
        "smoke",
        "--data-dir",
        str(data),
        "--run-dir",
        str(tmp_path / "r"),
    ]
    refused = invoke(*common, "--dry-run")
    assert (
        refused.exit_code == 1
        and "01001.jpg" in refused.output
        and "missing first-frame image" in refused.output
    )
    plan = json.loads(invoke(*common, "--missing-image", "t2av", "--dry-run").output)
    modes = {s["id"]: (s["mode"], s["size"]) for s in plan["samples"]}
    assert modes["01001"] == ("t2av", "64x64") and modes["01000"][0] == "i2av"
    intact = write_smoke_dataset(tmp_path / "d2").versebench
    default = json.loads(
        invoke("run", "versebench", "--preset", "smoke", "--data-dir", str(intact), "--dry-run").output
    )
    assert plan["spec_hash"] != default["spec_hash"]  # another protocol, another hash
    samples = VerseBench(missing_image="t2av", expected_counts=SMOKE_VERSEBENCH_COUNTS).load(data)
    (item,) = [s for s in samples if s.id == "01001"]
    assert item.image is None and item.meta["first_frame_missing"] is True
    wrong = invoke("run", "seedtts", "--preset", "smoke", "--missing-image", "t2av", "--dry-run")
    assert wrong.exit_code == 1 and "only applies to versebench" in wrong.output


def test_missing_image_t2av_runs_end_to_end(tmp_path: Path) -> None:
    data = write_smoke_dataset(tmp_path / "d").versebench
    (data / "set3" / "01001.jpg").unlink()
    run_dir = tmp_path / "r"
    result = invoke(
        "run", "versebench", "--preset", "smoke", "--data-dir", str(data), "--run-dir", str(run_dir),
        "--sets", "set3", "--missing-image", "t2av", "--metrics", "video_quality", "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["metrics"]["video_quality"]["n"] == 2  # the score stage reloads the items the same way
