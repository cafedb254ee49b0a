"""Commands on a read-only run folder or a file system that refuses a file's size: exit 1, the path and
what to do, nothing left behind (errors simulated; root ignores chmod)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner


def _read_only_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    from nava_eval.rundir import lock

    real = lock.os.open

    def open_(path, flags, *args):
        if str(path).endswith(".lock") and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, flags, *args)

    monkeypatch.setattr(lock.os, "open", open_)


def test_cli_score_on_a_read_only_run_folder_exits_1_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from media_files import write_clip

    from nava_eval.runners.cli.main import cli
    from nava_eval.runners.importing import ImportRequest, import_outputs

    write_clip(tmp_path / "outs" / "00000.mp4", seed=1)
    run = tmp_path / "run"
    from nava_eval.benchmarks.base import SampleSelection

    import_outputs(
        ImportRequest("versebench", tmp_path / "outs", "M", run_dir=run, preset="smoke",
                      selection=SampleSelection(sets=("set1",)))
    )  # fmt: skip
    _read_only_lock(monkeypatch)
    result = CliRunner().invoke(cli, ["score", str(run), "--metrics", "video_quality", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert f"{run}/.lock" in result.output and "read-only" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_import_copy_onto_a_file_system_that_refuses_the_size_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import shutil

    from media_files import write_clip

    from nava_eval.runners.cli.main import cli

    write_clip(tmp_path / "outs" / "00000.mp4", seed=1)
    write_clip(tmp_path / "outs" / "00001.mp4", seed=2)
    real = shutil.copyfile

    def too_big(src, dst, *args, **kwargs):
        real(src, dst, *args, **kwargs)
        with open(dst, "r+b") as fh:
            fh.truncate(10)  # what the file system kept before refusing
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(shutil, "copyfile", too_big)
    run = tmp_path / "run"
    result = CliRunner().invoke(
        cli, ["import", "versebench", str(tmp_path / "outs"), "--model", "M", "--preset", "smoke", "--sets",
              "set1", "--copy", "--run-dir", str(run)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output  # import's "nothing imported"
    assert "larger than this file system allows" in result.output and "00000.mp4" in result.output
    assert not run.exists()
