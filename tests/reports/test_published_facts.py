"""Published facts beside the tables: Table 1 resolutions, NAVA's speed table with `bench gpu` figures."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from nava_eval.reports.published_facts import bench_gpu_rows, model_facts, published_speed, speed_table
from nava_eval.runners.cli.main import cli
from nava_eval.runners.perf.gpu.report import BenchReport, Measurement, SectionResult, write_report


def test_table1_resolutions_per_model() -> None:
    facts = model_facts()
    got = {
        m: facts[("versebench", m)].resolution
        for m in ("Ovi 1.1", "MOVA (A18B/32B total)", "Davinci", "LTX 2.3", "NAVA")
    }
    assert got == {
        "Ovi 1.1": "720p",
        "MOVA (A18B/32B total)": "720p",
        "Davinci": "540p",
        "LTX 2.3": "512p",
        "NAVA": "720p",
    }
    assert ("seedtts", "NAVA") not in facts  # a resolution is a Verse-Bench (video) fact


def test_readme_speed_table() -> None:
    table = published_speed().set_index("script")
    assert table.loc["scripts/inference.sh", ["peak_vram_gb", "s_per_step"]].tolist() == [80, 1.0]
    assert table.loc["scripts/inference_offload_t5.sh", "peak_vram_gb"] == 48
    assert table.loc["scripts/inference_fp8.sh", ["peak_vram_gb", "s_per_step"]].tolist() == [18, 1.1]
    assert table.loc["scripts/inference_group_offload_t5.sh", ["peak_vram_gb", "s_per_step"]].tolist() == [
        42,
        3.5,
    ]
    rows, notes = speed_table()
    assert rows[2][3:] == ["~18 GB", "~1.1 s/step"]
    assert "704x1280, 37 frames, 50 steps, 8xH100" in notes[0]


def test_bench_gpu_figures_beside_the_published_ones(tmp_path: Path) -> None:
    section = SectionResult("model", "NAVA-6B step")
    section.add(Measurement("bf16 step 704x1280x37", 1.25, peak_memory_bytes=40 * 2**30, per="step"))
    section.add(Measurement("vae decode", 3.0, per="decode"))
    report = BenchReport(
        machine={"gpus": ["NVIDIA H100 80GB HBM3"]}, plan={}, budget_s=60.0, sections=[section]
    )
    json_path, _ = write_report(report, tmp_path)
    rows = bench_gpu_rows(json_path)
    assert len(rows) == 1 and rows[0]["speed"] == "1.25 s/step" and rows[0]["peak VRAM"] == "40.0 GiB"
    result = CliRunner().invoke(cli, ["report", "--published", "--gpu-bench", str(json_path)])
    assert result.exit_code == 0, result.output
    assert re.search(
        r"\| harness \(bench gpu\) +\| model: bf16 step 704x1280x37 +\| +\| 40\.0 GiB +\| 1\.25 s/step",
        result.output,
    )
    assert "Harness: measured on NVIDIA H100 80GB HBM3" in result.output
    bad = CliRunner().invoke(cli, ["report", "--published", "--gpu-bench", str(tmp_path / "none.json")])
    assert bad.exit_code == 1 and "give the bench_gpu.json" in bad.output
