"""Score shards are read by the one repairing JSONL reader (nava_eval.rundir.files.read_jsonl)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from nava_eval.rundir.layout import RunDir
from nava_eval.runners.score_parallel import fold_all_shards, fold_score_shards


def _line(item: str, note: str = "ok") -> str:
    return json.dumps({"id": item, "note": note}, sort_keys=True, ensure_ascii=False)


def test_a_shard_torn_inside_a_multibyte_character_is_cut_with_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    run_dir = RunDir(tmp_path)
    run_dir.score_shards_dir.mkdir(parents=True)
    shard = run_dir.score_shards_dir / "m.rank0.jsonl"
    torn = _line("b", "déjà vu 音").encode("utf-8")
    cut = torn.index("音".encode()) + 1  # inside the 3-byte character
    shard.write_bytes(f"{_line('a', 'naïve')}\n".encode() + torn[:cut])
    with caplog.at_level(logging.WARNING):
        added = fold_all_shards(run_dir)
    assert added == 1
    assert run_dir.scores("m").read_text(encoding="utf-8") == _line("a", "naïve") + "\n"
    assert str(shard) in caplog.text and "torn" in caplog.text
    assert not run_dir.score_shards_dir.exists()


@pytest.mark.parametrize("where", ["shard", "main"])
def test_bad_utf8_in_the_middle_of_a_score_file_names_the_file_and_line(tmp_path: Path, where: str):
    run_dir = RunDir(tmp_path)
    run_dir.score_shards_dir.mkdir(parents=True)
    run_dir.scores_dir.mkdir(exist_ok=True)
    bad = _line("x", "音").encode("utf-8").replace("音".encode(), "音".encode()[:2])
    good = f"{_line('y')}\n".encode()
    shard = run_dir.score_shards_dir / "m.rank1.jsonl"
    main = run_dir.scores("m")
    shard.write_bytes(good)
    main.write_bytes(good)
    target = shard if where == "shard" else main
    target.write_bytes(bad + b"\n" + good)
    with pytest.raises(ValueError, match=rf"{target}:1: not UTF-8") as err:
        fold_score_shards(run_dir, "m")
    assert "fix or delete that line" in str(err.value)
    assert shard.exists()  # nothing folded, nothing lost
