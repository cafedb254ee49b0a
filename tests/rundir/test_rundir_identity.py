"""The on-disk identity check: stat gate kept in a sidecar, sha256 when anything changed."""

from __future__ import annotations

import os
import time

from nava_eval.rundir import identity as file_identity
from nava_eval.rundir.files import sha256_file
from nava_eval.rundir.identity import FileIdentityIndex


def _old_file(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    past = time.time_ns() - 60_000_000_000  # a minute old: outside the racy window
    os.utime(path, ns=(past, past))
    return path


def test_unchanged_files_are_hashed_once_across_instances(tmp_path):
    out = _old_file(tmp_path / "outputs/a.mp4", "frames")
    index = FileIdentityIndex(tmp_path, tmp_path / ".file-identity.json")
    assert index.sha256(out) == sha256_file(out) and index.hashed == 1
    assert index.sha256(out) == sha256_file(out) and index.hashed == 1
    index.save()
    again = FileIdentityIndex(tmp_path, tmp_path / ".file-identity.json")
    assert again.sha256(out) == sha256_file(out) and again.hashed == 0  # the sidecar's gate held


def test_a_same_size_edit_with_the_mtime_put_back_is_still_seen(tmp_path):
    out = _old_file(tmp_path / "outputs/a.mp4", "frames")
    stat = out.stat()
    index = FileIdentityIndex(tmp_path, tmp_path / ".file-identity.json")
    first = index.sha256(out)
    index.save()
    out.write_text("FRAMES")  # same size
    os.utime(out, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # what `cp -p` or `touch -r` does
    again = FileIdentityIndex(tmp_path, tmp_path / ".file-identity.json")
    assert again.sha256(out) == sha256_file(out) != first and again.hashed == 1


def test_a_file_hashed_right_after_its_write_is_hashed_again(tmp_path):
    out = tmp_path / "outputs/a.mp4"
    out.parent.mkdir()
    out.write_text("fresh")
    index = FileIdentityIndex(tmp_path, tmp_path / ".file-identity.json")
    index.sha256(out)
    index.sha256(out)
    assert index.hashed == 2  # within the racy window the stat gate proves nothing


def test_missing_file_and_unreadable_sidecar(tmp_path, caplog):
    sidecar = tmp_path / ".file-identity.json"
    sidecar.write_bytes(b"\xff not json")
    with caplog.at_level("WARNING"):
        index = FileIdentityIndex(tmp_path, sidecar)
    assert "hashing every file again" in caplog.text
    assert index.sha256(tmp_path / "nope.mp4") is None
    assert not index.matches(tmp_path / "nope.mp4", "0" * 64)
    assert file_identity.INDEX_SCHEMA.startswith("nava-eval/")
