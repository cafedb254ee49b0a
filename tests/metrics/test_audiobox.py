"""Audiobox Aesthetics against the official package's output (tiny random WavLM), keys, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from nava_eval.metrics import audiobox as ab
from nava_eval.metrics.base import ScoreInput, get_metric, metric_entries
from nava_eval.nava.media import write_mp4
from tests.seeded_weights import audiobox_tiny_checkpoint

DATA = Path(__file__).parent / "data" / "audiobox"
# Official float32 CPU run vs ours (same float32 network, other op order): agreement to 1e-4 on the
# 1–10 scale (observed ≤ 3e-6).
TOL = 1e-4


@pytest.fixture(scope="module")
def expected() -> dict:
    # audiobox-aesthetics 0.0.4 AesPredictor.forward on the three wavs, checkpoint written in the
    # official layout (see "source" in the file).
    return json.loads((DATA / "expected.json").read_text())


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The checkpoint make_audiobox.py gave the official predictor, rebuilt from its recorded keys and seed.
    return audiobox_tiny_checkpoint(tmp_path_factory.mktemp("audiobox"))


@pytest.fixture(scope="module")
def tiny_metric(tiny_checkpoint: Path) -> ab.AudioboxAesthetics:
    metric = ab.AudioboxAesthetics(batch_size=2)
    metric.model = ab.load_audiobox(tiny_checkpoint, "cpu", ab.tiny_wavlm_config())
    return metric


def test_matches_the_official_predictor(
    expected: dict, tiny_metric: ab.AudioboxAesthetics, reference_wavs: dict[str, Path]
) -> None:
    wavs = reference_wavs["audiobox"]
    names = list(expected["files"])
    outs = tiny_metric.score_batch([ScoreInput(n, "set1", wavs / n) for n in names])
    for name, out in zip(names, outs, strict=True):
        assert out.status == "ok", out.reason
        for axis, value in expected["files"][name]["one_at_a_time"].items():
            assert out.values[axis.lower()] == pytest.approx(value, abs=TOL), (name, axis)
            # The official batched call gives the same numbers as one file at a time.
            assert expected["files"][name]["batched"][axis] == pytest.approx(value, abs=TOL)
    # 11.3 s -> two windows, 20 s exactly -> two full windows, 1.5 s -> one.
    assert [o.values["windows"] for o in outs] == [2, 1, 2]


def test_batching_does_not_change_values(
    expected: dict, tiny_metric: ab.AudioboxAesthetics, reference_wavs: dict[str, Path]
) -> None:
    wavs = reference_wavs["audiobox"]
    names = list(expected["files"])
    together = tiny_metric.score_batch([ScoreInput(n, "set1", wavs / n) for n in names])
    alone = [tiny_metric.score_batch([ScoreInput(n, "set1", wavs / n)])[0] for n in names]
    for a, b in zip(together, alone, strict=True):
        assert a.values["pq"] == pytest.approx(b.values["pq"], abs=1e-5)


def test_windows_follow_make_inference_batch() -> None:
    wave = np.arange(25 * 16_000, dtype=np.float32)
    wins = ab.windows_of(wave)
    assert [w[2] for w in wins] == [1.0, 1.0, 0.5]
    assert wins[2][1].sum() == 5 * 16_000 and wins[2][0][5 * 16_000 :].max() == 0.0
    assert wins[1][0][0] == 160_000


def test_frame_mask_is_all_samples_padding() -> None:
    # 160000 samples -> 499 frames of 320 (the trailing 320 samples are dropped), as forward_padding_mask.
    mask = torch.zeros(1, 160_000, dtype=torch.bool)
    mask[0, :641] = True  # frame 0, 1 fully real; frame 2 has one real sample -> not padding
    frames = ab.frame_padding_mask(mask, 499)
    assert frames.shape == (1, 499)
    assert frames[0, :3].tolist() == [False, False, False] and frames[0, 3:].all()


def test_checkpoint_keys_map_strictly(tiny_checkpoint: Path) -> None:
    with pytest.raises(ab.AudioboxCheckpointError, match="not part of"):
        ab.map_checkpoint_keys({"model.something_else.weight": torch.zeros(1)})
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    mapped = ab.map_checkpoint_keys(ckpt["state_dict"])
    assert "wavlm.feature_extractor.conv_layers.0.layer_norm.weight" in mapped
    assert "proj_layer.PQ.3.weight" in mapped  # Linear, LayerNorm, GELU, Linear


def test_bad_input_is_recorded_per_file(tmp_path: Path, tiny_metric: ab.AudioboxAesthetics) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000, np.float32), 16_000)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16_000)
    video_only = write_mp4(tmp_path / "v.mp4", np.zeros((3, 32, 32, 3), np.uint8), fps=24)
    outs = tiny_metric.score_batch(
        [
            ScoreInput("s", "set1", silent),
            ScoreInput("e", "set1", empty),
            ScoreInput("v", "set2", video_only),
            ScoreInput("m", "set2", tmp_path / "missing.wav"),
        ]
    )
    assert [o.status for o in outs] == ["ok", "failed", "skipped", "failed"]
    assert np.isfinite(outs[0].values["pq"])
    assert "no samples" in outs[1].reason and "no audio stream" in outs[2].reason


def test_smoke_metric_and_registry() -> None:
    metric = get_metric("audiobox", smoke=True)
    assert metric.protocol == "audiobox/versebench-aesthetics-v1+smoke-random-weights"
    entry = metric_entries()["audiobox"]
    assert [f.name for f in entry.fields] == ["pq", "ce", "cu", "pc"] == [f.name for f in metric.fields]
    metric.setup("cpu")
    (scores,) = metric.score_waves([np.sin(np.arange(24_000) / 10.0).astype(np.float32)])
    assert set(scores) == {"pq", "ce", "cu", "pc"} and all(np.isfinite(v) for v in scores.values())
