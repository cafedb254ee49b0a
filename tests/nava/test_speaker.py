"""Speaker embeddings: official preprocessing, the deterministic tiny embedder, offline ReDimNet error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.nava.media import write_wav
from nava_eval.nava.speaker import (
    FETCH_COMMAND,
    SPEAKER_DIM,
    ReDimNetEmbedder,
    TinySpeakerEmbedder,
    embed_speaker_files,
    prepare_waveform,
)


def _voice(f0: float, seconds: float = 1.0, rate: int = 16000, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wav = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 2 * f0 * t)
    return np.stack([wav] * channels).astype(np.float32)


def test_prepare_waveform_is_mono_16k_first_30s() -> None:
    stereo = np.stack([np.ones(48000 * 31), -np.ones(48000 * 31) * 0.5]).astype(np.float32)
    out = prepare_waveform(stereo, 48000)
    assert out.shape == (16000 * 30,)
    assert torch.allclose(out[1000:-1000], torch.full((16000 * 30 - 2000,), 0.25), atol=1e-3)


def test_tiny_embedder_is_deterministic_and_separates_voices() -> None:
    embedder = TinySpeakerEmbedder(seed=0)
    low, high = (embedder.embed(prepare_waveform(_voice(f), 16000)) for f in (120.0, 300.0))
    assert low.shape == (SPEAKER_DIM,) and torch.isclose(low.norm(), torch.tensor(1.0))
    assert torch.equal(low, TinySpeakerEmbedder(seed=0).embed(prepare_waveform(_voice(120.0), 16000)))
    assert torch.dot(low, high) < 0.99


def test_embed_files_in_order(tmp_path: Path) -> None:
    paths = [write_wav(tmp_path / f"{i}.wav", _voice(f, channels=2)) for i, f in enumerate((120.0, 300.0))]
    embedder = TinySpeakerEmbedder()
    vectors = embed_speaker_files(embedder, paths)
    assert vectors.shape == (2, SPEAKER_DIM)
    assert not torch.allclose(vectors[0], vectors[1])
    torch.testing.assert_close(embed_speaker_files(embedder, paths[::-1]), vectors.flip(0))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope")
    with pytest.raises(ValueError, match="unreadable audio"):
        embed_speaker_files(embedder, [bad])


def test_redimnet_without_hub_cache_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=FETCH_COMMAND):
        ReDimNetEmbedder(hub_dir=tmp_path)


_FAKE_HUBCONF = """
import torch
dependencies = ["torch"]

class _Embed(torch.nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.proj = torch.nn.Linear(1, 192)

    def forward(self, wav):
        assert wav.ndim == 2 and wav.shape[0] == 1
        return self.proj(wav.mean(dim=1, keepdim=True))

def ReDimNet(model_name, train_type="ptn", dataset="vox2"):
    if model_name != "M":
        raise OSError("no network: weights for " + model_name + " not cached")
    return _Embed((model_name, train_type, dataset))
"""


def test_redimnet_loads_from_the_hub_cache_with_the_official_arguments(tmp_path: Path) -> None:
    repo = tmp_path / "IDRnD_ReDimNet_main"
    repo.mkdir()
    (repo / "hubconf.py").write_text(_FAKE_HUBCONF)
    before = torch.hub.get_dir()
    embedder = ReDimNetEmbedder(hub_dir=tmp_path)
    assert torch.hub.get_dir() == before  # the caller's hub directory is left as it was
    assert embedder.model.args == ("M", "ft_mix", "vb2+vox2+cnc")
    vector = embedder.embed(prepare_waveform(_voice(200.0), 16000))
    assert vector.shape == (SPEAKER_DIM,) and vector.dtype == torch.float32


def test_redimnet_weights_missing_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "IDRnD_ReDimNet_master"
    repo.mkdir()
    (repo / "hubconf.py").write_text(_FAKE_HUBCONF)
    monkeypatch.setattr(
        "nava_eval.nava.speaker.REDIMNET_ARGS", {"model_name": "L", "train_type": "ft_mix", "dataset": "x"}
    )
    with pytest.raises(FileNotFoundError, match=f"no network.*{FETCH_COMMAND}"):
        ReDimNetEmbedder(hub_dir=tmp_path)
