import json
import os
import subprocess
import sys
import textwrap

import pytest

from nava_eval.rundir.files import (
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
        from nava_eval.rundir.files import atomic_path
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


def test_append_after_a_torn_line_cuts_it_back_and_warns(tmp_path, caplog):
    path = tmp_path / "samples.jsonl"
    append_jsonl(path, {"id": "a"})
    with open(path, "ab") as fh:  # a kill mid-append leaves a line without its newline
        fh.write(b'{"id": "b", "n"')
    with caplog.at_level("WARNING"):
        append_jsonl(path, {"id": "c"})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "c"]
    assert path.read_bytes().endswith(b'{"id": "c"}\n')
    assert any(str(path) in r.getMessage() and '{"id": "b", "n"' in r.getMessage() for r in caplog.records)


def test_append_after_a_whole_record_without_newline_keeps_it(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}')  # hand-written files often lack the final newline
    append_jsonl(path, {"id": "c"})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b", "c"]


def test_append_finishes_a_short_write(tmp_path, monkeypatch):
    real_write = os.write

    def short_write(fd, data):  # the kernel may write fewer bytes than asked (signals, full disks)
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(os, "write", short_write)
    path = tmp_path / "scores.jsonl"
    append_jsonl(path, {"id": "a", "value": 1.5, "reason": "x" * 40})
    append_jsonl(path, {"id": "b"})
    assert read_jsonl(path) == [{"id": "a", "value": 1.5, "reason": "x" * 40}, {"id": "b"}]


def test_reader_warns_when_it_drops_a_torn_last_line(tmp_path, caplog):
    path = tmp_path / "scores.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": "b", "va')
    with caplog.at_level("WARNING"):
        assert read_jsonl(path) == [{"id": "a"}]
    assert any(str(path) in r.getMessage() and "torn" in r.getMessage() for r in caplog.records)


def test_non_utf8_and_deeply_nested_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "scores.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": "\xff\xfe"}\n')
    with pytest.raises(ValueError, match=r"scores.jsonl:2: not UTF-8"):
        read_jsonl(path)
    path.write_text('{"id": "a"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ValueError, match=r"scores.jsonl:2: .*nested"):
        read_jsonl(path)


def test_torn_line_longer_than_one_read_block_is_cut_at_the_right_newline(tmp_path):
    path = tmp_path / "scores.jsonl"
    append_jsonl(path, {"id": "a"})
    with open(path, "ab") as fh:
        fh.write(b'{"id": "b", "details": "' + b"x" * 200_000)
    append_jsonl(path, {"id": "c"})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "c"]
