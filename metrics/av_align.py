"""AV-Align, protocol `av-align/mova-onset-flow-v1`: audio onsets against optical-flow peaks, an IoU, as MOVA's toolkit.

OpenMOSS/MOVA `evaluation/metrics/av_quality/av_align_score.py` (commit 595a976), called by
`eval_av_quality.py` with its defaults on every clip of a set, whole clip (no duration cut):

- video: every frame OpenCV's `VideoCapture` decodes (BGR), the container's frame rate from
  `CAP_PROP_FPS`; flow magnitude per frame pair is the mean of `cv2.calcOpticalFlowFarneback(prev,
  cur, None, 0.5, 3, 15, 3, 5, 1.2, 0)` magnitudes on the grey frames; the trajectory is
  [flow(0,1), flow(0,1), flow(1,2), ...]; a peak is a strict local maximum ≥ 0.1 at index i, time i/fps;
- audio: ffmpeg's `-f f32le -ac 1 -ar 44100` decode of the clip, `librosa.onset.onset_strength` and
  `librosa.onset.onset_detect` with librosa's defaults (hop 512), onset times in seconds;
- IoU: each audio onset takes the first unused video peak within (peak − 1/fps, peak + 1/fps);
  matches / (onsets + peaks − matches), 0 when both are empty.

The official script scores a clip with fewer than two frames 0.0, and so do we (status ok, with a
note). A clip without an audio stream decodes to no samples there, hence no onsets: its IoU is 0
whenever the video has peaks; reproduced. It also turns any exception (an unreadable file) into
0.0; we count such a file as failed instead, and `unreadable_as_zero=True` reproduces the
official mean (docs/known-differences.md). Per set the toolkit averages the clips, then VerseBench
takes the mean of the per-set means over set1–3 (its FieldRule).

No network: OpenCV's Farneback runs on the CPU (OpenCV's pip wheels have no CUDA), one clip per
worker thread; frames stream through so memory stays at two frames per worker.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome

log = logging.getLogger(__name__)

PROTOCOL = "av-align/mova-onset-flow-v1"
SAMPLE_RATE = 44100  # av_align_score.py's default sr
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)  # pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags
PEAK_FLOOR = 0.1  # a video peak's flow magnitude must reach this

FIELDS = (
    MetricField(
        "av_align",
        "higher",
        "IoU",
        "IoU of librosa audio onsets and Farneback optical-flow peaks (±1 frame), whole clip",
    ),
)


class AVAlignInputError(ValueError):
    """A clip the official script cannot read (it would score it 0.0)."""


@dataclass(frozen=True)
class AVAlignResult:
    """One clip's AV-Align and what it came from."""

    score: float
    fps: float
    n_frames: int
    video_peaks: np.ndarray
    onset_times: np.ndarray
    flow: np.ndarray
    audio_samples: int
    note: str | None = None


def flow_trajectory(path: Path) -> tuple[np.ndarray, float]:
    """Mean Farneback flow magnitude per frame (the official trajectory) and CAP_PROP_FPS.

    Frames stream: only the previous grey frame is kept.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not cap.isOpened():
            raise AVAlignInputError(f"OpenCV cannot open {path}")
        flows: list[float] = []
        prev = None
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if prev is not None:
                flow = cv2.calcOpticalFlowFarneback(prev, gray, None, *FARNEBACK)
                flows.append(cv2.mean(cv2.magnitude(flow[..., 0], flow[..., 1]))[0])
            prev = gray
    finally:
        cap.release()
    if prev is None:
        return np.zeros(0), float(fps)
    if not flows:
        return np.zeros(1), float(fps)  # one frame: the official script stops before any flow
    # the official trajectory repeats the first pair's flow at index 0
    return np.asarray([flows[0], *flows], dtype=np.float64), float(fps)


def video_peaks(trajectory: np.ndarray, fps: float) -> np.ndarray:
    """Strict local maxima ≥ 0.1 of the trajectory, as times i / fps."""
    peaks = [
        i / fps
        for i in range(1, len(trajectory) - 1)
        if trajectory[i - 1] < trajectory[i] > trajectory[i + 1] and trajectory[i] >= PEAK_FLOOR
    ]
    return np.asarray(peaks, dtype=np.float64)


def decode_audio_mono(path: Path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """ffmpeg's f32le mono decode at `sr`, as the official script asks for it (empty without audio)."""
    from nava_eval.metrics.media_decode import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-nostdin", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(sr), "-"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return np.frombuffer(proc.stdout, dtype=np.float32)


