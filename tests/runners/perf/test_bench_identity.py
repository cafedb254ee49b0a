"""`nava-eval bench identity`: both passes run over the same files; the warm one reads none of them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nava_eval.runners.cli.main import cli
from nava_eval.runners.perf.identity import bench_identity


def test_cold_pass_hashes_every_file_and_warm_pass_none():
    result = bench_identity(files=5, file_mb=0.01, rounds=1)
    assert (result.files, result.cold_hashed, result.warm_hashed) == (5, 5, 0)
    assert result.cold_s > 0 and result.warm_s > 0 and result.machine.cpu_threads >= 1


def test_cli_json():
    out = CliRunner().invoke(
        cli, ["bench", "identity", "--files", "3", "--file-mb", "0.01", "--rounds", "1", "--json"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["cold_hashed"] == 3 and data["warm_hashed"] == 0 and "machine" in data
