"""`nava-eval data download|import|list` and `nava-eval validate`, through click's runner (no network)."""

from __future__ import annotations

import json
import shutil

import huggingface_hub
import pytest
from click.testing import CliRunner
from huggingface_hub.errors import LocalEntryNotFoundError

from nava_eval.benchmarks.download import registration
from nava_eval.benchmarks.seedtts import SeedTTSEval
from nava_eval.benchmarks.smoke import write_smoke_dataset
from nava_eval.runners.cli.data import command as data_command
from nava_eval.runners.cli.validate import command as validate_command


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NAVA_EVAL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("NAVA_EVAL_OFFLINE", raising=False)
    return tmp_path / "home"


@pytest.fixture
def smoke(tmp_path):
    return write_smoke_dataset(tmp_path / "smoke")


def test_validate_reports_counts_and_exits_1_on_mismatch(smoke):
    result = CliRunner().invoke(
        validate_command, ["seedtts", "--data-dir", str(smoke.seedtts), "--sets", "en"]
    )
    assert result.exit_code == 1
    assert "en: 2 item(s) (expected 1088) COUNT MISMATCH" in result.output
    assert result.output.rstrip().endswith("NOT OK")


def test_validate_lists_every_missing_file(smoke):
    (smoke.versebench / "set1" / "00000.jpg").unlink()
    (smoke.versebench / "set2" / "301.wav").unlink()
    result = CliRunner().invoke(validate_command, ["versebench", "--data-dir", str(smoke.versebench)])
    assert result.exit_code == 1
    assert f"{smoke.versebench / 'set1' / '00000.jpg'}: missing image" in result.output
    assert f"{smoke.versebench / 'set2' / '301.wav'}: missing wav" in result.output
    assert "set1: 2 item(s) (expected 205)" in result.output


def test_validate_user_jsonl_ok_and_errors(smoke, tmp_path):
    ok = CliRunner().invoke(validate_command, [f"jsonl:{smoke.user_prompts}"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.rstrip().endswith("OK")
    unknown = CliRunner().invoke(validate_command, ["nobench"])
    assert unknown.exit_code == 2 and "valid benchmarks" in unknown.output
    nodata = CliRunner().invoke(validate_command, ["seedtts"])
    assert nodata.exit_code == 1 and "nava-eval data import seedtts" in nodata.output


def test_import_seedtts_checks_then_registers(smoke, home):
    runner = CliRunner()
    refused = runner.invoke(data_command, ["import", "seedtts", str(smoke.seedtts)])
    assert refused.exit_code == 1 and "not registered" in refused.output  # counts are not the official ones
    assert registration("seedtts") is None
    forced = runner.invoke(
        data_command, ["import", "seedtts", str(smoke.seedtts), "--sets", "en,zh", "--force"]
    )
    assert forced.exit_code == 0, forced.output
    stored = json.loads((home / "data.json").read_text())["benchmarks"]["seedtts"]
    assert stored["path"] == str(smoke.seedtts.resolve()) and stored["sets"] == "en,zh"
    # A registered copy becomes the default --data-dir.
    result = runner.invoke(validate_command, ["seedtts", "--sets", "hard"])
    assert f"seedtts data in {smoke.seedtts.resolve()}" in result.output
    # ... and its imported sets become the default sets.
    assert {s.set for s in SeedTTSEval().load(None)} == {"en", "zh"}
    assert {s.set for s in SeedTTSEval().load(smoke.seedtts)} == {"en", "zh", "hard"}
    listed = runner.invoke(data_command, ["list"])
    assert "seedtts" in listed.output and str(smoke.seedtts.resolve()) in listed.output


def test_import_refuses_broken_copy(smoke):
    shutil.rmtree(smoke.seedtts / "zh" / "prompt-wavs")
    result = CliRunner().invoke(data_command, ["import", "seedtts", str(smoke.seedtts), "--sets", "zh"])
    assert result.exit_code == 1
    assert "missing wav" in result.output and registration("seedtts") is None


def test_download_versebench_registers_and_validates(smoke, tmp_path, monkeypatch):
    def fake_snapshot_download(repo_id, **kwargs):
        assert repo_id == "dorni/Verse-Bench" and kwargs["repo_type"] == "dataset"
        return str(smoke.versebench)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    result = CliRunner().invoke(data_command, ["download", "versebench", "--cache-dir", str(tmp_path / "c")])
    # The smoke copy has 2 items per set, so the count check against 205/295/100 fails: exit 1.
    assert result.exit_code == 1
    assert "set3: 2 item(s) (expected 100) COUNT MISMATCH" in result.output
    assert registration("versebench").path == smoke.versebench.resolve()


def test_download_offline_and_seedtts_messages(monkeypatch, tmp_path):
    def offline_snapshot_download(repo_id, **kwargs):
        assert kwargs["local_files_only"] is True
        raise LocalEntryNotFoundError("no")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline_snapshot_download)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(data_command, ["download", "versebench"])
    assert result.exit_code == 1 and "offline mode is on" in result.output
    seed = CliRunner().invoke(data_command, ["download", "seedtts"])
    assert seed.exit_code == 1 and "nava-eval data import seedtts PATH" in seed.output