def onset_times(audio: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """librosa's onset times with its defaults (onset_strength, then onset_detect on that envelope)."""
    import warnings

    import librosa

    with warnings.catch_warnings():
        # librosa warns that n_fft is too large for a (near) empty signal; the official run shows it too
        warnings.simplefilter("ignore", UserWarning)
        env = np.array(librosa.onset.onset_strength(y=audio, sr=sr))
        frames = librosa.onset.onset_detect(onset_envelope=env, sr=sr)
    return np.asarray(librosa.frames_to_time(frames, sr=sr), dtype=np.float64)


def intersection_over_union(audio_peaks: np.ndarray, peaks: np.ndarray, fps: float) -> float:
    """The official greedy matching: each onset takes the first unused peak within ±1/fps (strict)."""
    matched = 0
    used = [False] * len(peaks)
    for a in audio_peaks:
        for j, v in enumerate(peaks):
            if not used[j] and v - 1 / fps < a < v + 1 / fps:
                matched += 1
                used[j] = True
                break
    denominator = len(audio_peaks) + len(peaks) - matched
    return 0.0 if denominator == 0 else matched / denominator


def av_align(path: Path) -> AVAlignResult:
    """One clip's AV-Align as the official `compute_single_video_av` computes it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    trajectory, fps = flow_trajectory(path)
    n_frames = len(trajectory)
    if n_frames < 2:
        empty = np.zeros(0)
        note = f"{n_frames} frame(s): the official script scores fewer than 2 frames 0.0"
        return AVAlignResult(0.0, fps, n_frames, empty, empty, trajectory, 0, note)
    if not fps > 0:
        raise AVAlignInputError(f"{path}: the container states no frame rate (OpenCV reads {fps})")
    audio = decode_audio_mono(path)
    onsets = onset_times(audio)
    peaks = video_peaks(trajectory, fps)
    note = None if audio.size else "no audio decoded (no audio stream): no onsets, as in the official script"
    score = intersection_over_union(onsets, peaks, fps)
    return AVAlignResult(score, fps, n_frames, peaks, onsets, trajectory, int(audio.size), note)


class AVAlign(BaseMetric):
    """AV-Align. Options: workers (clips decoded at once), unreadable_as_zero (the official 0.0 for errors)."""

    name = "av_align"
    protocol = PROTOCOL
    fields = FIELDS
    requires = frozenset({"video", "audio"})
    description = "AV-Align: audio-onset / optical-flow-peak IoU as MOVA's evaluation toolkit computes it"
    weight_names: tuple[str, ...] = ()
    smoke_networks = False  # no network: the smoke run computes the real thing on the smoke clips

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, str | os.PathLike] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        workers: int | None = None,
        unreadable_as_zero: bool = False,
        **_ignored: Any,
    ) -> None:
        self.unreadable_as_zero = unreadable_as_zero
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.workers = workers or max(1, min(8, os.cpu_count() or 1))
        self.protocol = self.protocol_id(variant="+unreadable-as-zero" if unreadable_as_zero else "")

    def _loaded(self) -> bool:
        return True  # nothing to load; OpenCV's flow runs on the CPU whatever the device

    def _load(self, device: str) -> None:
        self.device = device

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        """One outcome per item, in order; clips run in worker threads (OpenCV releases the GIL)."""
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(av_align, Path(it.output)) for it in items]
            return [self._outcome(fut, Path(it.output)) for fut, it in zip(futures, items, strict=True)]

    def _outcome(self, future: Any, path: Path) -> ScoreOutcome:
        try:
            res: AVAlignResult = future.result()
        except Exception as exc:  # noqa: BLE001 (one bad file is one outcome)
            reason = f"cannot score {path.name}: {type(exc).__name__}: {exc}"
            if self.unreadable_as_zero:
                return ScoreOutcome.ok(av_align=0.0, note=f"{reason}; scored 0.0 as the official script")
            return ScoreOutcome.failed(reason)
        values: dict[str, Any] = {
            "av_align": res.score,
            "fps": res.fps,
            "n_frames": res.n_frames,
            "n_video_peaks": int(len(res.video_peaks)),
            "n_audio_onsets": int(len(res.onset_times)),
        }
        if res.note:
            values["note"] = res.note
        return ScoreOutcome.ok(**values)

    def aggregate(self, outcomes: Sequence[ScoreOutcome]) -> dict[str, Any]:
        """Mean over scored clips, with counts (VerseBench's mean of per-set means is its FieldRule)."""
        ok = [o.values["av_align"] for o in outcomes if o.status == "ok"]
        return {
            "av_align": sum(ok) / len(ok) if ok else None,
            "n": len(ok),
            "n_skipped": sum(o.status == "skipped" for o in outcomes),
            "n_failed": sum(o.status == "failed" for o in outcomes),
        }
