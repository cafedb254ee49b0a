"""Problem formatting, id checks and the stable id order."""

from __future__ import annotations

from pathlib import Path

from nava_eval.benchmarks.errors import BadInputError, LoadReport, Problem, check_sample_id, natural_id_key


def test_problem_and_error_messages():
    one = Problem(Path("/d/set1.jsonl"), "missing", 7, "prompt")
    two = Problem(Path("/d/a.jpg"), "missing image")
    assert str(one) == "/d/set1.jsonl:7: field 'prompt': missing"
    assert str(two) == "/d/a.jpg: missing image"
    err = BadInputError([one, two], hint="fix them")
    assert (
        str(err) == "2 problem(s) in the benchmark input:\n  " + str(one) + "\n  " + str(two) + "\nfix them"
    )
    assert err.problems == (one, two)


def test_load_report_lines():
    report = LoadReport("seedtts", loaded=3, skipped=(Problem(Path("/m.lst"), "empty", 2, "utt"),))
    assert not report.ok
    assert report.lines() == [
        "seedtts: loaded 3 sample(s), skipped 1",
        "  skipped /m.lst:2: field 'utt': empty",
    ]


def test_ids_and_order():
    assert check_sample_id("01000", Path("f"), 1, "id") is None
    assert check_sample_id("common_voice_en-1.2", Path("f"), 1, "id") is None
    for bad in ("a/b", "..", ".hidden", "", "a b"):
        assert check_sample_id(bad, Path("f"), 1, "id") is not None
    ids = ["b", "1000", "300", "01000", "a", "00001"]
    assert sorted(ids, key=natural_id_key) == ["00001", "300", "01000", "1000", "a", "b"]


def test_ids_are_full_matched_and_bounded():
    from pathlib import Path

    from nava_eval.benchmarks.errors import MAX_ID_LENGTH, check_sample_id

    source = Path("prompts.jsonl")
    assert check_sample_id("a" * MAX_ID_LENGTH, source, 1, "id") is None
    assert check_sample_id("x-1.take_2+b", source, 1, "id") is None
    for bad in ("a" * 300, "abc\n", "abc\r", "\nabc", "a/b", "..", ".hidden", "", "ab c", "é"):
        problem = check_sample_id(bad, source, 3, "id")
        assert problem is not None, repr(bad)
    long = check_sample_id("a" * 300, source, 3, "id")
    assert f"at most {MAX_ID_LENGTH}" in str(long) and "prompts.jsonl" in str(long)


def test_user_prompt_ids_with_a_newline_or_too_long_are_refused(tmp_path):
    import json

    import pytest

    from nava_eval.benchmarks.errors import BadInputError
    from nava_eval.benchmarks.user_jsonl import UserPromptSet

    path = tmp_path / "p.jsonl"
    lines = [{"id": "ok", "prompt": "a"}, {"id": "two\n", "prompt": "b"}, {"id": "x" * 300, "prompt": "c"}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with pytest.raises(BadInputError) as err:
        UserPromptSet(path).load(None)
    assert f"{path}:2" in str(err.value) and f"{path}:3" in str(err.value)
