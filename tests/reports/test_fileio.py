import json
import os
import subprocess
import sys
import textwrap

import pytest

from nava_eval.reports.fileio import (
    append_jsonl,
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    read_jsonl,
    sha256_file,
)


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "results.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2, "b": [1, 2]})
    assert json.loads(target.read_text()) == {"a": 2, "b": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_interrupted_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "results.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half of the new conte")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_killed_process_never_leaves_partial_target(tmp_path):
    # A child writes a large file through atomic_path and is SIGKILLed while writing.
    target = tmp_path / "big.bin"
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from nava_eval.reports.fileio import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(b"x" * 1024)
                fh.flush()
                print("writing", flush=True)
                time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=os.getcwd())
    assert child.stdout.readline().strip() == b"writing"
    child.kill()
    child.wait(timeout=10)
    assert not target.exists()


def test_append_jsonl_and_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "samples.jsonl"
    append_jsonl(path, {"id": "a", "n": 1})
    append_jsonl(path, {"id": "b", "n": 2})
    with open(path, "ab") as fh:  # what a crash mid-append could leave
        fh.write(b'{"id": "c", "n"')
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]


def test_corrupt_middle_line_names_file_and_line(tmp_path):
    path = tmp_path / "scores.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(ValueError, match=r"scores.jsonl:2"):
        read_jsonl(path)


def test_sha256_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
