"""results.json aggregation per field: its own protocol and quantity, the benchmark's population rule, set-level statistics."""

from __future__ import annotations

import numpy as np
import pytest

from nava_eval.benchmarks.base import FieldRule, field_rule
from nava_eval.metrics.base import MetricField
from nava_eval.metrics.frechet import embedding_set_fd, frechet_distance
from nava_eval.reports.aggregate import SET_STATISTIC, PlannedSample, aggregate_metric
from nava_eval.reports.stats import (
    bootstrap_ci,
    bootstrap_ci_grouped,
    bootstrap_ci_statistic,
    mean_of_set_means,
)
from nava_eval.rundir.files import append_jsonl
from nava_eval.rundir.records import ScoreRecord
from nava_eval.rundir.schema import to_dict

PASS = "lip/test-pass-v1"
FIELDS = (
    MetricField("conf", "higher"),
    MetricField("conf_best", "higher", protocol="lip/best-track-v1", quantity="conf"),
)


def _write(
    path, rows: list[tuple[str, str, dict]], protocol: str = PASS, status: str = "ok"
) -> list[PlannedSample]:
    planned = []
    for sid, set_name, values in rows:
        sha = f"{sid:0>64}"[-64:]
        record = ScoreRecord(id=sid, set=set_name, metric="lip", protocol=protocol, status=status,
                             output_sha256=sha, values=values)  # fmt: skip
        append_jsonl(path, to_dict(record))
        planned.append(PlannedSample(sid, set_name, sha))
    return planned


def test_fields_carry_their_own_protocol_quantity_and_population(tmp_path) -> None:
    path = tmp_path / "lip.jsonl"
    rows = [(f"{s}-{i}", s, {"conf": 1.0 + i + k, "conf_best": 2.0 + i + k})
            for k, s in enumerate(["set1", "set2", "set3"]) for i in range(4)]  # fmt: skip
    planned = _write(path, rows)
    rules = {"conf_best": FieldRule(sets=("set3",))}
    out = aggregate_metric(path, "lip", FIELDS, planned, "per-item mean", rules=rules)

    conf = out["conf"]
    everything = [v["conf"] for _, _, v in rows]
    assert conf.protocol == PASS and conf.measures == "conf" and conf.sets is None
    assert conf.value == pytest.approx(np.mean(everything)) and conf.n == 12

    # MOVA-style: one pass, another protocol, aggregated over set3 only; other sets are not "missing".
    best = out["conf_best"]
    set3 = [v["conf_best"] for _, s, v in rows if s == "set3"]
    assert best.protocol == "lip/best-track-v1" and best.quantity == "conf" and best.sets == ["set3"]
    assert best.value == pytest.approx(np.mean(set3)) and best.n == 4
    assert (best.n_missing, best.n_skipped, best.n_failed) == (0, 0, 0)
    assert list(best.per_set) == ["set3"]
    assert best.ci95 == pytest.approx(list(bootstrap_ci(set3)))


def test_rule_overrides_the_benchmark_aggregation(tmp_path) -> None:
    path = tmp_path / "lip.jsonl"
    rows = [("a-0", "set1", {"conf": 1.0}), ("a-1", "set1", {"conf": 3.0}), ("b-0", "set2", {"conf": 10.0})]
    planned = _write(path, rows)
    rule = FieldRule(aggregation="mean of per-set means")
    out = aggregate_metric(path, "lip", FIELDS[:1], planned, "per-item mean", rules={"conf": rule})
    groups = {"set1": [1.0, 3.0], "set2": [10.0]}
    assert out["conf"].value == pytest.approx(mean_of_set_means(groups)) == pytest.approx(6.0)
    assert out["conf"].aggregation == "mean of per-set means"
    assert out["conf"].ci95 == pytest.approx(list(bootstrap_ci_grouped(groups)))


def test_benchmark_without_rules_pools_every_item() -> None:
    class Plain:
        pass

    class WithRules:
        field_rules = {"sync_c_mova": FieldRule(sets=("set3",))}

    assert field_rule(Plain(), "sync_c") == FieldRule()
    assert field_rule(WithRules(), "sync_c_mova").sets == ("set3",)
    assert field_rule(WithRules(), "sync_c") == FieldRule()


def test_set_level_field_is_one_statistic_with_an_item_bootstrap(tmp_path) -> None:
    fd = MetricField("fd", "lower", kind="set", reducer="nava_eval.metrics.frechet:embedding_set_fd",
                     protocol="fd/test-set-v1")  # fmt: skip
    rng = np.random.default_rng(0)
    gen = rng.normal(size=(30, 5))
    ref = rng.normal(loc=0.5, size=(30, 5))
    rows = [(f"s{i:02d}", "set2", {"embedding": g.tolist(), "reference_embedding": r.tolist()})
            for i, (g, r) in enumerate(zip(gen, ref, strict=True))]  # fmt: skip
    path = tmp_path / "clap.jsonl"
    planned = _write(path, rows)
    planned += _write(path, [("bad", "set2", {})], status="failed")
    planned.append(PlannedSample("never", "set2", None))

    out = aggregate_metric(path, "lip", (fd,), planned, "per-item mean")["fd"]
    assert out.kind == "set" and out.aggregation == SET_STATISTIC
    assert out.value == pytest.approx(frechet_distance(gen, ref))
    assert (out.n, out.n_failed, out.n_missing) == (30, 1, 1)
    items = [v for _, _, v in rows]
    from nava_eval.metrics.frechet import embedding_set_fd

    expected = bootstrap_ci_statistic(items, embedding_set_fd, around=out.value)
    assert out.ci95 == pytest.approx(list(expected))
    # Centred on the estimate (see the next test for why not the percentile interval).
    assert out.ci95[0] < out.value < out.ci95[1]
    assert np.mean(out.ci95) == pytest.approx(out.value)
    assert out.per_set["set2"].value == pytest.approx(out.value) and out.per_set["set2"].ci95 == out.ci95


