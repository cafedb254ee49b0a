"""A full disk (ENOSPC, EDQUOT), a file too large (EFBIG) or a read-only run folder (EROFS): a clear error
naming the path and what to do, and nothing half-written left behind. Simulated: root ignores chmod."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from nava_eval.rundir import files as files_mod
from nava_eval.rundir.files import WriteFailed, append_jsonl, atomic_write_json, atomic_write_text


def _failing_write(monkeypatch: pytest.MonkeyPatch, code: int, after: int = 5) -> None:
    """os.write takes `after` bytes, then the disk refuses."""
    real = os.write
    state = {"left": after}

    def write(fd, data):
        if state["left"] <= 0:
            raise OSError(code, os.strerror(code))
        n = min(len(data), state["left"])
        state["left"] -= n
        return real(fd, bytes(data[:n]))

    monkeypatch.setattr(files_mod.os, "write", write)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_an_append_the_disk_refuses_is_cut_back_and_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
):
    log = tmp_path / "scores" / "m.jsonl"
    append_jsonl(log, {"id": "a"})
    before = log.read_bytes()
    _failing_write(monkeypatch, code)
    with pytest.raises(WriteFailed) as err:
        append_jsonl(log, {"id": "b", "pad": "x" * 100})
    assert str(log) in str(err.value) and "nothing half-written" in str(err.value)
    assert err.value.errno == code
    assert log.read_bytes() == before  # the partial line was cut back


def test_an_atomic_write_on_a_full_disk_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    target = tmp_path / "results.json"
    atomic_write_json(target, {"v": 1})
    real_write_bytes = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        real_write_bytes(self, data[:3])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(WriteFailed, match=r"cannot write .*results\.json: no space left on the device"):
        atomic_write_text(target, "{}")
    monkeypatch.undo()
    assert target.read_text() == '{\n  "v": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def _read_only_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    from nava_eval.rundir import lock

    real = lock.os.open

    def open_(path, flags, *args):
        if str(path).endswith(".lock") and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, flags, *args)

    monkeypatch.setattr(lock.os, "open", open_)


def test_a_read_only_run_folder_is_named_with_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from nava_eval.rundir.lock import run_lock

    _read_only_lock(monkeypatch)
    with pytest.raises(WriteFailed, match=r"\.lock: the file system is read-only; use a --run-dir"):
        with run_lock(tmp_path / "run", "test"):
            pass


def test_derived_json_views_write_null_for_a_non_finite_number():
    import json
    import math

    from nava_eval.rundir.files import finite_or_null

    data = {"a": [1.0, math.nan, {"b": math.inf}], "c": (-math.inf, 2), "d": "nan"}
    assert json.dumps(finite_or_null(data), allow_nan=False) == (
        '{"a": [1.0, null, {"b": null}], "c": [null, 2], "d": "nan"}'
    )
