"""AV-Align against MOVA's official av_align_score.py on clips rebuilt at test time; the metric class."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nava_eval.metrics import av_align as ava
from nava_eval.metrics.base import ScoreInput, get_metric
from nava_eval.metrics.media_decode import ffmpeg_exe

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import av_reference_clips as clips  # noqa: E402

REFERENCE = Path(__file__).parent / "reference" / "av_align_reference.json"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, reference: dict) -> dict[str, Path]:
    """The reference clips, rebuilt and checked byte for byte against the ones the script scored."""
    paths = clips.build_all(tmp_path_factory.mktemp("av_align_clips"), ffmpeg_exe())
    for case in reference["cases"]:
        got = clips.sha256(paths[case["name"]])
        assert got == case["sha256"], (
            f"{case['name']}.mp4 rebuilt with other bytes ({got[:12]} ≠ {case['sha256'][:12]}): this ffmpeg "
            f"({ffmpeg_exe()}) encodes differently from the reference's ({reference['ffmpeg']}); set "
            "NAVA_EVAL_FFMPEG to that build or remake the reference (make_av_align.py)"
        )
    return paths


def test_reference_covers_the_protocol_edges(reference: dict) -> None:
    """The vectors include a portrait, a 29.97 fps, a silent-track, a sub-window and a no-audio clip."""
    by_name = {c["name"]: c for c in reference["cases"]}
    assert by_name["portrait_2997fps"]["fps"] == pytest.approx(30000 / 1001)
    assert by_name["silent_track_24fps"]["onset_times"] == []
    assert by_name["short_0p4s"]["n_frames"] == 10
    assert by_name["one_frame"]["n_frames"] == 1
    assert by_name["no_audio_stream"]["onset_times"] == []
    # scores spread over the range, so a wrong step shows in at least one of them
    assert {c["score"] for c in reference["cases"]} >= {0.0, 1.0, 0.875}


def test_each_stage_matches_the_official_script(reference: dict, built: dict[str, Path]) -> None:
    """Frames, fps, flow trajectory, video peaks, onsets and the IoU against av_align_score.py.

    Tolerances: flow 1e-9 relative (same OpenCV Farneback; bit for bit on the reference machine),
    peak and onset times exactly, score exactly.
    """
    for case in reference["cases"]:
        path = built[case["name"]]
        res = ava.av_align(path)
        assert res.fps == case["fps"], case["name"]
        assert res.n_frames == case["n_frames"], case["name"]
        assert res.score == case["score"], case["name"]
        if "flow" in case:
            np.testing.assert_allclose(res.flow, case["flow"], rtol=1e-9, err_msg=case["name"])
            assert res.video_peaks.tolist() == case["video_peaks"], case["name"]
            assert res.onset_times.tolist() == case["onset_times"], case["name"]


def test_metric_scores_a_batch_and_keeps_the_official_mean(reference: dict, built: dict[str, Path]) -> None:
    """score_batch (threads) gives the per-clip values; their mean is the official 'AV-Align' entry."""
    metric = get_metric("av_align")
    assert metric.protocol == "av-align/mova-onset-flow-v1"
    metric.setup("cpu")
    names = [c["name"] for c in reference["cases"]]
    outcomes = metric.score_batch([ScoreInput(n, "set1", built[n]) for n in names])
    assert [o.status for o in outcomes] == ["ok"] * len(names)
    assert [o.values["av_align"] for o in outcomes] == [c["score"] for c in reference["cases"]]
    assert outcomes[names.index("one_frame")].values["note"].startswith("1 frame(s)")
    assert "no audio" in outcomes[names.index("no_audio_stream")].values["note"]
    agg = metric.aggregate(outcomes)
    assert agg["n"] == len(names)
    assert agg["av_align"] == pytest.approx(reference["mean"], abs=1e-12)


def test_unreadable_files_fail_or_score_zero_as_asked(tmp_path: Path) -> None:
    """A missing or corrupt file is failed with its name; the official 0.0 only as a named option."""
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"not a video at all" * 10)
    items = [ScoreInput("b", "set1", corrupt), ScoreInput("m", "set1", tmp_path / "missing.mp4")]
    strict = get_metric("av_align").score_batch(items)
    assert [o.status for o in strict] == ["failed", "failed"]
    assert "broken.mp4" in strict[0].reason and "missing.mp4" in strict[1].reason
    lenient = get_metric("av_align", unreadable_as_zero=True)
    assert lenient.protocol == "av-align/mova-onset-flow-v1+unreadable-as-zero"
    assert [o.values["av_align"] for o in lenient.score_batch(items)] == [0.0, 0.0]


def test_iou_matching_is_greedy_and_strict() -> None:
    """The official matcher: first unused peak, open interval of one frame, 0 when both are empty."""
    fps = 25.0
    assert ava.intersection_over_union(np.array([]), np.array([]), fps) == 0.0
    # exactly one frame apart is outside the open interval
    assert ava.intersection_over_union(np.array([0.44]), np.array([0.40]), fps) == 0.0
    # two onsets near one peak: one match, IoU 1 / (2 + 1 - 1)
    assert ava.intersection_over_union(np.array([0.41, 0.42]), np.array([0.40]), fps) == 0.5
    traj = np.array([0.0, 0.5, 0.2, 0.09, 0.05, 0.3, 0.3, 0.1])
    assert ava.video_peaks(traj, 10.0).tolist() == [0.1]  # 0.09 is below the floor; a plateau is no peak


def test_two_seeds_of_one_item_in_one_batch_score_as_each_alone(
    reference: dict, built: dict[str, Path]
) -> None:
    """Outcomes follow the batch order, never the item id: two outputs of item "7" stay apart."""
    metric = get_metric("av_align", workers=2)
    a = ScoreInput("7", "set1", built["long_8s_24fps"], meta={"seed": 1})
    b = ScoreInput("7", "set1", built["short_0p4s"], meta={"seed": 2})
    together = [o.values["av_align"] for o in metric.score_batch([a, b])]
    alone = [metric.score_batch([x])[0].values["av_align"] for x in (a, b)]
    by_name = {c["name"]: c["score"] for c in reference["cases"]}
    assert together == alone == [by_name["long_8s_24fps"], by_name["short_0p4s"]]
