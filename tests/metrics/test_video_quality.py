"""Video quality (Verse-Bench AS, VBench imaging quality) with tiny seeded networks on a few frames."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from metrics.base import ScoreInput, get_metric
from metrics.video_quality import (
    ImagingQuality,
    VerseBenchVideoQuality,
    decode_rgb_frames,
    seeded_crops,
    to_tensor01,
)
from runners.bench_sync import write_synthetic_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_clip(tmp_path_factory.mktemp("vq") / "c.mp4", n_frames=6, size=(96, 80), seed=5)


def test_decode_gives_every_frame_rgb(clip: Path) -> None:
    frames = decode_rgb_frames(clip)
    assert frames.shape == (6, 80, 96, 3) and frames.dtype == np.uint8
    # the drawn face is skin-coloured (BGR 140,170,220 → RGB 220,170,140) at the centre
    assert frames[0, 40, 48, 0] > frames[0, 40, 48, 2]
    assert decode_rgb_frames(clip, stride=2).shape[0] == 3


def test_versebench_smoke_combines_components(clip: Path, tmp_path: Path) -> None:
    metric = get_metric("video_quality", smoke=True, details=True)
    assert isinstance(metric, VerseBenchVideoQuality)
    assert metric.protocol == "video-quality/versebench-as-v1+smoke-random-weights"
    metric.setup("cpu")
    wav = tmp_path / "a.wav"
    from scipy.io import wavfile

    wavfile.write(str(wav), 16000, np.zeros(1600, np.int16))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope" * 20)
    ok, audio_only, corrupt = metric.score_batch(
        [ScoreInput("c", "s", clip), ScoreInput("w", "s", wav), ScoreInput("b", "s", bad)]
    )
    assert ok.status == "ok", ok.reason
    v = ok.values
    assert v["n_frames"] == 6 and len(v["per_frame"]["maniqa"]) == 6
    assert 1 <= v["aesthetic_mean"] <= 10 and 0 <= v["musiq_mean"] <= 100 and 0 <= v["maniqa_mean"] <= 1
    expected = (
        np.mean(v["per_frame"]["aesthetic"]) / 10
        + np.mean(v["per_frame"]["musiq"]) / 100
        + np.mean(v["per_frame"]["maniqa"])
    ) / 3
    assert v["video_quality"] == pytest.approx(expected)
    assert audio_only.status == "skipped" and audio_only.reason == "no video stream"
    assert corrupt.status == "failed" and "cannot decode" in corrupt.reason
    agg = metric.aggregate([ok, audio_only, corrupt])
    assert agg == {"video_quality": v["video_quality"], "n": 1, "n_skipped": 1, "n_failed": 1}

    # seeded: a second instance (and another batch composition) gives the same numbers
    again = VerseBenchVideoQuality(smoke=True)
    again.setup("cpu")
    (ok2,) = again.score_batch([ScoreInput("c", "s", clip)])
    assert ok2.values["video_quality"] == pytest.approx(v["video_quality"], abs=1e-9)


def test_imaging_quality_smoke_and_resize_policy(clip: Path) -> None:
    metric = ImagingQuality(smoke=True, frame_stride=2)
    assert metric.protocol == "imaging-quality/musiq-spaq-v1+stride2+smoke-random-weights"
    metric.setup("cpu")
    (out,) = metric.score_batch([ScoreInput("c", "s", clip)])
    assert out.status == "ok" and out.values["n_frames"] == 3
    assert out.values["imaging_quality"] == pytest.approx(out.values["musiq_spaq_mean"] / 100)
    scorer = metric._scorers["musiq_spaq"]
    big = torch.zeros(1, 3, 720, 1280)
    assert tuple(scorer._prep(big).shape[2:]) == (288, 512)  # VBench 'longer': longer side → 512
    assert tuple(scorer._prep(torch.zeros(1, 3, 80, 96)).shape[2:]) == (80, 96)  # small frames untouched


def test_seeded_crops_are_deterministic_and_padded() -> None:
    x = to_tensor01(np.random.default_rng(0).integers(0, 255, (1, 300, 400, 3), dtype=np.uint8), "cpu")
    a, b, c = seeded_crops(x, 20, 224, 7), seeded_crops(x, 20, 224, 7), seeded_crops(x, 20, 224, 8)
    assert a.shape == (20, 3, 224, 224) and torch.equal(a, b) and not torch.equal(a, c)
    small = seeded_crops(torch.ones(1, 3, 100, 120), 3, 224, 0)
    assert small.shape == (3, 3, 224, 224) and float(small.sum()) == pytest.approx(3 * 3 * 100 * 120)


@pytest.mark.skipif(importlib.util.find_spec("pyiqa") is not None, reason="pyiqa is installed here")
def test_real_metric_without_pyiqa_names_the_extra() -> None:
    with pytest.raises(ImportError, match=r"pip install 'nava-eval\[iqa\]'"):
        VerseBenchVideoQuality().setup("cpu")
    with pytest.raises(ImportError, match="PolyForm-Noncommercial"):
        ImagingQuality().setup("cpu")
