"""The score stage's cache and coverage, and results aggregation, with a counting test metric."""

from __future__ import annotations

import numpy as np
import pytest

from nava_eval.benchmarks.base import Sample
from nava_eval.metrics.base import MetricField, ScoreOutcome
from nava_eval.reports.aggregate import PlannedSample, aggregate_metric
from nava_eval.reports.stats import bootstrap_ci
from nava_eval.rundir.files import append_jsonl, sha256_file
from nava_eval.rundir.layout import RunDir
from nava_eval.rundir.records import SampleRecord, latest_by_id, load_score_records
from nava_eval.rundir.schema import to_dict
from nava_eval.runners.score import score_metric


class LengthMetric:
    """value = file length; 'silent' outputs are skipped, 'corrupt' ones fail."""

    name = "length"
    protocol = "length/test-v1"
    fields = (MetricField("length", "higher"), MetricField("half", "lower"))
    requires = frozenset({"audio"})
    description = "test"

    def __init__(self):
        self.scored: list[str] = []
        self.setups = 0

    def setup(self, device="cpu"):
        self.setups += 1

    def score_batch(self, items):
        out = []
        for item in items:
            self.scored.append(item.id)
            text = item.output.read_text()
            if text == "silent":
                out.append(ScoreOutcome.skipped("silent audio"))
            elif text == "corrupt":
                out.append(ScoreOutcome.failed("cannot decode"))
            else:
                out.append(ScoreOutcome.ok(length=len(text), half=len(text) / 2))
        return out


def _run(tmp_path, contents: dict[str, str]):
    run_dir = RunDir(tmp_path)
    samples = [Sample(id=i, set="a" if n % 2 else "b", prompt="p") for n, i in enumerate(contents)]
    for sample in samples:
        path = tmp_path / f"outputs/{sample.set}/{sample.id}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(contents[sample.id])
        rec = SampleRecord(
            id=sample.id,
            set=sample.set,
            status="done",
            output=str(path.relative_to(tmp_path)),
            output_sha256=sha256_file(path),
        )
        append_jsonl(run_dir.samples, to_dict(rec))
    return run_dir, samples


def test_cache_skips_scored_and_rescoring_follows_sha(tmp_path):
    run_dir, samples = _run(tmp_path, {"x": "aaa", "y": "bbbbb", "z": "silent", "w": "corrupt"})
    metric = LengthMetric()
    records = latest_by_id(run_dir.all_records())
    summary = score_metric(run_dir, samples, records, metric, batch_size=3, progress=False)
    assert (summary.scored, summary.skipped, summary.failed, summary.cached) == (2, 1, 1, 0)
    assert metric.setups == 1
    again_metric = LengthMetric()
    again = score_metric(run_dir, samples, records, again_metric, progress=False)
    # ok and skipped-by-rule results are reused; the failure is tried again.
    assert (again.scored, again.cached, again.failed) == (0, 3, 1) and again_metric.scored == ["w"]

    # Regenerate y: only y is scored again.
    (tmp_path / "outputs/a/y.txt").write_text("cc")
    path = tmp_path / "outputs/a/y.txt"
    append_jsonl(
        run_dir.samples,
        to_dict(
            SampleRecord(
                id="y", set="a", status="done", output="outputs/a/y.txt", output_sha256=sha256_file(path)
            )
        ),
    )
    metric3 = LengthMetric()
    score_metric(run_dir, samples, latest_by_id(run_dir.all_records()), metric3, progress=False)
    assert metric3.scored == ["y", "w"]  # y's new bytes, and w's failure once more
    scores = latest_by_id(load_score_records(run_dir.scores("length")))
    assert scores["y"].value == 2 and scores["y"].values["half"] == 1.0
    assert (
        scores["z"].status == "skipped" and scores["z"].reason == "silent audio" and scores["z"].value is None
    )


def test_not_generated_samples_are_listed_not_scored(tmp_path):
    run_dir, samples = _run(tmp_path, {"x": "aaa"})
    extra = Sample(id="never", set="a", prompt="p")
    summary = score_metric(
        run_dir, [*samples, extra], latest_by_id(run_dir.all_records()), LengthMetric(), progress=False
    )
    assert summary.not_generated == ["never"] and summary.scored == 1


