"""results.json aggregation per field: its own protocol and quantity, the benchmark's population rule, set-level statistics."""

from __future__ import annotations

import numpy as np
import pytest

from nava_eval.benchmarks.base import FieldRule, field_rule
from nava_eval.metrics.base import MetricField
from nava_eval.metrics.frechet import frechet_distance
from nava_eval.reports.aggregate import SET_STATISTIC, PlannedSample, aggregate_metric
from nava_eval.reports.fileio import append_jsonl
from nava_eval.reports.results import ScoreRecord
from nava_eval.reports.schema import to_dict
from nava_eval.reports.stats import (
    bootstrap_ci,
    bootstrap_ci_grouped,
    bootstrap_ci_statistic,
    mean_of_set_means,
)

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
