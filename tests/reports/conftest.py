"""Builds small run directories (run.json, samples.jsonl, outputs, scores, results.json) with the real writers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from nava_eval.reports.stats import bootstrap_ci
from nava_eval.rundir.files import append_jsonl, atomic_write_bytes, atomic_write_json, sha256_file
from nava_eval.rundir.records import (
    MetricResult,
    Provenance,
    Results,
    SampleRecord,
    ScoreRecord,
    SetResult,
    write_results,
)
from nava_eval.rundir.schema import to_dict

#: field → (scores file / metric name, protocol, direction)
FIELDS: dict[str, tuple[str, str, str]] = {
    "sync_c": ("sync", "sync/syncnet-lse-v1", "higher"),
    "sync_d": ("sync", "sync/syncnet-lse-v1", "lower"),
    "video_quality": ("video_quality", "video-quality/versebench-as-v1", "higher"),
    "wer": ("wer", "wer/seedtts-v1", "lower"),
    "sim": ("sim", "sim/wavlm-large-ecapa-v1", "higher"),
    "loudness_lufs": ("audio_amplitude", "amplitude/mova-rms-lufs-v1", "neutral"),
}

#: metric → the field its ScoreRecord.value carries
PRIMARY = {
    "sync": "sync_c",
    "video_quality": "video_quality",
    "wer": "wer",
    "sim": "sim",
    "audio_amplitude": "loudness_lufs",
}

MakeRun = Callable[..., Path]


def _provenance() -> Provenance:
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


def write_run(
    run_dir: Path,
    values: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    benchmark: str = "versebench",
    model: str = "NAVA",
    smoke: bool = False,
    kind: str = "mp4",
    protocols: Mapping[str, str] | None = None,
    failed: Sequence[tuple[str, str]] = (),
    params_b: float | None = 6.3,
) -> Path:
    """`values[field][set]` are per-sample values; ids are `<set>-<index>`; `failed` lists (set, id) not scored."""
    from nava_eval.rundir.run_file import GenerationSettings, RunFile, RunSpec

    run_dir.mkdir(parents=True, exist_ok=True)
    sets = sorted({s for per_set in values.values() for s in per_set})
    sizes = {s: max(len(per_set.get(s, ())) for per_set in values.values()) for s in sets}
    spec = RunSpec(
        name=run_dir.name,
        benchmark=benchmark,
        preset="smoke" if smoke else benchmark,
        generation=GenerationSettings(),
        metrics=sorted({FIELDS[f][0] for f in values}),
        sets=sets,
        smoke=smoke,
    )
    atomic_write_json(run_dir / "run.json", to_dict(RunFile(spec, spec.output_hash(), _provenance())))
    shas: dict[str, str] = {}
    for set_name in sets:
        for index in range(sizes[set_name]):
            sid = f"{set_name}-{index:03d}"
            rel = f"outputs/{set_name}/{sid}.{kind}"
            atomic_write_bytes(run_dir / rel, f"fake {kind} {sid}".encode())
            shas[sid] = sha256_file(run_dir / rel)
            record = SampleRecord(
                id=sid, set=set_name, status="done", output=rel, output_sha256=shas[sid], seed=index
            )
            append_jsonl(run_dir / "samples.jsonl", to_dict(record))
    metrics: dict[str, MetricResult] = {}
    by_metric: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for field, per_set in values.items():
        metric, default_protocol, direction = FIELDS[field]
        protocol = (protocols or {}).get(field, default_protocol)
        everything: list[float] = []
        set_results = {}
        for set_name, vals in per_set.items():
            for index, value in enumerate(vals):
                sid = f"{set_name}-{index:03d}"
                by_metric.setdefault(metric, {}).setdefault(sid, {"set": set_name, "protocol": protocol})[
                    field
                ] = value
            everything += list(vals)
            set_results[set_name] = SetResult(
                float(np.mean(vals)), len(vals), list(bootstrap_ci(vals)) if len(vals) else None
            )
        metrics[field] = MetricResult(
            name=field,
            protocol=protocol,
            direction=direction,  # type: ignore[arg-type]
            value=float(np.mean(everything)),
            n=len(everything),
            n_failed=len(failed),
            ci95=list(bootstrap_ci(everything)),
            per_set=set_results,
        )
    for metric, per_id in by_metric.items():
        for sid, entry in per_id.items():
            fields = {k: v for k, v in entry.items() if k not in ("set", "protocol")}
            record = ScoreRecord(
                id=sid,
                set=str(entry["set"]),
                metric=metric,
                protocol=str(entry["protocol"]),
                status="ok",
                output_sha256=shas[sid],
                value=fields.get(PRIMARY[metric]),
                values=fields,
            )
            append_jsonl(run_dir / "scores" / f"{metric}.jsonl", to_dict(record))
        for set_name, sid in failed:
            record = ScoreRecord(
                id=sid, set=set_name, metric=metric, protocol="x", status="failed", reason="corrupt"
            )
            append_jsonl(run_dir / "scores" / f"{metric}.jsonl", to_dict(record))
    results = Results(
        run_name=run_dir.name,
        benchmark=benchmark,
        model=model,
        metrics=metrics,
        params_b=params_b,
        preset=spec.preset,
        smoke=smoke,
        n_samples=sum(sizes.values()),
        provenance=_provenance(),
    )
    write_results(run_dir / "results.json", results)
    return run_dir


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    """`make_run(name, values, **options)` → a run directory under tmp_path (see `write_run`)."""

    def _make(name: str, values: Mapping[str, Mapping[str, Sequence[float]]], **options: object) -> Path:
        return write_run(tmp_path / name, values, **options)  # type: ignore[arg-type]

    return _make
