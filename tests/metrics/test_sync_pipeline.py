"""The whole Sync pipeline (decode, S3FD, shots, tracking, crop, SyncNet) on synthetic clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.metrics.base import ScoreInput, get_metric
from nava_eval.metrics.face_tracking import (
    FaceTrack,
    TrackingOptions,
    content_cuts,
    scenes_from_cuts,
    track_faces,
)
from nava_eval.metrics.sync import SyncNetMetric
from nava_eval.runners.perf.sync import write_synthetic_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sync_clips")
    return {
        "talking": write_synthetic_clip(d / "talking.mp4", n_frames=110, size=(128, 128), seed=1),
        "silent": write_synthetic_clip(d / "silent.mp4", n_frames=110, size=(128, 128), seed=2, silent=True),
        "short": write_synthetic_clip(d / "short.mp4", n_frames=60, size=(128, 128), seed=3),
        "tiny": write_synthetic_clip(d / "tiny.mp4", n_frames=30, size=(64, 64), seed=4),
    }


@pytest.fixture(scope="module")
def smoke_outcomes(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    corrupt = tmp_path_factory.mktemp("corrupt") / "broken.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not a video" * 50)
    # Smoke weights under the official track rules (smoke mode alone relaxes them; see below).
    metric = get_metric("sync", smoke=True, details=True, tracking=TrackingOptions())
    metric.setup("cpu")
    names = ["talking", "silent", "short", "tiny", "corrupt", "missing"]
    paths = [
        clips["talking"],
        clips["silent"],
        clips["short"],
        clips["tiny"],
        corrupt,
        corrupt.parent / "nope.mp4",
    ]
    outs = metric.score_batch([ScoreInput(n, "s", p) for n, p in zip(names, paths, strict=True)])
    return {"metric": metric, **dict(zip(names, outs, strict=True))}


@pytest.mark.slow
def test_smoke_detector_finds_a_track_and_scores_it(smoke_outcomes: dict) -> None:
    out = smoke_outcomes["talking"]
    assert out.status == "ok", out.reason
    v = out.values
    assert v["n_tracks"] == 1
    track = v["tracks"][0]
    assert track["n_frames"] > 100 and track["n_windows"] == track["n_frames"] - 5
    assert len(v["mean_dist"]) == 31
    assert v["sync_d"] == pytest.approx(min(v["mean_dist"]))
    assert v["sync_c"] == pytest.approx(float(np.median(v["mean_dist"])) - min(v["mean_dist"]))
    assert -15 <= v["offset"] <= 15
    assert smoke_outcomes["metric"].protocol == "sync/syncnet-lse-pass-v2+smoke-random-weights"
    # MOVA's shots come from PySceneDetect 0.6 reading video.avi with OpenCV (110 frames here), while
    # the faces come from ffmpeg's JPEG dump (112): its one shot, and so its track, ends two frames earlier.
    (mova,) = [t for t in v["tracks"] if t["mova"]]
    assert v["n_tracks_mova"] == 1 and mova["end_frame"] == 109 and track["syncnet"]
    assert (v["sync_c_mova"], v["sync_d_mova"]) == (mova["sync_c"], mova["sync_d"])


@pytest.mark.slow
def test_mova_rules_score_short_and_silent_clips_that_syncnet_skips(smoke_outcomes: dict) -> None:
    silent = smoke_outcomes["silent"]
    assert silent.status == "ok", silent.reason  # MOVA's toolkit scores silent audio
    assert silent.values["sync_c"] is None and "silent audio" in silent.values["syncnet_skip_reason"]
    assert isinstance(silent.values["sync_c_mova"], float) and isinstance(silent.values["sync_d_mova"], float)
    short = smoke_outcomes["short"]  # 60 frames: no track under syncnet_python's 100, one under MOVA's 20
    assert short.status == "ok", short.reason
    assert short.values["sync_c"] is None and short.values["n_tracks"] == 0
    assert "more than 100" in short.values["syncnet_skip_reason"]
    (track,) = short.values["tracks"]
    assert track["mova"] and not track["syncnet"] and 20 < track["n_frames"] <= 100
    assert short.values["sync_c_mova"] == track["sync_c"] and short.values["sync_d_mova"] == track["sync_d"]


@pytest.mark.slow
def test_unscorable_clips_are_skipped_or_failed_with_reasons(smoke_outcomes: dict) -> None:
    tiny = smoke_outcomes["tiny"]  # 64×64: 16 px after facedet_scale 0.25, below S3FD's smallest input
    assert tiny.status == "skipped" and "too small for S3FD" in tiny.reason and "112 px" in tiny.reason
    assert smoke_outcomes["corrupt"].status == "failed"
    assert "cannot decode" in smoke_outcomes["corrupt"].reason
    assert smoke_outcomes["missing"].status == "failed" and "no such file" in smoke_outcomes["missing"].reason


@pytest.mark.slow
def test_smoke_mode_relaxes_track_rules_so_short_clips_score(clips: dict[str, Path]) -> None:
    from nava_eval.metrics.sync import SMOKE_TRACKING

    metric = SyncNetMetric(smoke=True)
    assert metric.tracking == SMOKE_TRACKING and metric.protocol.endswith("+smoke-random-weights")
    assert "custom-tracking" not in metric.protocol
    metric.setup("cpu")
    (out,) = metric.score_batch([ScoreInput("short", "s", clips["short"])])
    assert out.status == "ok", out.reason  # 60 frames: skipped under the official 100-frame rule


@pytest.mark.slow
def test_random_detector_without_faces_skips_with_reason(clips: dict[str, Path], monkeypatch) -> None:
    """Plain random S3FD weights see no face above 0.9: skipped (never 0), and the reason says why."""
    from nava_eval.metrics import syncnet_model

    real = syncnet_model.smoke_s3fd
    monkeypatch.setattr(
        syncnet_model, "smoke_s3fd", lambda seed=0, find_faces=True: real(seed, find_faces=False)
    )
    metric = SyncNetMetric(smoke=True)
    metric.setup("cpu")
    (out,) = metric.score_batch([ScoreInput("talking", "s", clips["talking"])])
    assert out.status == "skipped"
    assert out.reason.startswith("no face track: faces (S3FD > 0.9) in 0 of")
    assert out.values["frames_with_faces"] == 0


def _scores(*cd: tuple[float, float]):
    from nava_eval.metrics.syncnet_model import TrackScore

    return [TrackScore(0, d, c, [d] * 31, [], 10, 0.0) for c, d in cd]


def test_mova_value_is_the_first_track_with_the_largest_c_minus_d() -> None:
    from nava_eval.metrics.sync import _ItemTracks

    item = _ItemTracks(index=0, n_frames=300, syncnet_idx=[0, 2], mova_idx=[0, 1, 2, 3])
    item.tracks = [FaceTrack(np.arange(5), np.zeros((5, 4))) for _ in range(4)]
    # C − D: 1, 4, 4, −2 → track 1 (first of the tie), as eval_lip_sync.py's strict ">" keeps it.
    a, b, c, d = _scores((8.0, 7.0), (9.0, 5.0), (6.0, 2.0), (1.0, 3.0))
    out = SyncNetMetric()._outcome(item, {0: a, 1: b, 2: c, 3: d})
    assert out.status == "ok"
    assert (out.values["sync_c_mova"], out.values["sync_d_mova"]) == (9.0, 5.0)
    assert out.values["sync_c"] == pytest.approx((8.0 + 6.0) / 2)  # syncnet_python: mean over its tracks
    assert out.values["sync_d"] == pytest.approx((7.0 + 2.0) / 2)
    assert (out.values["n_tracks"], out.values["n_tracks_mova"]) == (2, 4)


def test_mova_drops_a_clip_with_a_windowless_track_syncnet_keeps_the_rest() -> None:
    from nava_eval.metrics.sync import _ItemTracks

    item = _ItemTracks(index=0, n_frames=300, syncnet_idx=[0], mova_idx=[0, 1])
    item.tracks = [FaceTrack(np.arange(5), np.zeros((5, 4))) for _ in range(2)]
    (a,) = _scores((8.0, 7.0))
    out = SyncNetMetric()._outcome(item, {0: a})  # track 1 had no full window
    assert out.status == "ok" and out.values["sync_c"] == 8.0
    assert out.values["sync_c_mova"] is None and "drops the clip" in out.values["mova_skip_reason"]
    both = SyncNetMetric()._outcome(
        _ItemTracks(0, 300, syncnet_idx=[], mova_idx=[1], syncnet_reason="no face track: x"), {}
    )
    assert both.status == "skipped" and "no face track: x" in both.reason and "drops the clip" in both.reason


def test_aggregation_video_vs_track() -> None:
    from nava_eval.metrics.base import ScoreOutcome

    def ok(c: list[float]) -> ScoreOutcome:
        tracks = [{"sync_c": x, "sync_d": 10 - x} for x in c]
        return ScoreOutcome.ok(
            sync_c=float(np.mean(c)),
            sync_d=float(np.mean([10 - x for x in c])),
            n_tracks=len(c),
            tracks=tracks,
        )

    outs = [ok([1.0]), ok([2.0, 4.0]), ScoreOutcome.skipped("no face track"), ScoreOutcome.failed("x")]
    video = SyncNetMetric().aggregate(outs)
    assert video["sync_c"] == pytest.approx((1.0 + 3.0) / 2)
    assert (video["n"], video["n_skipped"], video["n_failed"], video["n_tracks"]) == (2, 1, 1, 3)
    track = SyncNetMetric(aggregation="track").aggregate(outs)
    assert track["sync_c"] == pytest.approx((1 + 2 + 4) / 3)
    assert track["sync_d"] == pytest.approx(10 - 7 / 3)


def test_batched_s3fd_matches_package_detect_faces() -> None:
    """Filter-then-NMS over batched frames gives detect_faces' boxes (ties at saturated 1.0 included)."""
    import cv2

    from nava_eval.metrics.s3fd import S3FDDetector, build_s3fd_net, reference_detect

    torch.manual_seed(3)
    net = build_s3fd_net().eval()
    with torch.no_grad():
        for head in net.conf:  # sharpen the random scores so many boxes pass 0.9
            head.weight.mul_(30)
            head.bias[-1] += 1.0
    rng = np.random.default_rng(0)
    images = [(rng.random((192, 256, 3)) * 255).astype(np.uint8) for _ in range(2)]
    images.append(np.full((192, 256, 3), 128, np.uint8))  # uniform: saturated, tied scores
    det = S3FDDetector(net, "cpu", batch_size=3)
    ours = det.detect([det.prepare(im, 0.25) for im in images], (256, 192), 0.9)

    def canon(a: np.ndarray) -> np.ndarray:
        return a[np.lexsort(a[:, :4].round(2).T)]

    for image, boxes in zip(images, ours, strict=True):
        ref = reference_detect(net, cv2.cvtColor(image, cv2.COLOR_BGR2RGB), 0.9, 0.25)
        assert len(ref) > 0 and boxes.shape == ref.shape
        np.testing.assert_allclose(canon(boxes), canon(ref), atol=1e-3)