def test_aggregate_counts_coverage_and_ci(tmp_path):
    contents = {f"s{i}": "a" * (i + 1) for i in range(6)} | {"z": "silent", "w": "corrupt"}
    run_dir, samples = _run(tmp_path, contents)
    records = latest_by_id(run_dir.all_records())
    score_metric(run_dir, samples, records, LengthMetric(), progress=False)
    planned = [PlannedSample(s.id, s.set, records[s.id].output_sha256) for s in samples]
    planned.append(PlannedSample("ghost", "a", None))
    fields = LengthMetric.fields
    out = aggregate_metric(run_dir.scores("length"), "length", fields, planned, "per-item mean")
    length = out["length"]
    values = [1, 2, 3, 4, 5, 6]
    assert length.value == pytest.approx(np.mean(values)) and length.n == 6
    assert (length.n_skipped, length.n_failed, length.n_missing) == (1, 1, 1)
    assert length.ci95 == pytest.approx(list(bootstrap_ci(values, 0, 1000)))
    assert length.direction == "higher" and out["half"].direction == "lower"
    assert length.per_set["b"].value == pytest.approx(np.mean([1, 3, 5]))
    per_set = aggregate_metric(run_dir.scores("length"), "length", fields, planned, "mean of per-set means")
    assert per_set["length"].value == pytest.approx((np.mean([1, 3, 5]) + np.mean([2, 4, 6])) / 2)


def test_mixed_protocols_are_refused(tmp_path):
    run_dir, samples = _run(tmp_path, {"x": "aaa", "y": "bb"})
    records = latest_by_id(run_dir.all_records())
    score_metric(run_dir, samples[:1], records, LengthMetric(), progress=False)
    other = LengthMetric()
    other.protocol = "length/test-v2"
    score_metric(run_dir, samples[1:], records, other, progress=False)
    planned = [PlannedSample(s.id, s.set, records[s.id].output_sha256) for s in samples]
    with pytest.raises(ValueError, match="different protocols are mixed"):
        aggregate_metric(run_dir.scores("length"), "length", LengthMetric.fields, planned, "per-item mean")


def test_failed_scores_are_retried_and_a_success_replaces_them(tmp_path):
    run_dir, samples = _run(tmp_path, {"x": "aaa", "w": "corrupt"})
    records = latest_by_id(run_dir.all_records())
    assert score_metric(run_dir, samples, records, LengthMetric(), progress=False).failed == 1

    class Repaired(LengthMetric):  # e.g. a scorer bug fixed, or a transient I/O error gone
        def score_batch(self, items):
            self.scored.extend(i.id for i in items)
            return [ScoreOutcome.ok(length=7, half=3.5) for _ in items]

    metric = Repaired()
    summary = score_metric(run_dir, samples, records, metric, progress=False)
    assert metric.scored == ["w"] and (summary.scored, summary.cached, summary.failed) == (1, 1, 0)
    assert latest_by_id(load_score_records(run_dir.scores("length")))["w"].status == "ok"


def test_a_replaced_output_is_never_scored_under_its_old_hash(tmp_path):
    run_dir, samples = _run(tmp_path, {"x": "aaa", "y": "bbbbb"})
    records = latest_by_id(run_dir.all_records())
    score_metric(run_dir, samples, records, LengthMetric(), progress=False)
    old_sha = records["y"].output_sha256
    (tmp_path / "outputs/a/y.txt").write_text("replaced by hand")  # samples.jsonl still names the old bytes

    metric = LengthMetric()
    summary = score_metric(run_dir, samples, records, metric, progress=False)
    assert summary.changed == ["y"] and summary.cached == 1 and metric.scored == []

    run_dir.scores("length").unlink()  # a cold cache: the new bytes must not be filed under the old hash
    metric = LengthMetric()
    summary = score_metric(run_dir, samples, records, metric, progress=False)
    assert metric.scored == ["x"] and summary.changed == ["y"]
    assert all(r.id != "y" for r in load_score_records(run_dir.scores("length")))
    assert old_sha != sha256_file(tmp_path / "outputs/a/y.txt")


def test_a_missing_output_is_listed_not_scored_as_a_failure(tmp_path):
    run_dir, samples = _run(tmp_path, {"x": "aaa", "y": "bb"})
    (tmp_path / "outputs/a/y.txt").unlink()
    summary = score_metric(
        run_dir, samples, latest_by_id(run_dir.all_records()), LengthMetric(), progress=False
    )
    assert summary.changed == ["y"] and summary.failed == 0 and summary.scored == 1


def test_aggregate_counts_a_changed_output_as_missing(tmp_path):
    from nava_eval.rundir.layout import planned_samples

    run_dir, samples = _run(tmp_path, {"x": "aaa", "y": "bbbbb"})
    records = latest_by_id(run_dir.all_records())
    score_metric(run_dir, samples, records, LengthMetric(), progress=False)
    (tmp_path / "outputs/a/y.txt").write_text("other bytes")
    planned = planned_samples(run_dir, samples, records)
    assert [p.output_sha256 is None for p in planned] == [False, True]
    out = aggregate_metric(run_dir.scores("length"), "length", LengthMetric.fields, planned, "per-item mean")
    assert out["length"].n == 1 and out["length"].n_missing == 1 and out["length"].value == 3


