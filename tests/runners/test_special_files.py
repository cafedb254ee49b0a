"""Only regular files are read: a FIFO (or folder, device) a user names is refused by name, never waited on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from media_files import write_clip

from nava_eval.runners.cli.main import cli


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _invoke(args: list[str]):
    """Every command here would block for ever on the FIFO without the check: an alarm turns a hang into a failure."""
    import signal

    def hang(*_):
        raise TimeoutError("the command blocked (read a FIFO?)")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    try:
        return CliRunner().invoke(cli, args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_import_names_a_fifo_named_like_an_output_and_imports_the_rest(tmp_path: Path):
    src = tmp_path / "outs"
    write_clip(src / "00000.mp4", seed=1)
    _fifo(src / "00001.mp4")
    result = _invoke(["import", "versebench", str(src), "--model", "M", "--preset", "smoke", "--sets", "set1",
                      "--run-dir", str(tmp_path / "run")])  # fmt: skip
    assert not isinstance(result.exception, TimeoutError), "import blocked on the FIFO"
    assert result.exit_code == 1, result.output
    assert "FIFO" in result.output and "00001.mp4" in result.output and "imported 1 of 2" in result.output


def test_import_mapping_to_a_fifo_or_a_fifo_mapping_is_refused(tmp_path: Path):
    src = tmp_path / "outs"
    write_clip(src / "00000.mp4", seed=1)
    _fifo(src / "pipe.mp4")
    mapping = tmp_path / "map.csv"
    mapping.write_text("id,path\n00000,00000.mp4\n00001,pipe.mp4\n")
    base = ["import", "versebench", str(src), "--model", "M", "--preset", "smoke", "--sets", "set1"]
    result = _invoke([*base, "--mapping", str(mapping), "--run-dir", str(tmp_path / "r1")])
    assert result.exit_code == 1, result.output
    assert "'pipe.mp4' is a FIFO" in result.output
    fifo_map = _fifo(tmp_path / "fifo.csv")
    result = _invoke([*base, "--mapping", str(fifo_map), "--run-dir", str(tmp_path / "r2")])
    assert result.exit_code == 2, result.output
    assert f"--mapping {fifo_map}: a FIFO" in result.output or "FIFO" in result.output
    assert "Traceback" not in result.output


def test_score_files_on_a_fifo_says_what_it_is(tmp_path: Path):
    fifo = _fifo(tmp_path / "clip.mp4")
    result = _invoke(["score-files", "video_quality", "--smoke", str(fifo)])
    assert result.exit_code == 1, result.output
    assert f"{fifo}: is a FIFO (named pipe), not a regular file" in result.output
    assert "no such file" not in result.output


@pytest.mark.parametrize("option", ["--config", "--ids"])
def test_run_config_or_ids_file_that_is_a_fifo_is_refused(tmp_path: Path, option: str):
    fifo = _fifo(tmp_path / "named.yaml")
    result = _invoke(["run", "versebench", "--preset", "smoke", "--run-dir", str(tmp_path / "run"),
                      "--dry-run", option, str(fifo)])  # fmt: skip
    assert not isinstance(result.exception, TimeoutError), f"{option} blocked on the FIFO"
    assert result.exit_code in (1, 2), result.output
    assert "FIFO" in result.output and str(fifo) in result.output


def test_validate_a_fifo_submission_is_an_error_not_a_hang(tmp_path: Path):
    fifo = _fifo(tmp_path / "sub.zip")
    result = _invoke(["validate", str(fifo)])
    assert result.exit_code != 0 and "FIFO" in result.output, result.output


def test_readers_of_run_files_refuse_special_files(tmp_path: Path):
    from nava_eval.rundir.files import read_jsonl, sha256_file
    from nava_eval.rundir.run_file import load_run_file
    from nava_eval.rundir.schema import SchemaError
    from nava_eval.user_files import NotARegularFile

    fifo = _fifo(tmp_path / "x.jsonl")
    with pytest.raises(NotARegularFile, match="FIFO"):
        read_jsonl(fifo)
    with pytest.raises(NotARegularFile, match="FIFO"):
        sha256_file(fifo)
    _fifo(tmp_path / "run" / "run.json")
    with pytest.raises(SchemaError, match="FIFO"):
        load_run_file(tmp_path / "run")


def test_benchmark_media_checks_name_a_fifo_instead_of_calling_it_missing(tmp_path: Path):
    from nava_eval.benchmarks.validate import image_problem, wav_problem

    image, wav = _fifo(tmp_path / "a.png"), _fifo(tmp_path / "a.wav")
    assert "FIFO" in image_problem(image).message and "FIFO" in wav_problem(wav).message
    assert image_problem(tmp_path / "gone.png").message == "missing image"


def test_a_benchmark_image_that_is_a_fifo_is_refused_at_load_naming_it(tmp_path: Path):
    from nava_eval.benchmarks.base import SampleSelection, get_benchmark
    from nava_eval.benchmarks.errors import BadInputError
    from nava_eval.runners.run import _smoke_data

    data = _smoke_data(tmp_path / "run", "versebench")
    benchmark = get_benchmark("versebench")
    sample = next(s for s in benchmark.load(data, SampleSelection()) if s.image is not None)
    sample.image.unlink()
    _fifo(sample.image)
    with pytest.raises(BadInputError, match="FIFO"):
        benchmark.load(data, SampleSelection())
