"""Every metric scored in one process and with `--nproc 2` (other batches, other threads) agrees within
the stated tolerance (runners.score_parallel.PARALLEL_RTOL/ATOL, docs/guarantees.md); non-float values
(transcripts, counts, statuses) are equal."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from media_files import VERSE_IDS, write_clip, write_tone

from nava_eval.rundir.records import latest_by_unit, load_score_records
from nava_eval.runners.cli.main import cli
from nava_eval.runners.importing import ImportRequest, import_outputs
from nava_eval.runners.run import load_prepared, scoring_plan
from nava_eval.runners.score_parallel import PARALLEL_ATOL, PARALLEL_RTOL

SEEDTTS_IDS = ("smoke_en_0001", "smoke_en_0002", "smoke_zh_0001", "smoke_zh_0002", "smoke_hard_0001")


def _outputs(benchmark: str, folder: Path) -> None:
    if benchmark == "versebench":
        items = [i for ids in VERSE_IDS.values() for i in ids]
        for n, item in enumerate(items):
            write_clip(folder / f"{item}.mp4", seed=n, frames=16)
    else:
        for n, item in enumerate(SEEDTTS_IDS):
            write_tone(folder / f"{item}.wav", seed=n, seconds=1.5)


def _tolerance(metric: str) -> tuple[float, float]:
    """(abs, rel): the harness-wide bound, or the wider one a metric declares with its reason."""
    from nava_eval.metrics.base import metric_class, metric_entries

    declared = metric_class(metric).parallel_tolerance if metric in metric_entries() else None
    return (declared[0], declared[1]) if declared else (PARALLEL_ATOL, PARALLEL_RTOL)


def _close(
    a, b, where: str, mismatches: list[str], tol: tuple[float, float] = (PARALLEL_ATOL, PARALLEL_RTOL)
) -> None:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or not math.isclose(a, b, rel_tol=tol[1], abs_tol=tol[0]):
            mismatches.append(f"{where}: {a!r} vs {b!r}")
    elif isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            mismatches.append(f"{where}: keys {sorted(a)} vs {sorted(b)}")
        for key in a.keys() & b.keys():
            _close(a[key], b[key], f"{where}.{key}", mismatches, tol)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]", mismatches, tol)
    elif a != b:
        mismatches.append(f"{where}: {a!r} vs {b!r}")


@pytest.mark.slow
@pytest.mark.parametrize("bench_name", ["versebench", "seedtts"])
def test_every_metric_at_nproc_1_and_2_agrees_within_the_stated_tolerance(tmp_path: Path, bench_name: str):
    src = tmp_path / "outs"
    _outputs(bench_name, src)
    runs = {nproc: tmp_path / f"nproc{nproc}" for nproc in (1, 2)}
    for nproc, run in runs.items():
        import_outputs(ImportRequest(bench_name, src, "M", run_dir=run, preset="smoke"))
        result = CliRunner().invoke(cli, ["score", str(run), "--nproc", str(nproc), "--no-progress"])
        assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (runs[1] / "scores").glob("*.jsonl"))
    assert files == sorted(p.name for p in (runs[2] / "scores").glob("*.jsonl"))
    planned = scoring_plan(load_prepared(runs[1]))  # every metric of the benchmark's smoke run
    assert files == sorted(f"{name}.jsonl" for name in planned)
    mismatches: list[str] = []
    for name in files:
        one, two = (latest_by_unit(load_score_records(run / "scores" / name)) for run in runs.values())
        assert set(one) == set(two)
        for key in one:
            assert (one[key].status, one[key].output_sha256) == (two[key].status, two[key].output_sha256)
            _close(
                one[key].values,
                two[key].values,
                f"{name}:{key}",
                mismatches,
                _tolerance(name[: -len(".jsonl")]),
            )
    results = [json.loads((run / "results.json").read_text())["metrics"] for run in runs.values()]
    from nava_eval.metrics.base import metric_entries

    metric_of = {f.name: name for name, entry in metric_entries().items() for f in entry.fields}
    for field in results[0]:
        tol = _tolerance(metric_of.get(field, ""))
        for key in ("value", "ci95", "per_set", "n", "n_failed", "n_skipped"):
            _close(
                results[0][field].get(key),
                results[1][field].get(key),
                f"results:{field}.{key}",
                mismatches,
                tol,
            )
    assert mismatches == []
