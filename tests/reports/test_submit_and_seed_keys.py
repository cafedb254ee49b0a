"""A refused `submit` leaves no file; a single-seed run's rows are keyed by None, never a number a user can pick."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from nava_eval.rundir.files import append_jsonl
from nava_eval.rundir.records import ScoreRecord
from nava_eval.rundir.schema import to_dict
from nava_eval.runners.cli.main import cli


def test_a_refused_submission_leaves_no_file(make_run, tmp_path: Path):
    run = make_run("r", {"sync_c": {"set1": [6.0, 7.0, 8.0]}})
    results = json.loads((run / "results.json").read_text())
    results["metrics"]["sync_c"]["value"] += 1.0  # no longer what the per-sample scores give
    (run / "results.json").write_text(json.dumps(results))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = CliRunner().invoke(cli, ["submit", str(run), "-o", str(out_dir / "sub.zip")])
    assert result.exit_code == 1, result.output
    assert "INVALID" in result.output and "nothing was written" in result.output
    assert "sub.zip" in result.output and ".tmp" not in result.output
    assert list(out_dir.iterdir()) == []


def test_single_seed_rows_never_share_a_key_with_a_user_seed(make_run, tmp_path: Path):
    from nava_eval.reports.per_sample import RunData, set_field_rows

    rows = {}
    for name, run_seed in (("single", None), ("seeded", -1)):
        run = make_run(name, {"sync_c": {"set1": [6.0]}})
        record = ScoreRecord("set1-0", "set1", "clap", "p", "ok", values={"fd_set": [0.5]}, run_seed=run_seed)
        append_jsonl(run / "scores" / "clap.jsonl", to_dict(record))
        rows[name] = set_field_rows(RunData(None, run, pd.DataFrame()), "fd_set")  # type: ignore[arg-type]
    assert set(rows["single"]["set1-0"]) == {None}
    assert set(rows["seeded"]["set1-0"]) == {-1}
