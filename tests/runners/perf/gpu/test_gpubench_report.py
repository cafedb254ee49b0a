"""bench_gpu.json and bench_gpu.md: schema, rows, and JSON without inf/nan."""

from __future__ import annotations

import json
import math

from nava_eval.runners.perf.gpu.report import (
    JSON_NAME,
    MARKDOWN_NAME,
    SCHEMA,
    BenchReport,
    Measurement,
    SectionResult,
    write_report,
)


def test_report_files(tmp_path) -> None:
    section = SectionResult("step", "Denoising step", seconds=12.0, box_s=60.0)
    section.add(
        Measurement(
            label="3 passes batched",
            seconds=6.5,
            flops=2.07e15,
            flops_per_s=2.07e15 / 6.5,
            mfu=0.4,
            peak_memory_bytes=3 * 2**30,
            per="step",
        )
    )
    section.add(Measurement(label="broken", seconds=None, note="error: x", flops_per_s=math.inf))
    section.checks["batched_speedup"] = 1.2
    failed = SectionResult("sync", "Sync", status="timeout", error="ran past its 50 s box")
    report = BenchReport(
        machine={"device_name": "NVIDIA H200", "device": "cuda", "driver": "580.1"},
        plan={"name": "versebench"},
        budget_s=420.0,
        sections=[section, failed],
        projection={"wall_hours": 5.5},
        elapsed_s=100.0,
    )
    json_path, md_path = write_report(report, tmp_path)
    assert (json_path.name, md_path.name) == (JSON_NAME, MARKDOWN_NAME)
    data = json.loads(json_path.read_text())
    assert data["schema"] == SCHEMA
    assert data["sections"][0]["measurements"][1]["flops_per_s"] is None
    assert [s["status"] for s in data["sections"]] == ["ok", "timeout"]
    assert report.failed == [failed]
    text = md_path.read_text()
    assert "| 3 passes batched | 6.5 | step | 318.5 | 40.0 % | 3.00 |  |" in text
    assert "## Sync — timeout" in text and "Error: `ran past its 50 s box`" in text
    assert "- batched_speedup: 1.2" in text and "- wall_hours: 5.5" in text
    assert not list(tmp_path.glob("*.tmp"))
