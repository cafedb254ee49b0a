"""`nava-eval bench gpu`: files, exit codes and option errors (CPU, small plan)."""

from __future__ import annotations

import dataclasses
import json

import torch
from click.testing import CliRunner

from nava_eval.runners.cli.main import cli
from nava_eval.runners.perf.gpu import runner


def test_cpu_run_writes_json_and_table(tmp_path) -> None:
    result = CliRunner().invoke(
        cli, ["bench", "gpu", "--device", "cpu", "--sections", "ceiling,projection", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "no GPU: running the small plan" in result.output
    data = json.loads((tmp_path / "bench_gpu.json").read_text())
    assert data["plan"]["name"] == "small" and data["plan"]["budget_s"] == 300.0
    assert [s["name"] for s in data["sections"]] == ["ceiling", "projection"]
    assert "ceiling       fp32 GEMM 256×256×256" in result.output
    assert (tmp_path / "bench_gpu.md").read_text().startswith("# nava-eval bench gpu (small plan)")


def test_failed_section_gives_exit_code_1(tmp_path, monkeypatch) -> None:
    def broken(ctx, section, deadline):
        raise RuntimeError("no kernel image is available for execution on the device")

    monkeypatch.setattr(
        runner,
        "SECTIONS",
        tuple(dataclasses.replace(s, run=broken) if s.name == "ceiling" else s for s in runner.SECTIONS),
    )
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "gpu",
            "--device",
            "cpu",
            "--sections",
            "ceiling",
            "--budget",
            "30",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "1 section(s) failed: ceiling (error: RuntimeError: no kernel image" in result.output
    assert json.loads((tmp_path / "bench_gpu.json").read_text())["budget_s"] == 30.0


def test_option_errors_name_the_fix(tmp_path) -> None:
    result = CliRunner().invoke(
        cli, ["bench", "gpu", "--device", "cpu", "--sections", "ceilng", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "unknown section(s) ceilng; valid: ceiling" in result.output
    if not torch.cuda.is_available():
        result = CliRunner().invoke(cli, ["bench", "gpu", "--device", "cuda"])
        assert result.exit_code == 2
        assert "torch sees no CUDA device here; use --device cpu --small" in result.output