def test_a_non_finite_score_is_a_failure_and_never_written_as_nan(tmp_path):
    import json

    class NanMetric(LengthMetric):
        def score_batch(self, items):
            return [
                ScoreOutcome.ok(length=float("nan"), half=1.0, curve=[1.0, float("inf")])
                if i.id == "x"
                else ScoreOutcome.ok(length=2.0, half=1.0, curve=[float("nan")])
                for i in items
            ]

    run_dir, samples = _run(tmp_path, {"x": "aaa", "y": "bb"})
    summary = score_metric(run_dir, samples, latest_by_id(run_dir.all_records()), NanMetric(), progress=False)
    assert (summary.scored, summary.failed) == (1, 1)
    text = run_dir.scores("length").read_text()
    assert "NaN" not in text and "Infinity" not in text
    lines = {r["id"]: r for r in map(json.loads, text.splitlines())}
    assert (
        lines["x"]["status"] == "failed"
        and "length" in lines["x"]["reason"]
        and "finite" in lines["x"]["reason"]
    )
    assert lines["y"]["status"] == "ok" and lines["y"]["values"]["curve"] == [None]


class ReferenceMetric(LengthMetric):
    """Records the sha256 of the reference (ground-truth) file it compared the output with."""

    name = "refcmp"
    protocol = "refcmp/test-v1"

    def score_batch(self, items):
        self.scored += [i.id for i in items]
        return [ScoreOutcome.ok(length=1, reference_sha256=sha256_file(i.reference_audio)) for i in items]


def test_a_changed_reference_file_is_scored_again(tmp_path):
    run_dir, samples = _run(tmp_path, {"x": "aaa", "y": "bbb"})
    gt = {s.id: tmp_path / f"gt_{s.id}.wav" for s in samples}
    for path in gt.values():
        path.write_text("ground truth")
    samples = [Sample(id=s.id, set=s.set, prompt="p", ground_truth_audio=gt[s.id]) for s in samples]
    records = latest_by_id(run_dir.all_records())
    score_metric(run_dir, samples, records, ReferenceMetric(), progress=False)
    gt["x"].write_text("another ground truth")
    again = ReferenceMetric()
    summary = score_metric(run_dir, samples, records, again, progress=False)
    assert again.scored == ["x"] and summary.cached == 1


class FakeSyncPass:
    """The real sync pass's name, protocol and fields; values from the file (no video decoding)."""

    name = "sync"
    requires = frozenset({"video", "audio"})
    description = "test"

    def __init__(self):
        from nava_eval.metrics.sync import PROTOCOL, SyncNetMetric

        self.protocol, self.fields, self.scored = PROTOCOL, SyncNetMetric.fields, []

    def setup(self, device="cpu"):
        pass

    def score_batch(self, items):
        self.scored += [item.id for item in items]
        return [
            ScoreOutcome.ok(sync_c=1.0, sync_d=9.0, sync_c_mova=len(item.output.read_text()), sync_d_mova=8.0)
            for item in items
        ]


def test_sync_v1_caches_are_rescored_once_and_never_mixed(tmp_path):
    """Scores of the v1 pass lack MOVA's fields: the new pass id rescores them, then caches its own."""
    from nava_eval.benchmarks.versebench import VerseBench
    from nava_eval.rundir.records import ScoreRecord

    run_dir, samples = _run(tmp_path, {"x": "aaa", "y": "bbbbb"})
    records = latest_by_id(run_dir.all_records())
    for s in samples:  # what the v1 pass wrote
        v1 = ScoreRecord(
            id=s.id, set=s.set, metric="sync", protocol="sync/syncnet-lse-v1", status="ok",
            output_sha256=records[s.id].output_sha256, value=2.0, values={"sync_c": 2.0, "sync_d": 7.0},
        )  # fmt: skip
        append_jsonl(run_dir.scores("sync"), to_dict(v1))
    metric = FakeSyncPass()
    summary = score_metric(run_dir, samples, records, metric, progress=False)
    assert (summary.scored, summary.cached) == (2, 0) and metric.scored == ["x", "y"]
    again = FakeSyncPass()
    assert score_metric(run_dir, samples, records, again, progress=False).cached == 2 and again.scored == []
    planned = [PlannedSample(s.id, s.set, records[s.id].output_sha256) for s in samples]
    out = aggregate_metric(run_dir.scores("sync"), "sync", metric.fields, planned, "per-item mean")
    assert out["sync_c"].protocol == "sync/syncnet-lse-v1" and out["sync_c"].value == 1.0
    assert out["sync_c_mova"].protocol == "sync/mova-lse-v1" and out["sync_c_mova"].value == 4.0
    assert out["sync_c_mova"].quantity == "sync_c"
    # VerseBench counts MOVA's fields on set3 only: outside it the samples are not in the population
    rules = VerseBench.field_rules
    vb = aggregate_metric(
        run_dir.scores("sync"), "sync", metric.fields, planned, "per-item mean", rules=rules
    )
    assert (
        vb["sync_c_mova"].n == 0 and vb["sync_c_mova"].n_missing == 0 and vb["sync_c_mova"].sets == ["set3"]
    )
    assert vb["sync_c"].n == 2
