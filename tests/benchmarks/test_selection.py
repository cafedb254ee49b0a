"""`--ids FILE` reading and the unknown-id guard of the loaders."""

from __future__ import annotations

import pytest

from nava_eval.benchmarks.base import SampleSelection
from nava_eval.benchmarks.errors import BadInputError
from nava_eval.benchmarks.seedtts import SeedTTSEval
from nava_eval.benchmarks.selection import read_ids_file
from nava_eval.benchmarks.smoke import write_smoke_dataset
from nava_eval.benchmarks.user_jsonl import UserPromptSet
from nava_eval.benchmarks.versebench import VerseBench


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("NAVA_EVAL_HOME", str(tmp_path_factory.mktemp("home")))


def test_read_ids_file(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("# a comment\n01000\n\n  300  # trailing comment\n01000\n", encoding="utf-8")
    assert read_ids_file(path) == frozenset({"01000", "300"})
    path.write_text("ok\nbad/id\n\nalso bad\n", encoding="utf-8")
    with pytest.raises(BadInputError) as info:
        read_ids_file(path)
    assert [p.line for p in info.value.problems] == [2, 4]
    path.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="no ids"):
        read_ids_file(path)
    with pytest.raises(BadInputError, match="ids file not found"):
        read_ids_file(tmp_path / "none.txt")


def test_ids_file_drives_a_deterministic_subset(tmp_path):
    paths = write_smoke_dataset(tmp_path / "smoke")
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("01001\n00000\n", encoding="utf-8")
    chosen = VerseBench().load(paths.versebench, SampleSelection(ids=read_ids_file(ids_file)))
    assert [s.id for s in chosen] == ["00000", "01001"]  # benchmark order, not file order


def test_unknown_ids_are_an_error_not_a_smaller_run(tmp_path):
    paths = write_smoke_dataset(tmp_path / "smoke")
    with pytest.raises(ValueError, match="versebench set1/set2/set3 does not have: 9999"):
        VerseBench().load(paths.versebench, SampleSelection(ids=frozenset({"00000", "9999"})))
    with pytest.raises(ValueError, match="seedtts en does not have: smoke_zh_0001"):
        SeedTTSEval().load(paths.seedtts, SampleSelection(sets=("en",), ids=frozenset({"smoke_zh_0001"})))
    with pytest.raises(ValueError, match="does not have: nope"):
        UserPromptSet(paths.user_prompts).load(None, SampleSelection(ids=frozenset({"talk", "nope"})))
