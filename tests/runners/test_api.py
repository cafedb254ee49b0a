"""nava_eval.evaluate: import a folder and score it, the same object the CLI writes; then every command accepts the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import nava_eval
from nava_eval.rundir.records import load_results
from nava_eval.runners.cli.main import cli

pytestmark = pytest.mark.slow


def test_evaluate_then_report_compare_check_submit_validate(verse_outputs: Path, tmp_path: Path):
    run = tmp_path / "runs" / "ovi"
    results = nava_eval.evaluate(
        "versebench",
        outputs_dir=verse_outputs,
        model="Ovi 1.1",
        params_b=10,
        run_dir=run,
        preset="smoke",
        metrics=["video_quality"],
        progress=False,
    )
    assert results == load_results(run)  # the object the CLI writes, field for field
    assert results.model == "Ovi 1.1" and results.origin == "imported" and results.params_b == 10
    assert (results.n_samples, results.n_outputs) == (6, 6)
    vq = results.metrics["video_quality"]
    assert vq.n == 6 and vq.protocol.endswith("+smoke-random-weights") and vq.value is not None
    # Cached: a second evaluate scores nothing and returns the same numbers.
    again = nava_eval.evaluate("versebench", run_dir=run, metrics=["video_quality"], progress=False)
    assert again.metrics["video_quality"].value == vq.value

    invoke = CliRunner().invoke
    report = invoke(cli, ["report", str(run), "--published"])
    assert report.exit_code == 0, report.output
    # The paper view: the measured row beside the published row of the same model name.
    rows = [line.split("|")[1].strip() for line in report.output.splitlines() if line.startswith("|Ovi")]
    assert "Ovi 1.1 (measured) [smoke]" in rows and "Ovi 1.1" in rows, report.output
    assert "6/6" in report.output
    table = json.loads(invoke(cli, ["report", str(run), "--format", "json"]).output)
    measured = table["tables"][0]["rows"][0]
    assert measured["model"] == "Ovi 1.1" and measured["coverage"] == {"outputs": 6, "planned": 6}
    assert invoke(cli, ["compare", str(run), str(run)]).exit_code == 0
    gate = invoke(cli, ["check", str(run), "--against", str(run)])
    assert gate.exit_code == 0, gate.output
    bundle = tmp_path / "ovi.zip"
    submitted = invoke(cli, ["submit", str(run), "-o", str(bundle)])
    assert submitted.exit_code == 0, submitted.output
    checked = invoke(cli, ["validate", str(bundle)])
    assert checked.exit_code == 0, checked.output

    with pytest.raises(ValueError, match="needs model=NAME"):
        nava_eval.evaluate("versebench", outputs_dir=verse_outputs)
