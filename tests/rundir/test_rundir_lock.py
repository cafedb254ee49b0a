"""One writer per run directory: the holder is named, a killed holder's lock is stale, not blocking."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from nava_eval.rundir.lock import LOCK_NAME, LockHolder, RunDirLocked, read_lock, run_lock


def _holding_child(run_dir) -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import time
        from nava_eval.rundir.lock import run_lock
        with run_lock({str(run_dir)!r}, "nava-eval run versebench"):
            print("HELD", flush=True)
            time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert child.stdout.readline().strip() == b"HELD"
    return child


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    child = _holding_child(tmp_path)
    try:
        with pytest.raises(RunDirLocked) as err, run_lock(tmp_path, "nava-eval score"):
            pass
        message = str(err.value)
        assert (
            f"pid {child.pid} on {socket.gethostname()}" in message and "nava-eval run versebench" in message
        )
        assert read_lock(tmp_path).pid == child.pid
    finally:
        child.kill()
        child.wait()


def test_lock_of_a_killed_run_is_stale_and_taken_over(tmp_path, caplog):
    child = _holding_child(tmp_path)
    child.kill()  # kill -9: no chance to release
    child.wait()
    assert read_lock(tmp_path).pid == child.pid  # its name is still in the file
    with caplog.at_level("WARNING"), run_lock(tmp_path, "nava-eval score") as me:
        assert me.pid == os.getpid() and read_lock(tmp_path).pid == os.getpid()
    assert "stale lock" in caplog.text and str(child.pid) in caplog.text
    assert read_lock(tmp_path) is None  # released: emptied


def test_same_process_cannot_hold_one_run_twice(tmp_path):
    with run_lock(tmp_path, "a"), pytest.raises(RunDirLocked), run_lock(tmp_path, "b"):
        pass
    with run_lock(tmp_path, "c"):  # free again afterwards
        pass


def test_without_flock_the_content_decides(tmp_path, monkeypatch):
    import fcntl

    def no_flock(fd, op):
        if op & fcntl.LOCK_UN:
            return
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    live = LockHolder(os.getppid(), socket.gethostname(), "nava-eval run x", "2026-01-01T00:00:00+00:00")
    (tmp_path / LOCK_NAME).write_text(json.dumps(live.__dict__))
    with pytest.raises(RunDirLocked, match=f"pid {os.getppid()}"), run_lock(tmp_path, "score"):
        pass
    elsewhere = LockHolder(1, "another-host", "nava-eval run x", "2026-01-01T00:00:00+00:00")
    (tmp_path / LOCK_NAME).write_text(json.dumps(elsewhere.__dict__))
    with pytest.raises(RunDirLocked, match="another host"), run_lock(tmp_path, "score"):
        pass
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = LockHolder(dead.pid, socket.gethostname(), "nava-eval run x", "2026-01-01T00:00:00+00:00")
    (tmp_path / LOCK_NAME).write_text(json.dumps(gone.__dict__))
    with run_lock(tmp_path, "score") as me:
        assert me.pid == os.getpid()


def test_score_command_refuses_a_locked_run(tmp_path):
    from nava_eval.runners.cli.main import cli

    child = _holding_child(tmp_path)
    try:
        result = CliRunner().invoke(cli, ["score", str(tmp_path)])
        assert result.exit_code == 1 and f"pid {child.pid}" in result.output and "in use by" in result.output
    finally:
        child.kill()
        child.wait()


def test_the_lock_holder_removes_what_killed_writers_left(tmp_path, caplog):
    from nava_eval.rundir.lock import command_lock

    out = tmp_path / "outputs/set3"
    out.mkdir(parents=True)
    keep = [out / "300.mp4", tmp_path / ".file-identity.json", tmp_path / "samples.shard-dp1.jsonl"]
    leftovers = [
        out / ".300.mp4.k3x9_a2b.mp4.tmp",  # reports.fileio.atomic_path
        out / "..300.mp4.k3x9_a2b.mp4.tmp.q8w1e2r3.npz",  # nava.media.IsolatedMediaWriter's arrays
        tmp_path / ".results.json.ab12cd34.json.tmp",
        tmp_path / ".ranks/rank3.txt",  # heartbeat of a rank of an earlier run
    ]
    for path in keep + leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    with caplog.at_level("WARNING"), command_lock(tmp_path, "nava-eval run"):
        assert [p for p in leftovers if p.exists()] == []
        assert all(p.exists() for p in keep)
    assert "4 leftover" in caplog.text
