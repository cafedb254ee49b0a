"""`--preset student` / `--sampler dmd2-student`: refused without a distilled DiT, runs on the smoke preset."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nava_eval.rundir.records import load_sample_records
from nava_eval.rundir.run_file import load_run_file
from nava_eval.runners.cli.main import cli
from nava_eval.runners.presets import PRESETS


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_student_preset_needs_a_distilled_checkpoint(tmp_path: Path) -> None:
    g = PRESETS["student"].generation
    assert (g.sampler, g.steps, g.dit_file) == ("dmd2-student", 4, None)
    common = ["run", "versebench", "--preset", "student", "--run-dir", str(tmp_path / "r"), "--dry-run"]
    bad = invoke(*common)
    assert (
        bad.exit_code == 1 and "needs a distilled DiT checkpoint" in bad.output and "published" in bad.output
    )
    also_bad = invoke(*common, "--dit-file", "NAVA.safetensors")
    assert also_bad.exit_code == 1 and "50-step teacher" in also_bad.output
    too_many = invoke(*common, "--dit-file", "student.safetensors", "--steps", "8")
    assert too_many.exit_code == 1 and "at most 4 steps" in too_many.output


def test_smoke_runs_the_student_and_records_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "s"
    plan = json.loads(
        invoke("run", "versebench", "--preset", "smoke", "--sampler", "dmd2-student", "--steps", "4",
               "--run-dir", str(run_dir), "--dry-run").output
    )  # fmt: skip
    plain = json.loads(
        invoke("run", "versebench", "--preset", "smoke", "--run-dir", str(run_dir), "--dry-run").output
    )
    assert plan["steps"] == 4 and plan["spec_hash"] != plain["spec_hash"]
    ids = tmp_path / "ids.txt"
    ids.write_text("01000\n", encoding="utf-8")
    result = invoke(
        "generate", "versebench", "--preset", "smoke", "--sampler", "dmd2-student", "--steps", "4",
        "--ids", str(ids), "--run-dir", str(run_dir), "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert load_run_file(run_dir).spec.generation.sampler == "dmd2-student"
    (record,) = load_sample_records(run_dir / "samples.jsonl")
    assert record.id == "01000" and (run_dir / record.output).is_file()
