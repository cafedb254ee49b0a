"""Sync-C/Sync-D against the shared SyncNet reference vectors (official code, random weights).

Two input paths (fixture README): `raw_inputs` (the exact frames and audio handed to evaluate())
and `official_mp4_pipeline` (clip.mp4 through ffmpeg → JPEG files → cv2.imread, audio through
ffmpeg at 16 kHz). Agreement is required to 1e-3 on the 31-value curve, Sync-C and Sync-D, and the
offset must be identical.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from nava_eval.metrics.base import ScoreInput
from nava_eval.metrics.sync import OFFSETS, SyncNetMetric

TOL = 1e-3


@pytest.fixture(scope="module")
def fixture_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "syncnet"


@pytest.fixture(scope="module")
def expected(fixture_dir: Path) -> dict:
    return json.loads((fixture_dir / "expected.json").read_text())


@pytest.fixture(scope="module")
def syncnet_weights(fixture_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The random-weight SyncNet as .safetensors (the .pt is never unpickled), checksum checked."""
    out = tmp_path_factory.mktemp("syncnet_weights")
    with tarfile.open(fixture_dir / "weights.tar.xz", "r:xz") as tar:
        member = tar.getmember("syncnet_random_seed1234.safetensors")
        tar.extractall(out, members=[member], filter="data")
    path = out / "syncnet_random_seed1234.safetensors"
    sums = dict(
        line.split()[::-1] for line in (fixture_dir / "weights_SHA256SUMS").read_text().splitlines() if line
    )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[path.name]
    return path


@pytest.fixture(scope="module")
def outcomes(fixture_dir: Path, syncnet_weights: Path) -> dict:
    metric = SyncNetMetric(cropped=True, details=True, weights={"syncnet": syncnet_weights})
    metric.setup("cpu")
    clip = fixture_dir / "clip"
    items = [
        ScoreInput("mp4", "fixture", clip / "clip.mp4"),
        ScoreInput("raw", "fixture", clip / "frames_bgr.npz", meta={"audio": str(clip / "audio_16k.wav")}),
    ]
    mp4, raw = metric.score_batch(items)
    bypass = metric.score_arrays(
        np.load(fixture_dir / "decoded_by_official_pipeline" / "frames_bgr_from_jpg.npz")["frames"],
        _read_wav(fixture_dir / "decoded_by_official_pipeline" / "audio_ffmpeg_16k.wav"),
    )
    return {"metric": metric, "official_mp4_pipeline": mp4, "raw_inputs": raw, "bypass": bypass}


def _read_wav(path: Path) -> np.ndarray:
    from scipy.io import wavfile

    return wavfile.read(str(path))[1]


def _check(outcome, exp: dict, tol: float = TOL) -> None:
    assert outcome.status == "ok", outcome.reason
    v = outcome.values
    assert v["offset"] == exp["av_offset"]
    assert abs(v["sync_d"] - exp["sync_d_minval"]) < tol
    assert abs(v["sync_c"] - exp["sync_c_conf"]) < tol
    assert len(v["mean_dist"]) == 31
    assert v["curve_offsets"] == OFFSETS == exp["offsets_for_mean_dist"]
    np.testing.assert_allclose(v["mean_dist"], exp["mean_dist_per_offset"], atol=tol, rtol=0)
    assert v["n_tracks"] == 1 and v["tracks"][0]["n_windows"] == exp["n_feature_frames"]


@pytest.mark.slow
def test_raw_inputs_path_matches_reference(outcomes: dict, expected: dict) -> None:
    _check(outcomes["raw_inputs"], expected["raw_inputs"], tol=2e-5)  # float32 noise per the README
    np.testing.assert_allclose(
        outcomes["raw_inputs"].values["tracks"][0]["framewise_conf"],
        expected["raw_inputs"]["framewise_conf_raw"],
        atol=1e-4,
    )


@pytest.mark.slow
def test_mp4_path_matches_official_decode(outcomes: dict, expected: dict) -> None:
    _check(outcomes["official_mp4_pipeline"], expected["official_mp4_pipeline"])


@pytest.mark.slow
def test_decode_bypass_is_exact(outcomes: dict, expected: dict) -> None:
    """The official decoded files through our model/scoring: float32 noise only."""
    _check(outcomes["bypass"], expected["official_mp4_pipeline"], tol=2e-5)


def test_jpeg_decode_reproduces_official_frames_bit_for_bit(fixture_dir: Path, tmp_path: Path) -> None:
    """ffmpeg ≥ 7.1 rounds chroma differently; our legacy range conversion restores ffmpeg 5.1's JPEGs."""
    from nava_eval.metrics.media_decode import dump_jpeg_frames, read_jpeg_frames

    ours = read_jpeg_frames(dump_jpeg_frames(fixture_dir / "clip" / "clip.mp4", tmp_path / "frames"))
    ref = np.load(fixture_dir / "decoded_by_official_pipeline" / "frames_bgr_from_jpg.npz")["frames"]
    assert ours.shape == ref.shape
    assert np.array_equal(ours, ref)


def test_audio_decode_is_time_aligned(fixture_dir: Path, tmp_path: Path) -> None:
    """Our ffmpeg trims the AAC padding (48000 samples vs the reference's 48128); the samples agree."""
    from nava_eval.metrics.media_decode import extract_audio_16k, read_wav_int16

    ours = read_wav_int16(extract_audio_16k(fixture_dir / "clip" / "clip.mp4", tmp_path / "a.wav"))
    ref = _read_wav(fixture_dir / "decoded_by_official_pipeline" / "audio_ffmpeg_16k.wav")
    n = min(len(ours), len(ref))
    assert n >= 48000
    assert np.abs(ours[:n].astype(np.int32) - ref[:n]).max() <= 2


def test_protocol_and_provenance(outcomes: dict, syncnet_weights: Path) -> None:
    metric = outcomes["metric"]
    assert metric.protocol == "sync/syncnet-lse-pass-v2+cropped"
    assert [f.protocol_for(metric.protocol) for f in metric.fields] == [
        "sync/syncnet-lse-v1+cropped",
        "sync/syncnet-lse-v1+cropped",
        "sync/mova-lse-v1+cropped",
        "sync/mova-lse-v1+cropped",
    ]
    prov = metric.weights_provenance["syncnet"]
    assert prov["sha256"] == hashlib.sha256(syncnet_weights.read_bytes()).hexdigest()
    assert prov["source"] == "override"
