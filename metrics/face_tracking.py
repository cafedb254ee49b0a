"""Shot detection, IoU face tracking and face cropping of syncnet_python's run_pipeline.py.

`track_shot` and the crop geometry are the official code's logic (joonson/syncnet_python commit
6efbb1c, run_pipeline.py), kept statement for statement where the result depends on it (the
in-place removal while iterating included). Shot detection is PySceneDetect 0.5.1's
`ContentDetector` with its defaults (threshold 30, min_scene_len 15, mean |ΔHSV| on frames
subsampled by the auto downscale factor) written out here, since 0.5.1 no longer installs and later
releases changed the defaults (threshold 27) and the downscaling.

MOVA's copy of the pipeline (OpenMOSS/MOVA `evaluation/models/wav2lip/evaluation/syncnet_python`)
pins `scenedetect>=0.6,<1.0`: its shots come from the installed 0.6 package itself
(`scenes_pyscenedetect06`), called as its run_pipeline.py calls it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class TrackingOptions:
    """run_pipeline.py's argparse defaults."""

    facedet_scale: float = 0.25
    crop_scale: float = 0.40
    min_track: int = 100
    frame_rate: int = 25
    num_failed_det: int = 25
    min_face_size: int = 100
    conf_th: float = 0.9
    scene_threshold: float = 30.0
    scene_min_len: int = 15


@dataclass
class FaceTrack:
    frame: np.ndarray  # consecutive frame indices
    bbox: np.ndarray  # [n,4] interpolated x1,y1,x2,y2
    proc: dict[str, np.ndarray] = field(default_factory=dict)  # median-filtered s, x, y


# ------------------------------------------------------------------------------------------
# Shot detection (PySceneDetect 0.5.1 ContentDetector via VideoManager.set_downscale_factor())

_DOWNSCALE = ((3200, 12), (2100, 8), (1700, 6), (1200, 5), (900, 4), (600, 3), (400, 2))


def downscale_factor(frame_width: int) -> int:
    for width, factor in _DOWNSCALE:
        if frame_width >= width:
            return factor
    return 1


def content_cuts(
    frames_bgr: Iterable[np.ndarray], threshold: float = 30.0, min_scene_len: int = 15
) -> list[int]:
    """Frame numbers where ContentDetector (0.5.1) starts a new scene."""
    import cv2

    cuts: list[int] = []
    last_hsv = None
    last_cut = None
    factor = None
    for num, frame in enumerate(frames_bgr):
        if factor is None:
            factor = downscale_factor(frame.shape[1])
        if factor > 1:
            frame = frame[::factor, ::factor, :]
        hsv = [c.astype(np.int32) for c in cv2.split(cv2.cvtColor(frame, cv2.COLOR_BGR2HSV))]
        if last_hsv is not None:
            num_pixels = hsv[0].shape[0] * hsv[0].shape[1]
            delta = [float(np.sum(np.abs(hsv[i] - last_hsv[i]))) / float(num_pixels) for i in range(3)]
            if sum(delta) / 3.0 >= threshold and (last_cut is None or num - last_cut >= min_scene_len):
                cuts.append(num)
                last_cut = num
        last_hsv = hsv
    return cuts


def scenes_from_cuts(cuts: list[int], n_frames: int) -> list[tuple[int, int]]:
    """[start, end) frame ranges; no cut → the whole video (run_pipeline's fallback)."""
    bounds = [0, *cuts, n_frames]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def scenes_pyscenedetect06(path) -> list[tuple[int, int]]:
    """[start, end) shots of MOVA's run_pipeline.py: PySceneDetect 0.6 `ContentDetector()` defaults
    (threshold 27, flash filter, auto downscale) with a StatsManager; no cut → one shot over every
    frame read (its `(base_timecode, current_timecode)` fallback)."""
    try:
        from scenedetect import SceneManager, StatsManager
        from scenedetect.detectors import ContentDetector
        from scenedetect.video_manager import VideoManager
    except ImportError as exc:  # pragma: no cover - the metrics extra installs it
        raise ImportError(
            f"MOVA's lip-sync shots need PySceneDetect 0.6 ({exc}): pip install 'nava-eval[metrics]'"
        ) from exc
    import logging

    # VideoManager is deprecated in 0.6 and logs an error on every call (MOVA's pipeline uses it all the
    # same), and detect_scenes logs at INFO per clip: neither belongs in our output.
    sd_log = logging.getLogger("pyscenedetect")
    level = sd_log.level
    sd_log.setLevel(logging.CRITICAL)
    video = None
    try:
        video = VideoManager([str(path)])
        manager = SceneManager(StatsManager())
        manager.add_detector(ContentDetector())
        video.set_downscale_factor()
        video.start()
        manager.detect_scenes(frame_source=video)
        scenes = manager.get_scene_list()
        if not scenes:
            return [(0, int(video.get_current_timecode().get_frames()))]
        return [(int(a.get_frames()), int(b.get_frames())) for a, b in scenes]
    finally:
        if video is not None:
            video.release()
        sd_log.setLevel(level)


