"""Data registry (data.json under NAVA_EVAL_HOME) and the Verse-Bench Hub download, without network."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError

from nava_eval.benchmarks.download import (
    OfflineError,
    data_config_path,
    download_versebench,
    load_data_config,
    nava_eval_home,
    register_data_dir,
    registration,
    resolve_data_dir,
)
from nava_eval.benchmarks.errors import DataNotFoundError


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NAVA_EVAL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("NAVA_EVAL_OFFLINE", raising=False)
    return tmp_path / "home"


def test_home_default_and_override(home, monkeypatch):
    assert nava_eval_home() == home and data_config_path() == home / "data.json"
    monkeypatch.delenv("NAVA_EVAL_HOME")
    assert nava_eval_home() == Path.home() / ".cache" / "nava-eval"


def test_register_and_resolve(tmp_path, home):
    data = tmp_path / "seed"
    data.mkdir()
    assert load_data_config() == {"schema": "nava-eval/data/v1", "benchmarks": {}}
    reg = register_data_dir("seedtts", data, "import:/x", sets="en")
    assert reg.path == data.resolve() and reg.extra == {"sets": "en"}
    stored = json.loads((home / "data.json").read_text())
    assert stored["benchmarks"]["seedtts"]["path"] == str(data.resolve())
    assert stored["benchmarks"]["seedtts"]["sets"] == "en"
    assert registration("seedtts").source == "import:/x"
    assert resolve_data_dir("seedtts", None, "do X") == data.resolve()
    explicit = tmp_path / "other"
    explicit.mkdir()
    assert resolve_data_dir("seedtts", explicit, "do X") == explicit  # an explicit folder wins


def test_resolve_errors_say_what_to_do(tmp_path):
    with pytest.raises(DataNotFoundError, match="pass --data-dir DIR, or do X"):
        resolve_data_dir("versebench", None, "do X")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        resolve_data_dir("versebench", tmp_path / "missing", "do X")
    gone = tmp_path / "gone"
    gone.mkdir()
    register_data_dir("versebench", gone, "test")
    gone.rmdir()
    with pytest.raises(DataNotFoundError, match="that folder is gone"):
        resolve_data_dir("versebench", None, "do X")


def test_corrupt_config_names_the_file(home):
    home.mkdir(parents=True)
    (home / "data.json").write_text("{oops")
    with pytest.raises(ValueError, match="data.json: not valid JSON"):
        load_data_config()


def test_download_calls_snapshot_download_and_registers(tmp_path, monkeypatch):
    calls = []

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        folder = tmp_path / "cache" / "snapshot"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    folder = download_versebench(cache_dir=tmp_path / "cache", revision="v1")
    assert folder == tmp_path / "cache" / "snapshot"
    assert calls == [
        (
            "dorni/Verse-Bench",
            {
                "repo_type": "dataset",
                "revision": "v1",
                "local_files_only": False,
                "cache_dir": str(tmp_path / "cache"),
            },
        )
    ]
    reg = registration("versebench")
    assert reg.path == folder.resolve() and reg.source == "hf:dorni/Verse-Bench@v1"


def test_offline_uses_cache_only_and_explains(tmp_path, monkeypatch):
    seen = {}

    def fake_snapshot_download(repo_id, **kwargs):
        seen.update(kwargs)
        raise LocalEntryNotFoundError("not in cache")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as info:
        download_versebench(cache_dir=tmp_path / "c")
    assert seen["local_files_only"] is True
    message = str(info.value)
    assert "offline mode is on" in message and "nava-eval data import versebench" in message
    assert registration("versebench") is None
