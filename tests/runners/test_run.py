"""`nava-eval run --preset smoke` end to end: generate → score → results.json → reports, then resume,
score alone, submit and validate the bundle. Tiny seeded weights, miniature data, CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nava_eval.rundir.records import load_results, load_sample_records, load_score_records
from nava_eval.rundir.run_file import load_run_file
from nava_eval.runners.cli.main import cli

pytestmark = pytest.mark.slow


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def versebench_run(tmp_path_factory) -> tuple[Path, str]:
    run_dir = tmp_path_factory.mktemp("runs") / "vb-smoke"
    result = invoke("run", "versebench", "--preset", "smoke", "--run-dir", str(run_dir), "--no-progress")
    assert result.exit_code == 0, result.output
    return run_dir, result.output


def test_smoke_run_writes_every_stage(versebench_run):
    run_dir, output = versebench_run
    records = load_sample_records(run_dir / "samples.jsonl")
    assert sorted(r.id for r in records) == ["00000", "00001", "01000", "01001", "300", "301"]
    assert all(r.status == "done" and (run_dir / r.output).is_file() for r in records)
    assert {"text", "denoise", "decode", "write"} <= set(records[0].timings)
    # How each clip was made, as effective on this device (CPU decodes in fp32).
    assert records[0].inputs["decode_precision"] == "fp32" and records[0].inputs["audio_timing"] == "official"
    assert records[0].inputs["noise"] == {"policy": "per-sample"}

    results = load_results(run_dir)
    assert results.smoke and results.model == "nava-tiny" and results.benchmark == "versebench"
    audio = {"wer_sensevoice", "pq", "ce", "cu", "pc", "fd", "cs", "fd_set", "kl", "is", "cs_mova"}
    # DNSMOS runs its real ONNX networks, amplitude/loudness and AV-Align have none: their protocols
    # stay the real ones.
    real = {"dnsmos", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "amplitude_rms", "loudness_lufs", "av_align"}
    av = {"sync_c_mova", "sync_d_mova", "ib", "id", "desync", "av_a", "vq", "mq", "ta", "vr_overall"}
    assert set(results.metrics) == {"sync_c", "sync_d", "video_quality"} | audio | av | real
    assert results.metrics["sync_c_mova"].sets == ["set3"]
    assert results.metrics["ib"].aggregation == "mean of per-set means"
    assert (
        results.metrics["av_align"].n == 6
        and results.metrics["av_align"].protocol == "av-align/mova-onset-flow-v1"
    )
    assert results.metrics["av_align"].aggregation == "mean of per-set means"
    assert results.metrics["id"].n == 6 and results.metrics["id"].aggregation == "per-item mean"
    # MOVA's IS and CLAP score on every clip of every set: one IS per set, CLAP a mean of per-set means.
    assert results.metrics["is"].kind == "set" and results.metrics["is"].n == 6
    assert set(results.metrics["is"].per_set) == {"set1", "set2", "set3"}
    assert (
        results.metrics["cs_mova"].n == 6
        and results.metrics["cs_mova"].aggregation == "mean of per-set means"
    )
    # DeSync (MOVA) on every clip, mean of per-set means; AV-A (Verse-Bench) on set1+set2 audio-prompt items
    assert (
        results.metrics["desync"].n == 6 and results.metrics["desync"].aggregation == "mean of per-set means"
    )
    assert results.metrics["av_a"].sets == ["set1", "set2"] and results.metrics["av_a"].n == 4
    for f in ("vq", "mq", "ta", "vr_overall"):  # VideoReward: every clip, MOVA's mean of per-set means
        assert results.metrics[f].n == 6 and results.metrics[f].aggregation == "mean of per-set means"
    for name, metric in results.metrics.items():
        assert metric.protocol.endswith("+smoke-random-weights") == (name not in real), (
            name,
            metric.protocol,
        )
        assert metric.n + metric.n_skipped + metric.n_failed + metric.n_missing > 0
    # Speech metrics only where the item has reference speech (the on-screen-text item has none).
    wer_ids = {r.id for r in load_score_records(run_dir / "scores/wer_sensevoice.jsonl")}
    assert "00001" not in wer_ids and "01000" in wer_ids
    # Audiobox on every set1+set2 wav, CLAP where there is an audio prompt, FD on set2 only.
    assert results.metrics["pq"].n == 4 and results.metrics["cs"].n == 4
    assert results.metrics["fd"].sets == ["set2"] and results.metrics["fd"].n == 2
    assert results.metrics["fd_set"].kind == "set" and results.metrics["fd_set"].value is not None
    assert results.metrics["fd"].protocol == "fd/versebench-clap-perclip-v1+smoke-random-weights"
    assert results.metrics["video_quality"].n == 6 and results.metrics["video_quality"].value is not None

    run_file = load_run_file(run_dir)
    assert run_file.spec.preset == "smoke" and run_file.provenance.python
    assert run_file.spec.generation.audio_timing == "official"  # recorded in run.json
    report = (run_dir / "report.md").read_text()
    assert "smoke: random weights, numbers are not meaningful" in report and "NAVA (published)" in report
    assert (run_dir / "report.html").stat().st_size > 1000
    assert "smoke: random weights" in output


def test_rerun_resumes_without_regenerating_or_rescoring(versebench_run):
    run_dir, _ = versebench_run
    before = (run_dir / "samples.jsonl").read_text()
    result = invoke("run", "versebench", "--preset", "smoke", "--run-dir", str(run_dir), "--no-progress")
    assert result.exit_code == 0, result.output
    assert (run_dir / "samples.jsonl").read_text() == before
    assert "score video_quality" in result.output and "0 scored, 6 cached" in result.output


def test_run_json_records_the_resolved_config_and_replays_it(versebench_run):
    run_dir, _ = versebench_run
    config = load_run_file(run_dir).config
    assert config["benchmark"] == "versebench" and config["preset"] == "smoke"
    assert config["run_dir"] == str(run_dir.resolve()) and config["no_progress"] is True
    assert config["t5_offload"] is False and config["cfg_batch"] is None and config["vae_tiling"] is None
    spec = load_run_file(run_dir).spec.generation
    assert spec.cfg_batch == 4 and spec.vae_tiling is False  # the smoke preset's own values
    result = invoke("run", "--config", str(run_dir / "run.json"))  # replay: same settings, so it resumes
    assert result.exit_code == 0, result.output
    assert "0 scored, 6 cached" in result.output
    assert load_run_file(run_dir).config == config


def test_changed_generation_settings_are_refused(versebench_run):
    run_dir, _ = versebench_run
    result = invoke("run", "versebench", "--preset", "smoke", "--run-dir", str(run_dir), "--steps", "3")
    assert result.exit_code == 1
    assert "generated with other settings" in result.output and "run.json" in result.output


def test_submit_and_validate_the_bundle(versebench_run, tmp_path):
    run_dir, _ = versebench_run
    bundle = tmp_path / "submission.zip"
    result = invoke("submit", str(run_dir), "-o", str(bundle))
    assert result.exit_code == 0, result.output
    checked = invoke("validate", str(bundle))
    assert checked.exit_code == 0, checked.output


def test_check_against_itself_passes_and_report_reads_the_run(versebench_run):
    run_dir, _ = versebench_run
    assert invoke("check", str(run_dir), "--against", str(run_dir)).exit_code == 0
    table = invoke("report", str(run_dir), "--format", "json")
    assert table.exit_code == 0 and "nava-tiny" in table.output
    json.loads(table.output)


def test_seedtts_smoke_writes_wavs_and_speech_metrics(tmp_path):
    run_dir = tmp_path / "tts"
    result = invoke(
        "run", "seedtts", "--preset", "smoke", "--run-dir", str(run_dir), "--no-progress", "--sets", "en,hard"
    )
    assert result.exit_code == 0, result.output
    outputs = sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "outputs").rglob("*.wav"))
    assert len(outputs) == 3 and all(o.startswith(("outputs/en/", "outputs/hard/")) for o in outputs)
    results = load_results(run_dir)
    assert set(results.metrics) == {"wer", "sim"}
    assert results.metrics["sim"].n == 3 and set(results.metrics["wer"].per_set) == {"en", "hard"}


def test_unknown_benchmark_and_preset_are_clear_errors(tmp_path):
    bad = invoke("run", "nope", "--preset", "smoke", "--run-dir", str(tmp_path / "x"))
    assert bad.exit_code == 1 and "valid benchmarks: seedtts, versebench, jsonl:PATH" in bad.output
    bad = invoke("run", "versebench", "--preset", "tiny", "--run-dir", str(tmp_path / "y"))
    assert bad.exit_code == 1 and "valid presets:" in bad.output


def test_sp2_and_dp2_workers_write_the_same_bytes_as_one_process(tmp_path):
    """--nproc 2 (elastic launcher, gloo) with SP=2 and with DP=2 reproduce the single-process files,
    whatever thread count the launching process runs with (CPU generation pins its own)."""
    import signal

    import torch

    from nava_eval.rundir.records import latest_by_unit

    def hashes(run_dir: Path) -> dict:
        return {
            i: r.output_sha256
            for i, r in latest_by_unit(load_sample_records(run_dir / "samples.jsonl")).items()
        }

    common = ["--preset", "smoke", "--sets", "set3", "--no-progress"]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # more than the workers get: the outputs must not care
    try:
        assert invoke("generate", "versebench", "--run-dir", str(tmp_path / "one"), *common).exit_code == 0
        assert torch.get_num_threads() == 2  # the pin is undone after generation
    finally:
        torch.set_num_threads(threads)
    sp = invoke(
        "generate", "versebench", "--run-dir", str(tmp_path / "sp2"), "--nproc", "2", "--sp", "2", *common
    )
    assert sp.exit_code == 0, sp.output
    dp = invoke("generate", "versebench", "--run-dir", str(tmp_path / "dp2"), "--nproc", "2", *common)
    assert dp.exit_code == 0, dp.output
    reference = hashes(tmp_path / "one")
    assert {unit.item for unit in reference} == {"01000", "01001"}
    assert hashes(tmp_path / "sp2") == reference
    assert hashes(tmp_path / "dp2") == reference
    # The launcher's signal handlers are gone: a Ctrl-C while scoring is a KeyboardInterrupt again.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_impossible_parallel_layout_fails_before_any_worker_starts(tmp_path):
    result = invoke(
        "generate",
        "versebench",
        "--preset",
        "smoke",
        "--run-dir",
        str(tmp_path / "r"),
        "--nproc",
        "2",
        "--sp",
        "3",
    )
    assert result.exit_code == 1
    assert "--sp 3 does not divide the world size 2" in result.output and "valid --sp" in result.output
    assert not (tmp_path / "r" / "samples.jsonl").exists()
    single = invoke(
        "generate", "versebench", "--preset", "smoke", "--run-dir", str(tmp_path / "s"), "--sp", "2"
    )
    assert single.exit_code == 1 and "--nproc 2" in single.output


def test_malformed_ids_file_names_the_line(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("01000\nbad id!\n")
    result = invoke(
        "run", "versebench", "--preset", "smoke", "--ids", str(ids), "--run-dir", str(tmp_path / "r")
    )
    assert result.exit_code == 1 and f"{ids}:2" in result.output and "not a usable sample id" in result.output


def test_outputs_without_run_json_are_never_adopted(tmp_path):
    from nava_eval.runners.run import RunRequest, RunSpecMismatch, prepare_run

    run_dir = tmp_path / "r"
    prepare_run(RunRequest("versebench", preset="smoke", run_dir=run_dir, device="cpu"))
    (run_dir / "outputs/set3").mkdir(parents=True)
    (run_dir / "outputs/set3/300.mp4").write_bytes(b"made with seed 100")
    (run_dir / "run.json").unlink()  # the settings these outputs were made with are now unknown
    with pytest.raises(RunSpecMismatch, match=r"no run\.json") as err:
        prepare_run(RunRequest("versebench", preset="smoke", run_dir=run_dir, overrides={"seed": 5}))
    assert "outputs" in str(err.value) and str(run_dir) in str(err.value)
    result = invoke("run", "versebench", "--preset", "smoke", "--run-dir", str(run_dir), "--seed", "5")
    assert result.exit_code == 1 and "no run.json" in result.output


@pytest.fixture
def finished_copy(versebench_run, tmp_path) -> Path:
    import shutil

    run_dir, _ = versebench_run
    copy = tmp_path / "vb-smoke"
    shutil.copytree(run_dir, copy, symlinks=True)
    spec = json.loads((copy / "run.json").read_text())
    spec["spec"]["data_dir"] = str(copy / "smoke-data/versebench")  # the copy reads its own data
    (copy / "run.json").write_text(json.dumps(spec))
    return copy


def _summary(run_dir: Path) -> dict[str, tuple[int, float | None]]:
    return {k: (m.n, m.value) for k, m in load_results(run_dir).metrics.items()}


def test_a_narrower_invocation_never_shrinks_results(finished_copy):
    before = _summary(finished_copy)
    assert before["video_quality"][0] == 6
    limited = invoke(
        "run", "versebench", "--preset", "smoke", "--run-dir", str(finished_copy), "--limit", "1"
    )
    assert limited.exit_code == 0, limited.output
    assert _summary(finished_copy) == before and load_results(finished_copy).n_samples == 6
    only_sync = invoke("score", str(finished_copy), "--metrics", "sync", "--no-progress")
    assert only_sync.exit_code == 0, only_sync.output
    assert _summary(finished_copy) == before


def test_failed_samples_make_the_command_fail_unless_allowed(tmp_path, monkeypatch):
    from nava_eval.runners import nava_backend

    def broken(self, sample, seed, on_step):
        raise RuntimeError(f"request {sample.id!r}: out of memory")

    monkeypatch.setattr(nava_backend.NavaGenerator, "generate", broken)
    run_dir = tmp_path / "r"
    args = [
        "run",
        "versebench",
        "--preset",
        "smoke",
        "--run-dir",
        str(run_dir),
        "--sets",
        "set3",
        "--no-progress",
    ]
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert "2 sample(s) failed" in result.output and "--allow-failures" in result.output
    assert (run_dir / "results.json").is_file()  # everything is still written, nothing is lost
    allowed = invoke(*args, "--allow-failures")
    assert allowed.exit_code == 0, allowed.output
    report = (run_dir / "report.md").read_text()
    assert "2 sample(s) failed to generate" in report


def test_log_to_tensorboard_writes_readable_event_files(versebench_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, _ = versebench_run
    result = invoke("run", "--config", str(run_dir / "run.json"), "--log-to", "tensorboard")
    assert result.exit_code == 0, result.output
    assert f"logged to tensorboard: {run_dir / 'tensorboard'}" in result.output
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    results = load_results(run_dir)
    sync = results.metrics["sync_c"]
    (point,) = events.Scalars("summary/sync_c")
    assert point.value == pytest.approx(sync.value, rel=1e-6)
    assert events.Scalars("summary/sync_c/ci95_low")[0].value == pytest.approx(sync.ci95[0], rel=1e-6)
    per_sample = events.Scalars("per_sample/video_quality")
    scores = {r.id: r for r in load_score_records(run_dir / "scores/video_quality.jsonl")}
    assert len(per_sample) == results.metrics["video_quality"].n == len(scores)
    first_id = sorted(scores)[0]
    assert per_sample[0].value == pytest.approx(scores[first_id].values["video_quality"], rel=1e-6)
    assert "config" in "".join(events.Tags()["tensors"])  # settings as text


def test_log_to_wandb_sends_config_summary_and_per_sample_table(versebench_run, monkeypatch):
    import sys
    import types

    from nava_eval.runners.tracking import log_run

    calls: dict = {}

    class FakeRun:
        def __init__(self, **kwargs):
            calls["init"] = kwargs
            self.summary: dict = {}
            self.url = "https://wandb.invalid/run"

        def log(self, data):
            calls["log"] = data

        def finish(self):
            calls["summary"] = dict(self.summary)
            calls["finished"] = True

    class FakeTable:
        def __init__(self, columns, data):
            self.columns, self.data = columns, data

    fake = types.ModuleType("wandb")
    fake.init = lambda **kwargs: FakeRun(**kwargs)
    fake.Table = FakeTable
    monkeypatch.setitem(sys.modules, "wandb", fake)
    run_dir, _ = versebench_run
    assert log_run(["wandb"], run_dir) == {"wandb": "https://wandb.invalid/run"}
    results = load_results(run_dir)
    assert (
        calls["init"]["name"] == results.run_name and calls["init"]["config"]["config"]["preset"] == "smoke"
    )
    assert calls["summary"]["sync_d"] == pytest.approx(results.metrics["sync_d"].value)
    assert calls["summary"]["sync_d/protocol"] == results.metrics["sync_d"].protocol
    table = calls["log"]["per_sample"]
    assert table.columns[:5] == ["id", "set", "metric", "field", "value"]
    assert {row[3] for row in table.data} >= {"sync_c", "sync_d", "video_quality"} and calls["finished"]


def test_trackers_are_imported_only_when_asked() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nava_eval.runners.cli.run, nava_eval.runners.tracking;"
        "bad=[m for m in ('wandb','tensorboard','torch.utils.tensorboard') if m in sys.modules];"
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_missing_tracker_names_its_extra(versebench_run, monkeypatch):
    import sys

    run_dir, _ = versebench_run
    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` fail as if not installed
    result = invoke("run", "--config", str(run_dir / "run.json"), "--log-to", "wandb")
    assert result.exit_code == 1 and "pip install 'nava-eval[wandb]'" in result.output


def test_check_fails_a_run_made_worse_than_its_baseline(versebench_run, tmp_path):
    """The gate's other half: the same run with every video-quality score lowered is a regression (exit 1)."""
    import shutil

    run_dir, _ = versebench_run
    worse = tmp_path / "worse"
    shutil.copytree(run_dir, worse)
    scores = worse / "scores" / "video_quality.jsonl"
    lines = []
    for line in scores.read_text().splitlines():
        record = json.loads(line)
        if record["status"] == "ok":
            record["value"] -= 0.2
            record["values"]["video_quality"] -= 0.2
        lines.append(json.dumps(record))
    scores.write_text("\n".join(lines) + "\n")
    rescored = invoke("score", str(worse), "--metrics", "video_quality", "--no-progress")
    assert rescored.exit_code == 0, rescored.output  # cached records: only the aggregate is rebuilt
    assert (
        load_results(worse).metrics["video_quality"].value
        < load_results(run_dir).metrics["video_quality"].value
    )
    gate = invoke("check", str(worse), "--against", str(run_dir))
    assert gate.exit_code == 1, gate.output
    failing = [line for line in gate.output.splitlines() if "| FAIL" in line]
    assert len(failing) == 1, gate.output  # only the lowered field regressed