def test_percentile_interval_of_fd_can_miss_the_estimate_so_set_fields_use_the_normal_one() -> None:
    from nava_eval.metrics.frechet import embedding_set_fd

    rng = np.random.default_rng(1)
    items = [{"embedding": rng.normal(size=64).tolist(), "reference_embedding": rng.normal(size=64).tolist()}
             for _ in range(40)]  # fmt: skip
    estimate = embedding_set_fd(items)
    percentile = bootstrap_ci_statistic(items, embedding_set_fd, n_resamples=200)
    assert percentile[0] > estimate  # duplicates in each resample shrink the cross term: FD* > FD
    normal = bootstrap_ci_statistic(items, embedding_set_fd, n_resamples=200, around=estimate)
    assert normal[0] < estimate < normal[1]


def test_set_level_field_with_too_few_items_has_no_value(tmp_path) -> None:
    fd = MetricField("fd", "lower", kind="set", reducer="nava_eval.metrics.frechet:embedding_set_fd")
    rows = [("only", "set2", {"embedding": [0.0, 1.0], "reference_embedding": [1.0, 0.0]})]
    path = tmp_path / "clap.jsonl"
    out = aggregate_metric(path, "lip", (fd,), _write(path, rows), "per-item mean")["fd"]
    # One embedding has no covariance: no number rather than NaN or 0.
    assert out.value is None and out.ci95 is None and out.n == 1


def test_set_field_needs_a_reducer() -> None:
    with pytest.raises(ValueError, match="reducer"):
        MetricField("fd", "lower", kind="set")
    with pytest.raises(ValueError, match="reducer"):
        MetricField("x", "lower", reducer="m:f")


def test_variant_suffix_of_the_pass_carries_over_to_field_protocols() -> None:
    best = FIELDS[1]
    assert best.protocol_for(PASS) == "lip/best-track-v1"
    assert best.protocol_for(PASS + "+smoke-random-weights") == "lip/best-track-v1+smoke-random-weights"
    assert FIELDS[0].protocol_for(PASS + "+stride2") == PASS + "+stride2"


def test_multi_seed_field_is_the_mean_over_seeds_with_their_sd_and_counts(tmp_path) -> None:
    path = tmp_path / "lip.jsonl"
    planned = []
    per_seed_values = {100: [1.0, 2.0, 3.0, 4.0], 101: [2.0, 2.5, 3.5, 5.0]}
    for seed, vals in per_seed_values.items():
        for i, v in enumerate(vals):
            sid, sha = f"x{i}", f"{seed}{i}".rjust(64, "0")
            status = "failed" if (seed, i) == (101, 3) else "ok"
            record = ScoreRecord(id=sid, set="set1" if i < 2 else "set2", metric="lip", protocol=PASS, status=status,
                                 output_sha256=sha, values={"conf": v} if status == "ok" else {}, run_seed=seed)  # fmt: skip
            append_jsonl(path, to_dict(record))
            planned.append(PlannedSample(sid, record.set, sha, seed))
    planned.append(PlannedSample("x4", "set2", None, 100))  # never generated for seed 100
    out = aggregate_metric(path, "lip", FIELDS[:1], planned, "per-item mean")["conf"]
    m100, m101 = np.mean([1.0, 2.0, 3.0, 4.0]), np.mean([2.0, 2.5, 3.5])
    assert out.seeds == [100, 101] and out.per_seed == pytest.approx({"100": m100, "101": m101})
    assert out.value == pytest.approx((m100 + m101) / 2)
    assert out.seed_sd == pytest.approx(np.std([m100, m101], ddof=1))
    assert (out.n, out.n_failed, out.n_missing) == (7, 1, 1)
    assert out.per_set["set1"].value == pytest.approx((1.5 + 2.25) / 2)
    assert out.per_set["set1"].seed_sd == pytest.approx(np.std([1.5, 2.25], ddof=1))
    assert out.ci95[0] < out.value < out.ci95[1]


def test_multi_seed_set_level_field_per_seed_statistic(tmp_path) -> None:
    path = tmp_path / "emb.jsonl"
    field = MetricField("fd", "lower", kind="set", reducer="nava_eval.metrics.frechet:embedding_set_fd")
    rng = np.random.default_rng(0)
    planned = []
    for seed in (100, 101):
        for i in range(12):
            values = {
                "embedding": rng.normal(size=3).tolist(),
                "reference_embedding": rng.normal(size=3).tolist(),
            }
            sha = f"{seed}{i}".rjust(64, "0")
            record = ScoreRecord(id=f"i{i}", set="set2", metric="emb", protocol=PASS, status="ok",
                                 output_sha256=sha, values=values, run_seed=seed)  # fmt: skip
            append_jsonl(path, to_dict(record))
            planned.append(PlannedSample(f"i{i}", "set2", sha, seed))
    out = aggregate_metric(path, "emb", (field,), planned, "per-item mean")["fd"]
    records = _read(path)
    per = {s: embedding_set_fd([r.values for r in records if r.run_seed == s]) for s in (100, 101)}
    assert out.kind == "set" and out.aggregation == SET_STATISTIC and out.n == 24
    assert out.per_seed == pytest.approx({str(k): v for k, v in per.items()})
    assert out.value == pytest.approx(np.mean(list(per.values())))
    assert out.seed_sd == pytest.approx(np.std(list(per.values()), ddof=1))


def _read(path):
    from nava_eval.rundir.records import load_score_records

    return load_score_records(path)
