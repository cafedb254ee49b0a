import dataclasses
import json

import pytest

from nava_eval.rundir.export_schemas import SCHEMA_DIR, all_schema_classes
from nava_eval.rundir.files import append_jsonl
from nava_eval.rundir.records import (
    MetricResult,
    Provenance,
    Results,
    SampleRecord,
    ScoreRecord,
    SetResult,
    latest_by_id,
    load_results,
    load_sample_records,
    load_score_records,
    write_results,
)
from nava_eval.rundir.schema import SchemaError, dataclass_schema, to_dict


def _results() -> Results:
    prov = Provenance(
        nava_eval_version="0.1.0",
        git_sha="abc",
        git_dirty=False,
        python="3.11.7",
        torch="2.14.1",
        cuda=None,
        gpus=[],
        hostname="h",
        platform="linux",
        started_at="2026-11-25T00:00:00+00:00",
    )
    metric = MetricResult(
        name="sync_c",
        protocol="sync/syncnet-lse-v1",
        direction="higher",
        value=7.5,
        n=10,
        n_skipped=1,
        ci95=[7.1, 7.9],
        per_set={"set1": SetResult(value=7.4, n=6), "set3": SetResult(value=7.65, n=4)},
    )
    return Results(
        run_name="r", benchmark="versebench", model="nava-6b", metrics={"sync_c": metric}, provenance=prov
    )


def test_results_round_trip(tmp_path):
    res = _results()
    write_results(tmp_path / "results.json", res)
    assert load_results(tmp_path) == res
    assert load_results(tmp_path / "results.json").metrics["sync_c"].per_set["set3"].value == 7.65


def test_malformed_results_names_file_and_field(tmp_path):
    data = to_dict(_results())
    data["metrics"]["sync_c"]["direction"] = "up"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SchemaError) as err:
        load_results(path)
    message = str(err.value)
    assert str(path) in message and "$.metrics.sync_c.direction" in message and "'up'" in message


def test_missing_field_and_not_json(tmp_path):
    data = to_dict(_results())
    del data["benchmark"]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SchemaError, match="'benchmark' is a required property"):
        load_results(path)
    path.write_text("{broken")
    with pytest.raises(SchemaError, match="not valid JSON at line 1"):
        load_results(path)


def test_newer_schema_is_refused_with_both_versions(tmp_path):
    data = to_dict(_results())
    data["schema"] = "nava-eval/results/v7"
    (tmp_path / "results.json").write_text(json.dumps(data))
    with pytest.raises(SchemaError, match=r"nava-eval/results/v7.*newer.*nava-eval/results/v1"):
        load_results(tmp_path)


def test_jsonl_records_validate_per_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    append_jsonl(path, to_dict(SampleRecord(id="a", set="set1", status="failed", error="boom")))
    append_jsonl(path, to_dict(SampleRecord(id="a", set="set1", status="done", output="outputs/set1/a.mp4")))
    records = load_sample_records(path)
    assert latest_by_id(records)["a"].status == "done"
    append_jsonl(path, {"id": "b", "set": "set1", "status": "finished"})
    with pytest.raises(SchemaError, match=r"samples.jsonl:3: at \$.status"):
        load_sample_records(path)
    scores = tmp_path / "scores.jsonl"
    rec = ScoreRecord(
        id="a", set="set1", metric="sync", protocol="p", status="ok", value=1.0, values={"sync_c": 1.0}
    )
    append_jsonl(scores, to_dict(rec))
    assert load_score_records(scores) == [rec]


def test_shipped_schema_files_are_current():
    for name, cls in all_schema_classes().items():
        shipped = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert shipped == dataclass_schema(cls), (
            f"nava_eval/rundir/schemas/{name}.schema.json is stale: python -m nava_eval.rundir.export_schemas"
        )


def test_results_dataclasses_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        _results().run_name = "x"


def test_unreadable_results_and_run_files_name_the_file(tmp_path):
    from nava_eval.rundir.run_file import load_run_file

    path = tmp_path / "results.json"
    path.write_bytes(b'{"run_name": "\xff"}')
    with pytest.raises(SchemaError, match=rf"{path}: not UTF-8"):
        load_results(path)
    path.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(SchemaError, match=rf"{path}: JSON nested too deeply"):
        load_results(path)
    (tmp_path / "run.json").write_bytes(b"\xfe\xff{}")
    with pytest.raises(SchemaError, match=r"run.json: not UTF-8"):
        load_run_file(tmp_path)
