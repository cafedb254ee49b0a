"""Advice about missing or changed outputs fits how the run was made (imported runs cannot be generated)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from media_files import write_clip

from nava_eval.benchmarks.base import SampleSelection
from nava_eval.rundir.run_file import GenerationSettings, RunSpec, load_run_file
from nava_eval.runners.cli.main import cli
from nava_eval.runners.importing import ImportRequest, import_outputs


def _imported(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "outs"
    write_clip(src / "00000.mp4", seed=1)
    write_clip(src / "00001.mp4", seed=2)
    run = tmp_path / "run"
    import_outputs(
        ImportRequest("versebench", src, "Ovi 1.1", run_dir=run, preset="smoke",
                      selection=SampleSelection(sets=("set1",)))
    )  # fmt: skip
    return src, run


def test_an_imported_run_whose_source_changed_is_told_to_import_not_to_generate(tmp_path: Path):
    src, run = _imported(tmp_path)
    write_clip(tmp_path / "other.mp4", seed=9)
    # The output is a hard link of the source file: rewriting the source in place changes the run's output.
    with open(src / "00001.mp4", "r+b") as fh:
        fh.write((tmp_path / "other.mp4").read_bytes())
    result = CliRunner().invoke(cli, ["score", str(run), "--metrics", "video_quality", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "nava-eval import versebench" in result.output and "--model 'Ovi 1.1'" in result.output
    assert "nava-eval run" not in result.output and "nava-eval generate" not in result.output
    assert "`generate`" not in result.output

    result = CliRunner().invoke(cli, ["submit", str(run), "-o", str(tmp_path / "s.zip")])
    assert result.exit_code == 1 and "nava-eval import" in result.output, result.output
    assert "nava-eval generate" not in result.output and "regenerate" not in result.output


def test_advice_for_a_generated_run_names_run_and_generate(tmp_path: Path):
    spec = RunSpec("r", "versebench", "smoke", GenerationSettings(), [])
    assert "`nava-eval run` or `nava-eval generate` with --run-dir" in spec.remake_advice(tmp_path / "r")
    _, run = _imported(tmp_path)
    advice = load_run_file(run).spec.remake_advice(run)
    assert advice.startswith("this run was imported") and "nava-eval generate" not in advice
