"""Results of `nava-eval bench gpu`: dataclasses, and their JSON and markdown files (atomic writes)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.rundir.files import atomic_write_json, atomic_write_text

SCHEMA = "nava-eval/bench-gpu/v1"
STATUSES = ("ok", "error", "timeout", "skipped")
JSON_NAME = "bench_gpu.json"
MARKDOWN_NAME = "bench_gpu.md"


@dataclass
class Measurement:
    """One timed setting. flops/mfu only where the work is counted (model, GEMM, attention)."""

    label: str
    seconds: float | None
    seconds_all: tuple[float, ...] = ()
    first_s: float | None = None  # warm-up call (compilation, autotuning)
    peak_memory_bytes: int | None = None
    flops: float | None = None
    flops_per_s: float | None = None
    mfu: float | None = None  # achieved ÷ the matmul ceiling measured in this run
    per: str = "call"  # what `seconds` is per: "step", "forward", "clip", "decode", ...
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SectionResult:
    name: str
    title: str
    status: str = "ok"
    seconds: float = 0.0
    box_s: float = 0.0  # the time box it ran under
    error: str | None = None
    measurements: list[Measurement] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)  # numerical agreement, counts, shapes
    notes: list[str] = field(default_factory=list)

    def add(self, measurement: Measurement) -> Measurement:
        self.measurements.append(measurement)
        return measurement

    def find(self, label: str) -> Measurement | None:
        return next((m for m in self.measurements if m.label == label), None)


@dataclass
class BenchReport:
    machine: dict[str, Any]
    plan: dict[str, Any]
    budget_s: float
    sections: list[SectionResult] = field(default_factory=list)
    projection: dict[str, Any] | None = None
    elapsed_s: float = 0.0
    schema: str = SCHEMA

    @property
    def failed(self) -> list[SectionResult]:
        return [s for s in self.sections if s.status in ("error", "timeout")]

    def section(self, name: str) -> SectionResult | None:
        return next((s for s in self.sections if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return _finite(dataclasses.asdict(self))


def _finite(value: Any) -> Any:
    """JSON has no inf/nan: they become None (with the measurement's note saying why)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_report(report: BenchReport, out_dir: Path) -> tuple[Path, Path]:
    """bench_gpu.json and bench_gpu.md in `out_dir`, each written atomically."""
    json_path = atomic_write_json(Path(out_dir) / JSON_NAME, report.to_dict())
    md_path = atomic_write_text(Path(out_dir) / MARKDOWN_NAME, render_markdown(report))
    return json_path, md_path


# ---------------------------------------------------------------------------------------------------
# markdown


def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _gib(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**30:.2f}"


def render_markdown(report: BenchReport) -> str:
    m = report.machine
    lines = [
        f"# nava-eval bench gpu ({report.plan.get('name')} plan)",
        "",
        f"Machine: {m.get('device_name')} ({m.get('device')}), driver {m.get('driver') or '–'}, "
        f"CUDA {m.get('cuda_runtime') or '–'}, torch {m.get('torch_version')}, "
        f"python {m.get('python')}, cpu {m.get('cpu')} ({m.get('cpu_threads')} threads), "
        f"nava-eval {m.get('nava_eval_version')} @ {(m.get('git_sha') or '–')[:12]}.",
        f"Budget {report.budget_s:.0f} s, used {report.elapsed_s:.0f} s. "
        f"Sections: {', '.join(f'{s.name} {s.status}' for s in report.sections)}.",
        "",
    ]
    for section in report.sections:
        lines += [
            f"## {section.title} — {section.status} ({section.seconds:.1f} s of {section.box_s:.0f} s)",
            "",
        ]
        if section.error:
            lines += [f"Error: `{section.error}`", ""]
        if section.measurements:
            lines += [
                "| setting | seconds | per | TFLOP/s | MFU | peak GiB | note |",
                "| --- | ---: | --- | ---: | ---: | ---: | --- |",
            ]
            for x in section.measurements:
                tflops = None if x.flops_per_s is None else x.flops_per_s / 1e12
                mfu = None if x.mfu is None else 100 * x.mfu
                lines.append(
                    f"| {x.label} | {_num(x.seconds, '.4g')} | {x.per} | {_num(tflops, '.1f')} | "
                    f"{_num(mfu, '.1f')}{'' if mfu is None else ' %'} | {_gib(x.peak_memory_bytes)} | {x.note} |"
                )
            lines.append("")
        for key, value in section.checks.items():
            lines.append(f"- {key}: {value}")
        for note in section.notes:
            lines.append(f"- {note}")
        if section.checks or section.notes:
            lines.append("")
    if report.projection:
        p = report.projection
        lines += ["## Projection: a full benchmark on data-parallel GPUs", ""]
        lines += [f"- {k}: {v}" for k, v in p.items()]
        lines.append("")
    return "\n".join(lines)