def test_track_shot_follows_official_rules() -> None:
    """IoU linking, ≤25 missed frames, > min_track detections, mean size > min_face_size, interpolation."""
    opt = TrackingOptions()
    big = np.array([10.0, 10.0, 130.0, 140.0, 0.99])
    small = np.array([300.0, 10.0, 360.0, 70.0, 0.99])  # 60 px: a track, but too small
    dets = []
    for f in range(130):
        frame = []
        if f not in range(40, 60):  # a 20-frame gap: bridged (≤ 25), then interpolated
            frame.append(big + np.array([f * 0.1, 0, f * 0.1, 0, 0]))
        frame.append(small)
        dets.append(np.array(frame))
    tracks = track_faces(opt, dets, [(0, 130)])
    assert len(tracks) == 1
    t = tracks[0]
    assert t.frame[0] == 0 and t.frame[-1] == 129 and len(t.frame) == 130
    np.testing.assert_allclose(t.bbox[50, 0], 10.0 + 5.0)  # interpolated across the gap
    # a shot shorter than min_track is not tracked at all
    assert track_faces(opt, dets, [(0, 100), (100, 130)]) == []


def test_content_detector_finds_a_hard_cut() -> None:
    rng = np.random.default_rng(0)
    a = np.full((64, 64, 3), (20, 200, 40), np.uint8)
    b = np.full((64, 64, 3), (200, 30, 220), np.uint8)
    frames = [a + rng.integers(0, 3, a.shape, dtype=np.uint8) for _ in range(30)]
    frames += [b + rng.integers(0, 3, b.shape, dtype=np.uint8) for _ in range(30)]
    cuts = content_cuts(frames)
    assert cuts == [30]
    assert scenes_from_cuts(cuts, 60) == [(0, 30), (30, 60)]
    assert scenes_from_cuts([], 60) == [(0, 60)]