def read_video_frames_cv2(path) -> Iterable[np.ndarray]:
    """Frames as VideoManager (OpenCV) reads them."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield frame
    finally:
        cap.release()


# ------------------------------------------------------------------------------------------
# Tracking


def bb_intersection_over_union(box_a, box_b) -> float:
    x_a = max(box_a[0], box_b[0])
    y_a = max(box_a[1], box_b[1])
    x_b = min(box_a[2], box_b[2])
    y_b = min(box_a[3], box_b[3])
    inter = max(0, x_b - x_a) * max(0, y_b - y_a)
    area_a = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1])
    area_b = (box_b[2] - box_b[0]) * (box_b[3] - box_b[1])
    return inter / float(area_a + area_b - inter)


def track_shot(opt: TrackingOptions, scenefaces: list[list[dict]]) -> list[FaceTrack]:
    """run_pipeline.track_shot; `scenefaces` is consumed (faces are removed as they join tracks)."""
    from scipy.interpolate import interp1d

    tracks: list[FaceTrack] = []
    while True:
        track: list[dict] = []
        for framefaces in scenefaces:
            for face in framefaces:  # noqa: B007 (the official code mutates the list it iterates)
                if track == []:
                    track.append(face)
                    framefaces.remove(face)
                elif face["frame"] - track[-1]["frame"] <= opt.num_failed_det:
                    iou = bb_intersection_over_union(face["bbox"], track[-1]["bbox"])
                    if iou > IOU_THRESHOLD:
                        track.append(face)
                        framefaces.remove(face)
                        continue
                else:
                    break
        if track == []:
            break
        elif len(track) > opt.min_track:
            framenum = np.array([f["frame"] for f in track])
            bboxes = np.array([np.array(f["bbox"]) for f in track])
            frame_i = np.arange(framenum[0], framenum[-1] + 1)
            bboxes_i = np.stack([interp1d(framenum, bboxes[:, ij])(frame_i) for ij in range(4)], axis=1)
            if (
                max(np.mean(bboxes_i[:, 2] - bboxes_i[:, 0]), np.mean(bboxes_i[:, 3] - bboxes_i[:, 1]))
                > opt.min_face_size
            ):
                tracks.append(FaceTrack(frame=frame_i, bbox=bboxes_i))
    return tracks


def track_faces(
    opt: TrackingOptions, detections: list[np.ndarray], scenes: list[tuple[int, int]]
) -> list[FaceTrack]:
    """run_pipeline's loop: per shot of ≥ min_track frames, track the faces detected in it."""
    faces = [
        [{"frame": fidx, "bbox": det[:-1].tolist(), "conf": det[-1]} for det in dets]
        for fidx, dets in enumerate(detections)
    ]
    tracks: list[FaceTrack] = []
    for start, end in scenes:
        if end - start >= opt.min_track:
            tracks.extend(track_shot(opt, faces[start:end]))
    return tracks


# ------------------------------------------------------------------------------------------
# Cropping


def smooth_track(track: FaceTrack) -> dict[str, np.ndarray]:
    """crop_video's box size / centre, median-filtered with kernel 13."""
    from scipy import signal

    s = [max(d[3] - d[1], d[2] - d[0]) / 2 for d in track.bbox]
    y = [(d[1] + d[3]) / 2 for d in track.bbox]
    x = [(d[0] + d[2]) / 2 for d in track.bbox]
    return {
        "s": signal.medfilt(s, kernel_size=13),
        "x": signal.medfilt(x, kernel_size=13),
        "y": signal.medfilt(y, kernel_size=13),
    }


def crop_face(image: np.ndarray, s: float, x: float, y: float, crop_scale: float = 0.40) -> np.ndarray:
    """One 224×224 crop as crop_video: pad by s(1+2cs) with 110, cut, cv2.resize (bilinear)."""
    import cv2

    cs = crop_scale
    bs = s
    bsi = int(bs * (1 + 2 * cs))
    frame = np.pad(image, ((bsi, bsi), (bsi, bsi), (0, 0)), "constant", constant_values=(110, 110))
    my = y + bsi
    mx = x + bsi
    face = frame[
        int(my - bs) : int(my + bs * (1 + 2 * cs)), int(mx - bs * (1 + cs)) : int(mx + bs * (1 + cs))
    ]
    return cv2.resize(face, (224, 224))
