"""`nava-eval import` against hostile inputs: one file for two items, special files, bad mapping bytes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from media_files import write_clip

from nava_eval.benchmarks.base import SampleSelection
from nava_eval.rundir.layout import RunDir
from nava_eval.runners.cli.main import cli
from nava_eval.runners.importing import ImportRefused, ImportRequest, import_outputs

SET1 = SampleSelection(sets=("set1",))  # items 00000 and 00001 (mp4 with audio)


def _import(source: Path, run_dir: Path, **options):
    return import_outputs(
        ImportRequest("versebench", source, "M", run_dir=run_dir, preset="smoke", selection=SET1, **options)
    )


@pytest.mark.parametrize("spelling", ["same", "dot", "absolute", "symlink", "hardlink", "copy"])
def test_a_mapping_giving_one_clip_to_two_items_is_refused_naming_both(tmp_path: Path, spelling: str):
    src = tmp_path / "outs"
    write_clip(src / "a.mp4", seed=1)
    second = {
        "same": "a.mp4",
        "dot": "./sub/../a.mp4",
        "absolute": str(src / "a.mp4"),
        "symlink": "link.mp4",
        "hardlink": "hard.mp4",
        "copy": "copy.mp4",
    }[spelling]
    (src / "sub").mkdir()
    (src / "link.mp4").symlink_to(src / "a.mp4")
    os.link(src / "a.mp4", src / "hard.mp4")
    shutil.copyfile(src / "a.mp4", src / "copy.mp4")
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"id,path\n00000,a.mp4\n00001,{second}\n")
    run = tmp_path / "run"
    with pytest.raises(ImportRefused, match="00000") as err:
        _import(src, run, mapping=mapping)
    assert "'00001'" in str(err.value) and "counted twice" in str(err.value)
    assert not run.exists()  # nothing written


def test_by_stem_a_symlinked_or_copied_clip_for_a_second_item_is_refused(tmp_path: Path):
    src = tmp_path / "outs"
    write_clip(src / "00000.mp4", seed=1)
    (src / "00001.mp4").symlink_to(src / "00000.mp4")
    result = CliRunner().invoke(
        cli, ["import", "versebench", str(src), "--model", "M", "--preset", "smoke", "--sets", "set1",
              "--run-dir", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "'00000'" in result.output and "'00001'" in result.output and "Traceback" not in result.output


def test_score_refuses_a_run_whose_records_share_an_output(tmp_path: Path):
    src = tmp_path / "outs"
    write_clip(src / "00000.mp4", seed=1)
    write_clip(src / "00001.mp4", seed=2)
    run = tmp_path / "run"
    _import(src, run)
    # Another route to two records on one file: samples.jsonl edited by hand (or a foreign tool).
    lines = (run / "samples.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    by_id = {r["id"]: r for r in records}
    by_id["00001"]["output"] = by_id["00000"]["output"]
    by_id["00001"]["output_sha256"] = by_id["00000"]["output_sha256"]
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = CliRunner().invoke(cli, ["score", str(run), "--metrics", "video_quality", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "'00000'" in result.output and "'00001'" in result.output and "one output file" in result.output
    assert not RunDir(run).scores("video_quality").exists()


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_nul_byte_in_a_mapping_path_names_the_file_and_line(tmp_path: Path, kind: str):
    src = tmp_path / "outs"
    write_clip(src / "a.mp4", seed=1)
    mapping = tmp_path / f"map.{kind}"
    if kind == "csv":
        mapping.write_text("id,path\n00000,a.mp4\n00001,b\0.mp4\n")
    else:
        lines = [{"id": "00000", "path": "a.mp4"}, {"id": "00001", "path": "b\u0000.mp4"}]
        mapping.write_text("".join(json.dumps(line) + "\n" for line in lines))
    line = 3 if kind == "csv" else 2
    report = _import(src, tmp_path / "run", mapping=mapping)
    problem = next(p for p in report.problems if p.item == "00001")
    assert f"{mapping}:{line}" in problem.reason and "NUL byte" in problem.reason
    assert report.imported == 1


def test_a_nul_byte_in_a_config_path_is_a_usage_error_naming_it(tmp_path: Path):
    config = tmp_path / "run.yaml"
    config.write_text('benchmark: versebench\npreset: smoke\nrun-dir: "runs/a\\0b"\n')
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "NUL byte" in result.output and str(config) in result.output and "run-dir" in result.output
