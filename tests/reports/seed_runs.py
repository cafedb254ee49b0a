"""A multi-seed run directory built with the real writers and the real aggregation (reports.aggregate)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from nava_eval.rundir.files import append_jsonl, atomic_write_bytes, atomic_write_json, sha256_file
from nava_eval.rundir.records import Provenance, SampleRecord, ScoreRecord, write_results
from nava_eval.rundir.schema import to_dict

#: field → (scores file / metric name, protocol)
FIELDS = {"sync_c": ("sync", "sync/syncnet-lse-v1"), "sync_d": ("sync", "sync/syncnet-lse-v1")}


def provenance() -> Provenance:
    return Provenance(
        nava_eval_version="0.1.0",
        git_sha="0" * 40,
        git_dirty=False,
        python="3.11",
        torch=None,
        cuda=None,
        gpus=[],
        hostname="test",
        platform="linux",
        started_at="2026-11-25T00:00:00Z",
    )


def write_seed_run(
    run_dir: Path,
    values: Mapping[int, Mapping[str, Sequence[float]]],
    *,
    field: str = "sync_c",
    model: str = "NAVA",
    benchmark: str = "versebench",
) -> Path:
    """A multi-seed run: `values[seed][set]` per-item values (ids `<set>-<index>`, NaN = not generated),
    aggregated into results.json by the real aggregation (reports.aggregate)."""
    import math

    from nava_eval.metrics.base import metric_entries
    from nava_eval.reports.aggregate import PlannedSample, aggregate_metric, build_results
    from nava_eval.rundir.layout import output_relpath
    from nava_eval.rundir.run_file import GenerationSettings, RunFile, RunSpec

    metric, protocol = FIELDS[field]
    seeds = list(values)
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = RunSpec(
        name=run_dir.name, benchmark=benchmark, preset=benchmark, generation=GenerationSettings(seed=seeds[0]),
        metrics=[metric], seeds=seeds,
    )  # fmt: skip
    atomic_write_json(run_dir / "run.json", to_dict(RunFile(spec, spec.output_hash(), provenance())))
    planned = []
    for seed, per_set in values.items():
        for set_name, vals in sorted(per_set.items()):
            for index, value in enumerate(vals):
                sid = f"{set_name}-{index:03d}"
                rel = output_relpath(set_name, sid, "mp4", seed)
                if math.isnan(value):
                    planned.append(PlannedSample(sid, set_name, None, seed))
                    continue
                atomic_write_bytes(run_dir / rel, f"fake {sid} {seed}".encode())
                sha = sha256_file(run_dir / rel)
                record = SampleRecord(id=sid, set=set_name, status="done", output=rel, output_sha256=sha,
                                      seed=seed, run_seed=seed)  # fmt: skip
                append_jsonl(run_dir / "samples.jsonl", to_dict(record))
                score = ScoreRecord(id=sid, set=set_name, metric=metric, protocol=protocol, status="ok",
                                    output_sha256=sha, value=value, values={field: value}, run_seed=seed)  # fmt: skip
                append_jsonl(run_dir / "scores" / f"{metric}.jsonl", to_dict(score))
                planned.append(PlannedSample(sid, set_name, sha, seed))
    fields = [f for f in metric_entries()[metric].fields if f.name == field]
    metrics = aggregate_metric(
        run_dir / "scores" / f"{metric}.jsonl", metric, fields, planned, "per-item mean"
    )
    results = build_results(
        run_name=run_dir.name, benchmark=benchmark, model=model, metrics=metrics, n_samples=len(planned),
        smoke=False, params_b=6.3, preset=benchmark, spec=to_dict(spec), provenance=provenance(),
        created_at="2026-11-25T00:00:00Z", n_outputs=sum(p.output_sha256 is not None for p in planned), seeds=seeds,
    )  # fmt: skip
    write_results(run_dir / "results.json", results)
    return run_dir