def test_legacy_range_luts_match_ffmpeg_luma() -> None:
    """Luma: ffmpeg 5.1 and current ffmpeg agree (the formula is unchanged); spot values."""
    from nava_eval.metrics.media_decode import legacy_range_luts

    luma, chroma = legacy_range_luts()
    assert luma[16] == 0 and luma[235] == 255 and chroma[128] == 128
    assert chroma[16] == 0 and chroma[240] == 255
    assert np.all(np.diff(luma.astype(int)) >= 0) and np.all(np.diff(chroma.astype(int)) >= 0)


def test_missing_weights_error_names_file_and_command(monkeypatch, tmp_path: Path) -> None:
    from nava_eval.metrics.weights import WeightsMissingError

    monkeypatch.setenv("NAVA_EVAL_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsMissingError) as err:
        SyncNetMetric(cropped=True).setup("cpu")
    msg = str(err.value)
    assert (
        "syncnet_v2.model" in msg
        and "nava-eval weights download syncnet" in msg
        and "--weights syncnet=PATH" in msg
    )


def test_s3fd_smallest_input_is_measured_on_the_network(tmp_path):
    """The size rule's constant (S3FD_MIN_SIDE) is what the loaded network actually needs."""
    from nava_eval.metrics.base import ScoreInput, get_metric
    from nava_eval.metrics.sync import S3FD_MIN_SIDE
    from nava_eval.nava.media import write_mp4

    rng = np.random.default_rng(0)
    clip = tmp_path / "tiny.mp4"
    # The smoke tracking detects at full size (facedet_scale 1.0), so 24-px frames stay under the minimum.
    frames = rng.integers(0, 255, size=(150, 24, 24, 3), dtype=np.uint8)
    write_mp4(
        clip,
        frames,
        25.0,
        audio=(rng.standard_normal((2, 96000)) * 0.1).astype(np.float32),
        sample_rate=16000,
    )
    metric = get_metric("sync", smoke=True)
    metric.setup("cpu")
    (outcome,) = metric.score_batch([ScoreInput(id="tiny", set="s", output=clip)])
    assert outcome.status == "skipped", outcome
    assert "frames of 24×24 px" in outcome.reason and "too small for S3FD" in outcome.reason
    assert f"needs {S3FD_MIN_SIDE} px a side" in outcome.reason
    assert metric._detector.min_input_side == S3FD_MIN_SIDE


def test_mova_rules_match_its_eval_lip_sync_and_run_pipeline(tmp_path: Path) -> None:
    """Reference from MOVA's own files (tests/metrics/reference/README.md): best-track values per clip
    from `compute_lip_scores_from_crops`, and shots from its run_pipeline `scene_detect` (PySceneDetect 0.6)."""
    import json

    import cv2

    from nava_eval.metrics.face_tracking import scenes_pyscenedetect06
    from nava_eval.metrics.sync import _ItemTracks

    ref = json.loads((Path(__file__).parent / "reference" / "mova_lip_sync.json").read_text())
    for case in ref["selection"]:
        n = len(case["tracks"])
        item = _ItemTracks(index=0, n_frames=500, syncnet_idx=list(range(n)), mova_idx=list(range(n)))
        item.tracks = [FaceTrack(np.arange(30), np.zeros((30, 4))) for _ in range(n)]
        scores = _scores(*[(t["conf"], t["dist"]) for t in case["tracks"]])
        out = SyncNetMetric()._outcome(item, dict(enumerate(scores)))
        assert out.values["sync_c_mova"] == case["max_C_inperson"]
        assert out.values["sync_d_mova"] == case["min_D_inperson"]
        assert out.values["sync_c"] == pytest.approx(case["mean_LSE-C"])  # syncnet_python's mean
    for case in ref["scenes"]:
        path = tmp_path / f"{case['name']}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"XVID"), 25, (128, 96))
        rng = np.random.default_rng(0)
        for count, level in case["segments"]:
            for _ in range(count):
                writer.write(
                    np.full((96, 128, 3), level, np.uint8) + rng.integers(0, 3, (96, 128, 3), dtype=np.uint8)
                )
        writer.release()
        assert scenes_pyscenedetect06(path) == [tuple(s) for s in case["scenes"]], case["name"]
