"""Paired comparison of two runs: delta, CI against a direct numpy bootstrap, significance, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from nava_eval.metrics.base import MetricField
from nava_eval.reports.compare import compare_runs, render_comparison
from nava_eval.runners.cli.compare import command

RNG = np.random.default_rng(11)
BASE = RNG.normal(7.0, 1.0, size=30)


def _sets(values: np.ndarray) -> dict[str, list[float]]:
    return {"set1": list(values[:20]), "set3": list(values[20:])}


def test_paired_delta_matches_direct_bootstrap(make_run) -> None:
    better = BASE + 0.4 + RNG.normal(0.0, 0.05, size=30)
    a = make_run("a", {"sync_c": _sets(BASE), "sync_d": _sets(BASE)})
    b = make_run("b", {"sync_c": _sets(better), "sync_d": _sets(BASE + RNG.normal(0.0, 0.5, size=30))})
    result = compare_runs(a, b)
    sync_c, sync_d = result.metrics
    assert sync_c.field == "sync_c" and sync_c.n_common == 30
    # Ids are set1-000.. then set3-000..; common ids are sorted, which is this same order.
    diff = better - BASE
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 30, size=(1000, 30))
    expected = np.percentile(diff[idx].mean(axis=1), [2.5, 97.5])
    assert sync_c.delta == pytest.approx(diff.mean())
    assert sync_c.ci95 == pytest.approx(tuple(expected), abs=1e-12)
    assert sync_c.significant and sync_c.better == "B"
    # sync_d noise around the same values: CI straddles 0.
    assert sync_d.ci95[0] < 0 < sync_d.ci95[1] and not sync_d.significant and sync_d.better is None

    text = render_comparison(result)
    assert "B better" in text and "not significant" in text


def test_lower_is_better_direction_and_partial_overlap(make_run) -> None:
    a = make_run("a", {"sync_d": {"set1": [8.0, 8.2, 7.9, 8.1, 8.3]}})
    b = make_run("b", {"sync_d": {"set1": [7.0, 7.1, 6.8, 7.2]}})  # lower distance: B better; one id missing
    (row,) = compare_runs(a, b).metrics
    assert row.n_common == 4 and row.n_a == 5 and row.n_b == 4
    assert row.delta == pytest.approx(np.mean([7.0, 7.1, 6.8, 7.2]) - np.mean([8.0, 8.2, 7.9, 8.1]))
    assert row.better == "B"
    assert "1 sample(s) scored by only one run" in row.note


def test_protocol_mismatch_and_benchmark_mismatch(make_run) -> None:
    a = make_run("a", {"sync_c": {"set1": [1.0, 2.0]}})
    b = make_run("b", {"sync_c": {"set1": [1.0, 2.0]}}, protocols={"sync_c": "sync/other-v2"})
    (row,) = compare_runs(a, b).metrics
    assert row.delta is None and "different protocols" in row.note
    c = make_run("c", {"wer": {"en": [1.0]}}, benchmark="seedtts")
    with pytest.raises(ValueError, match="different benchmarks"):
        compare_runs(a, c)


def test_cli_json_and_smoke_banner(make_run) -> None:
    a = make_run("a", {"sync_c": {"set1": [1.0, 2.0, 3.0]}}, smoke=True)
    b = make_run("b", {"sync_c": {"set1": [2.0, 3.0, 4.0]}}, smoke=True)
    out = CliRunner().invoke(command, [str(a), str(b), "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["banner"] == "smoke: random weights, numbers are not meaningful"
    assert data["metrics"][0]["delta"] == pytest.approx(1.0)
    assert data["metrics"][0]["ci95"] == pytest.approx([1.0, 1.0])
    md = CliRunner().invoke(command, [str(a), str(b)])
    assert "smoke: random weights" in md.output and "B better" in md.output


def test_multi_seed_runs_pair_same_item_same_seed_and_resample_items(tmp_path) -> None:
    from seed_runs import write_seed_run

    from nava_eval.reports.regression import check
    from nava_eval.reports.stats import paired_bootstrap

    rng = np.random.default_rng(5)
    items = rng.normal(7.0, 1.0, size=24)
    a_vals = {s: {"set3": list(items + rng.normal(0, 0.2, 24))} for s in (100, 101, 102)}
    b_vals = {
        s: {"set3": list(np.asarray(a_vals[s]["set3"]) + 0.3 + rng.normal(0, 0.05, 24))}
        for s in (100, 101, 102)
    }
    a = write_seed_run(tmp_path / "a", a_vals)
    b = write_seed_run(tmp_path / "b", b_vals, model="NAVA-ft")
    (row,) = compare_runs(a, b, fields=["sync_c"], seed=1, n_resamples=500).metrics
    # Pairs are (item, seed); the bootstrap resamples items, each with the mean of its seed differences.
    ids = sorted(f"set3-{i:03d}" for i in range(24))
    order = [int(i.split("-")[1]) for i in ids]
    mean_a = np.mean([[a_vals[s]["set3"][i] for s in a_vals] for i in order], axis=1)
    mean_b = np.mean([[b_vals[s]["set3"][i] for s in b_vals] for i in order], axis=1)
    direct = paired_bootstrap(mean_a, mean_b, seed=1, n_resamples=500)
    assert row.n_common == 24 and row.delta == pytest.approx(direct.delta)
    assert row.ci95 == pytest.approx(direct.ci95) and row.better == "B"
    assert "paired by (item, seed): 72 pairs over 24 items" in row.note

    # Other seeds: paired by item on each run's mean over its seeds, and said so.
    c_vals = {s + 100: v for s, v in b_vals.items()}
    c = write_seed_run(tmp_path / "c", c_vals, model="NAVA-ft")
    (row_c,) = compare_runs(a, c, fields=["sync_c"], seed=1, n_resamples=500).metrics
    assert row_c.delta == pytest.approx(direct.delta) and "no seed in common" in row_c.note

    # The regression gate pairs the same way (complete pairing: every unit of both runs).
    gate = check(b, str(a), ["sync_c=1"], seed=1, n_resamples=500)
    (gate_row,) = [r for r in gate.rows if r.field == "sync_c"]
    assert gate.exit_code == 0 and gate_row.ci95 == pytest.approx(direct.ci95)


def test_multi_seed_run_submits_and_validates(tmp_path) -> None:
    from seed_runs import write_seed_run

    from nava_eval.reports.leaderboard import submit, validate_submission

    run = write_seed_run(tmp_path / "ms", {100: {"set3": [7.0, 7.5, 7.2]}, 101: {"set3": [7.1, 7.6, 7.0]}})
    report = validate_submission(submit(run, tmp_path / "ms.zip"))
    assert report.ok, report.errors
    assert report.counts == {"set3": 6}
    assert any("set3 3/100" in w for w in report.warnings)  # items, not (item, seed) units, vs 100


def _fd_run(tmp_path, name: str, shift: float, seeds=(None,), n: int = 16):
    """A run whose only field is a set-level FD over per-item embeddings (registered as metric `emb`)."""
    from seed_runs import provenance as _provenance

    from nava_eval.metrics.base import metric_entries
    from nava_eval.reports.aggregate import PlannedSample, aggregate_metric, build_results
    from nava_eval.rundir.files import append_jsonl, atomic_write_json
    from nava_eval.rundir.records import SampleRecord, ScoreRecord, write_results
    from nava_eval.rundir.run_file import GenerationSettings, RunFile, RunSpec
    from nava_eval.rundir.schema import to_dict

    run = tmp_path / name
    rng = np.random.default_rng(0)
    refs = rng.normal(size=(n, 3))
    planned = []
    for s in seeds:
        noise = np.random.default_rng(100 + (s or 0)).normal(size=(n, 3))
        for i in range(n):
            sid, sha = f"i{i:02d}", f"{name}{i}{s}".rjust(64, "0")
            append_jsonl(run / "samples.jsonl", to_dict(SampleRecord(id=sid, set="set2", status="done",
                         output=f"o/{sid}", output_sha256=sha, run_seed=s)))  # fmt: skip
            values = {
                "embedding": list(refs[i] + shift * noise[i] + shift),
                "reference_embedding": list(refs[i]),
            }
            append_jsonl(run / "scores/emb.jsonl", to_dict(ScoreRecord(id=sid, set="set2", metric="emb",
                         protocol="fd/test-v1", status="ok", output_sha256=sha, values=values, run_seed=s)))  # fmt: skip
            planned.append(PlannedSample(sid, "set2", sha, s))
    spec = RunSpec(name=name, benchmark="versebench", preset="versebench", generation=GenerationSettings(),
                   metrics=["emb"], seeds=[s for s in seeds if s is not None] or None)  # fmt: skip
    atomic_write_json(run / "run.json", to_dict(RunFile(spec, spec.output_hash(), _provenance())))
    metrics = aggregate_metric(
        run / "scores/emb.jsonl", "emb", metric_entries()["emb"].fields, planned, "per-item mean"
    )
    write_results(run / "results.json", build_results(
        run_name=name, benchmark="versebench", model=name, metrics=metrics, n_samples=len(planned), smoke=False,
        params_b=None, preset="versebench", spec=to_dict(spec), provenance=_provenance(), created_at="x"))  # fmt: skip
    return run


class EmbMetric:
    """A metric whose only field is a set-level FD (declared on the class, as every metric)."""

    name = "emb"
    protocol = "fd/test-v1"
    fields = (MetricField("fd", "lower", kind="set", reducer="nava_eval.metrics.frechet:embedding_set_fd"),)
    description = "test"


@pytest.fixture
def emb_registered():
    from nava_eval.metrics.registry import METRICS

    METRICS.register("emb", "test_compare:EmbMetric")
    yield
    METRICS.unregister("emb")


def test_set_level_field_is_compared_by_resampling_items_with_its_reducer(tmp_path, emb_registered) -> None:
    from nava_eval.metrics.frechet import embedding_set_fd
    from nava_eval.reports.regression import check

    a, b = _fd_run(tmp_path, "a", 1.0), _fd_run(tmp_path, "b", 0.2)
    (row,) = compare_runs(a, b, seed=2, n_resamples=300).metrics
    records = {name: [json.loads(x)["values"] for x in (tmp_path / name / "scores/emb.jsonl").read_text().splitlines()]
               for name in ("a", "b")}  # fmt: skip
    fd_a, fd_b = embedding_set_fd(records["a"]), embedding_set_fd(records["b"])
    assert row.mean_a == pytest.approx(fd_a) and row.mean_b == pytest.approx(fd_b)
    assert row.delta == pytest.approx(fd_b - fd_a) and row.n_common == 16
    rng = np.random.default_rng(2)
    deltas = []
    for _ in range(300):
        idx = rng.integers(0, 16, size=16)
        deltas.append(
            embedding_set_fd([records["b"][i] for i in idx])
            - embedding_set_fd([records["a"][i] for i in idx])
        )
    assert row.ci95 == pytest.approx(tuple(np.percentile(deltas, [2.5, 97.5])))
    assert row.better == "B" and "set statistic" in row.note
    gate = check(b, str(a), seed=2, n_resamples=300)
    assert gate.rows[0].field == "fd" and gate.rows[0].ci95 == pytest.approx(row.ci95)

    # Multi-seed runs sharing seeds: per common seed, the statistic; their mean.
    ma, mb = _fd_run(tmp_path, "ma", 1.0, seeds=(100, 101)), _fd_run(tmp_path, "mb", 0.2, seeds=(100, 101))
    (multi,) = compare_runs(ma, mb, seed=2, n_resamples=100).metrics
    res = {n: json.loads((tmp_path / n / "results.json").read_text())["metrics"]["fd"] for n in ("ma", "mb")}
    assert multi.mean_a == pytest.approx(res["ma"]["value"]) and multi.mean_b == pytest.approx(
        res["mb"]["value"]
    )
    assert res["ma"]["seeds"] == [100, 101] and res["ma"]["seed_sd"] is not None


def test_unknown_field_and_a_flipped_direction(make_run) -> None:
    a = make_run("a", {"sync_d": {"set1": [8.0, 8.2, 7.9]}})
    b = make_run("b", {"sync_d": {"set1": [7.0, 7.1, 6.8]}})
    with pytest.raises(ValueError, match="nosuch: not scored in either run"):
        compare_runs(a, b, fields=["nosuch"])
    results = json.loads((a / "results.json").read_text())
    results["metrics"]["sync_d"]["direction"] = "higher"  # a run's file does not decide which way is better
    (a / "results.json").write_text(json.dumps(results))
    (row,) = compare_runs(a, b).metrics
    assert row.direction == "lower"
