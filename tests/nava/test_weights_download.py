"""The NAVA release download: in-place HF cache use, offline mode, checksum verification (no network)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError

from nava_eval.nava import weights_download as WD


def _fake_release(folder: Path, plan: tuple[str, ...]) -> None:
    for rel in plan:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode())


def test_download_reads_the_cache_in_place_and_verifies(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("NAVA_EVAL_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    snapshot = tmp_path / "snapshot"
    seen = {}

    def fake_snapshot_download(repo_id, **kwargs):
        seen.update(kwargs, repo_id=repo_id)
        _fake_release(snapshot, tuple(kwargs["allow_patterns"]))
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    folder = WD.download_nava_weights(redimnet=False)
    assert folder == snapshot and seen["local_dir"] is None and seen["local_files_only"] is False
    assert seen["repo_id"] == "ernie-research/NAVA" and "NAVA.safetensors" in seen["allow_patterns"]
    plan = WD.nava_download_plan()
    assert WD.verify_release(snapshot, plan, pins={}) == {
        rel: hashlib.sha256(rel.encode()).hexdigest() for rel in plan
    }
    vae = "Wan2.2-TI2V-5B/Wan2.2_VAE.pth"
    with pytest.raises(ValueError) as err:
        WD.verify_release(snapshot, plan, pins={vae: "0" * 64})
    msg = str(err.value)
    assert vae in msg and "0" * 64 in msg and hashlib.sha256(vae.encode()).hexdigest() in msg
    assert "nava-eval weights download nava" in msg and not (snapshot / vae).exists()


def test_offline_never_downloads_and_says_what_to_do(monkeypatch) -> None:
    def offline_only(repo_id, **kwargs):
        assert kwargs["local_files_only"] is True
        raise LocalEntryNotFoundError("not cached")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline_only)
    monkeypatch.setenv("NAVA_EVAL_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="offline mode is on.*nava-eval weights download nava"):
        WD.download_nava_weights(redimnet=True)
