"""Sync-C / Sync-D with SyncNet under two protocols from one pass over each clip.

`sync/syncnet-lse-v1` is joonson/syncnet_python's mean over face tracks; `sync/mova-lse-v1` is MOVA's
best track. Both read the same decode, S3FD detections and SyncNet curves, so a track both rules keep is
scored once; the pass id (`sync/syncnet-lse-pass-v2`) names the scores-file format. The pipeline step by
step, the decode reproduced bit for bit and where we differ: docs/protocols/sync.md.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.interrupts import interruptible_pool, reraise_interrupts
from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.face_tracking import (
    FaceTrack,
    TrackingOptions,
    content_cuts,
    crop_face,
    read_video_frames_cv2,
    scenes_from_cuts,
    scenes_pyscenedetect06,
    smooth_track,
    track_faces,
)
from nava_eval.user_files import file_problem

log = logging.getLogger(__name__)

PROTOCOL = "sync/syncnet-lse-pass-v2"  # the pass: its records hold the values of both protocols below
SYNCNET_PROTOCOL = "sync/syncnet-lse-v1"
MOVA_PROTOCOL = "sync/mova-lse-v1"
MOVA_MIN_TRACK = 20  # MOVA's run_pipeline.py default (syncnet_python's is 100)
#: Tracking rules of the smoke preset (tracks of > 10 frames, faces > 24 px, detection at full size
#: so 64-px smoke frames reach S3FD's minimum); only with smoke=True.
SMOKE_TRACKING = TrackingOptions(min_track=10, min_face_size=24, scene_min_len=5, facedet_scale=1.0)
#: S3FD's smallest input side: below it a pooling layer has no output ("Output size is too small").
S3FD_MIN_SIDE = 28
CROPPED_SUFFIX = "+cropped"
OFFSETS = list(range(15, -16, -1))  # index j of the curve ↔ offset 15 − j
SILENCE_PEAK = 1  # int16 peak at or below this is digital silence
WEIGHT_NAMES = ("syncnet", "s3fd")


@dataclass
class _Prepared:
    """Stage A result: the decoded clip, ready for face detection."""

    index: int
    work: Path
    frame_paths: list[Path]
    scaled_rgb: list[np.ndarray]
    size_wh: tuple[int, int]
    audio_wav: Path
    scenes: list[tuple[int, int]]
    mova_scenes: list[tuple[int, int]]
    silent_reason: str | None = None


@dataclass
class _ItemTracks:
    """Stage B result: the crops of one item, decoded as run_syncnet.py decodes them.

    `tracks` are the distinct tracks of both rules; `syncnet_idx` / `mova_idx` list, in each
    pipeline's own track order, the ones each protocol keeps.
    """

    index: int
    n_frames: int
    tracks: list[FaceTrack] = field(default_factory=list)
    inputs: list[Any] = field(default_factory=list)  # TrackInput
    syncnet_idx: list[int] = field(default_factory=list)
    mova_idx: list[int] = field(default_factory=list)
    syncnet_reason: str | None = None  # why the syncnet protocol has no value (None: it has one)
    mova_reason: str | None = None
    outcome: ScoreOutcome | None = None

    def add_single_track(self, track_input: Any, silent_reason: str | None) -> None:
        """A pre-cropped clip: one track that both protocols keep."""
        n = len(track_input.frames)
        self.tracks.append(FaceTrack(frame=np.arange(n), bbox=np.zeros((n, 4))))
        self.inputs.append(track_input)
        self.syncnet_idx, self.mova_idx = [0], [0]
        self.syncnet_reason = silent_reason


class _Skip(Exception):
    """An item that cannot be scored by the protocol's rules (reason in the message)."""


class SyncNetMetric(BaseMetric):
    """Sync-C / Sync-D with SyncNet. Options: cropped, details, aggregation, batch_size, workers."""

    name = "sync"
    protocol = PROTOCOL
    fields = (
        MetricField(
            "sync_c",
            "higher",
            "",
            "SyncNet confidence (LSE-C): median − min of the offset curve, mean over tracks > 100 frames",
            protocol=SYNCNET_PROTOCOL,
            quantity="sync_c",
        ),
        MetricField(
            "sync_d",
            "lower",
            "",
            "SyncNet distance (LSE-D): min of the offset curve, mean over tracks > 100 frames",
            protocol=SYNCNET_PROTOCOL,
            quantity="sync_d",
        ),
        MetricField(
            "sync_c_mova",
            "higher",
            "",
            "MOVA's LSE-C: C of the track with the largest C − D (tracks > 20 frames)",
            protocol=MOVA_PROTOCOL,
            quantity="sync_c",
        ),
        MetricField(
            "sync_d_mova",
            "lower",
            "",
            "MOVA's LSE-D: D of the track with the largest C − D (tracks > 20 frames)",
            protocol=MOVA_PROTOCOL,
            quantity="sync_d",
        ),
    )
    requires = frozenset({"video", "audio"})
    description = "Lip sync with SyncNet: syncnet_python's mean over tracks and MOVA's best track, one pass"
    weight_names = WEIGHT_NAMES

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, str | os.PathLike] | None = None,
        benchmark: str | None = None,
        cropped: bool = False,
        details: bool = False,
        aggregation: str = "video",
        batch_size: int | None = None,
        detect_batch_size: int | None = None,
        workers: int | None = None,
        tracking: TrackingOptions | None = None,
        seed: int = 0,
        **_ignored: Any,
    ) -> None:
        if aggregation not in ("video", "track"):
            raise ValueError(f"aggregation must be 'video' or 'track', got {aggregation!r}")
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.cropped = cropped
        self.details = details
        self.aggregation = aggregation
        self.detect_batch_size = detect_batch_size
        self.workers = workers or max(2, min(8, (os.cpu_count() or 2) // 2))
        if tracking is None and smoke:
            # Smoke clips are a second or two of small frames: the official 100-frame / 100-px track
            # rules would skip every one, and the point of smoke is to run the whole pipeline.
            tracking = SMOKE_TRACKING
        self.tracking = tracking or TrackingOptions()
        # MOVA's pipeline differs from syncnet_python's in the track length only (and the shots).
        self.mova_tracking = dataclasses.replace(self.tracking, min_track=MOVA_MIN_TRACK)
        self._scorer = None
        self._detector = None
        custom = tracking is not None and tracking not in (TrackingOptions(), SMOKE_TRACKING)
        self.protocol = self.protocol_id(
            variant=(CROPPED_SUFFIX if cropped else "") + ("+custom-tracking" if custom else "")
        )

    # ------------------------------------------------------------------ setup

    def _loaded(self) -> bool:
        return self._scorer is not None

    def _load(self, device: str) -> None:
        """SyncNet, and S3FD unless `cropped`."""
        from nava_eval.metrics import syncnet_model as sm
        from nava_eval.metrics.s3fd import S3FDDetector, build_s3fd_net

        if self.smoke:
            syncnet = sm.smoke_syncnet(self.seed)
            s3fd = None if self.cropped else sm.smoke_s3fd(self.seed)
            self.weights_provenance = {"syncnet": {"source": f"random seed {self.seed}"}}
        else:
            self.weights_provenance = {}
            syncnet = sm.build_syncnet()
            sm.load_weights(syncnet, self.resolve_weight("syncnet"), "SyncNet")
            s3fd = None
            if not self.cropped:
                s3fd = build_s3fd_net()
                sm.load_weights(s3fd, self.resolve_weight("s3fd"), "S3FD")
        self._scorer = sm.SyncNetScorer(syncnet, device, self.batch_size_on(device, gpu=128, cpu=20))
        if s3fd is not None:
            self._detector = S3FDDetector(
                s3fd, device, self.detect_batch_size or (64 if str(device).startswith("cuda") else 8)
            )

    # ------------------------------------------------------------------ scoring

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        """One outcome per item, in order; a bad item becomes failed/skipped, never an exception."""
        if self._scorer is None:
            self.setup(self.device)
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        with (
            tempfile.TemporaryDirectory(prefix="nava-sync-") as tmp,
            interruptible_pool(self.workers, "nava-sync") as pool,
        ):
            if self.cropped:
                results = _prefetch(
                    pool,
                    lambda i: self._cropped_stage(i, items[i], Path(tmp) / f"{i:05d}"),
                    len(items),
                    self.workers * 2,
                )
                pending: list[_ItemTracks] = []
                for i, res in results:
                    if isinstance(res, Exception):
                        outcomes[i] = _outcome_for_exception(res)
                        continue
                    pending.append(res)
                    if sum(len(p.inputs) for p in pending) >= 16:
                        self._score_pending(pending, outcomes)
                        pending = []
                self._score_pending(pending, outcomes)
            else:
                self._score_full(items, Path(tmp), pool, outcomes)
        return [o if o is not None else ScoreOutcome.failed("internal: no outcome") for o in outcomes]

    def score_arrays(self, frames_bgr: np.ndarray, audio: np.ndarray) -> ScoreOutcome:
        """Score one already-cropped track given as arrays (BGR uint8 [T,224,224,3], int16 16 kHz)."""
        from nava_eval.metrics.syncnet_model import TrackInput

        if self._scorer is None:
            self.setup(self.device)
        item = _ItemTracks(index=0, n_frames=len(frames_bgr))
        track_input = TrackInput(np.ascontiguousarray(frames_bgr, dtype=np.uint8), np.asarray(audio))
        try:
            silent = _silence_reason(track_input.audio)
        except _Skip as exc:
            return ScoreOutcome.skipped(str(exc))
        item.add_single_track(track_input, silent)
        outcomes: list[ScoreOutcome | None] = [None]
        self._score_pending([item], outcomes)
        return outcomes[0]  # type: ignore[return-value]

    # --- cropped: each file is one 224×224 face track (run_syncnet.py on it)

    def _cropped_stage(self, index: int, item: ScoreInput, work: Path) -> _ItemTracks:
        from nava_eval.metrics.syncnet_model import TrackInput

        path = Path(item.output)
        if (problem := file_problem(path)) is not None:  # missing, or a FIFO that would block
            raise FileNotFoundError(f"{path}: {problem}")
        if path.suffix == ".npz":  # raw frames (BGR uint8), audio from meta["audio"]
            frames = np.load(path)["frames"]
            audio_path = item.meta.get("audio") or item.reference_audio
            if audio_path is None:
                raise _Skip("a raw .npz track needs its 16 kHz wav (score-files --audio FILE)")
            from nava_eval.metrics.media_decode import read_wav_int16

            audio = read_wav_int16(Path(audio_path))
        else:
            frames, audio = _official_track_decode(path, work)
        if frames.shape[1:] != (224, 224, 3):
            raise _Skip(f"--cropped expects 224×224 face crops, got {frames.shape[2]}×{frames.shape[1]}")
        silent = _silence_reason(audio)
        result = _ItemTracks(index=index, n_frames=len(frames))
        result.add_single_track(TrackInput(frames, audio), silent)
        return result

    # --- full pipeline

    def _score_full(
        self, items: Sequence[ScoreInput], tmp: Path, pool: ThreadPoolExecutor, outcomes: list
    ) -> None:
        crop_futures: list[tuple[int, Future]] = []
        pending: list[_ItemTracks] = []

        def drain(block: bool) -> None:
            nonlocal pending
            while crop_futures and (block or crop_futures[0][1].done()):
                i, fut = crop_futures.pop(0)
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 (one bad clip is one outcome; interrupts pass)
                    reraise_interrupts(exc)
                    outcomes[i] = _outcome_for_exception(exc)
                    continue
                if res.outcome is not None:
                    outcomes[i] = res.outcome
                else:
                    pending.append(res)
            if sum(len(p.inputs) for p in pending) >= 16 or (block and pending):
                self._score_pending(pending, outcomes)
                pending = []

        prepared = _prefetch(
            pool, lambda i: self._prepare_stage(i, items[i], tmp / f"{i:05d}"), len(items), self.workers
        )
        for i, prep in prepared:
            if isinstance(prep, Exception):
                outcomes[i] = _outcome_for_exception(prep)
                continue
            try:
                detections = self._detector.detect(prep.scaled_rgb, prep.size_wh, self.tracking.conf_th)
            except Exception as exc:  # noqa: BLE001
                reraise_interrupts(exc)
                outcomes[i] = ScoreOutcome.failed(f"face detection failed: {type(exc).__name__}: {exc}")
                continue
            prep.scaled_rgb = []  # free memory before cropping
            crop_futures.append((i, pool.submit(self._crop_stage, prep, detections)))
            drain(block=False)
        drain(block=True)

    def _prepare_stage(self, index: int, item: ScoreInput, work: Path) -> _Prepared:
        """run_pipeline.py up to face detection: AVI at 25 fps, JPEG frames, audio, shots."""
        from nava_eval.metrics import media_decode as md
        from nava_eval.metrics.s3fd import S3FDDetector

        path = Path(item.output)
        if (problem := file_problem(path)) is not None:  # missing, or a FIFO that would block
            raise FileNotFoundError(f"{path}: {problem}")
        work.mkdir(parents=True, exist_ok=True)
        info = md.probe(path)
        if not info.has_audio:
            raise _Skip("no audio stream")
        avi = md.reencode_25fps_avi(path, work / "video.avi")
        frame_paths = md.dump_jpeg_frames(avi, work / "frames", qscale=2)
        audio_wav = md.extract_pipeline_audio(avi, work / "audio.wav")
        silent = _silence_reason(md.read_wav_int16(audio_wav))
        import cv2

        scaled, size = [], (0, 0)
        for p in frame_paths:
            image = cv2.imread(str(p))
            size = (image.shape[1], image.shape[0])
            scaled.append(S3FDDetector.prepare(image, self.tracking.facedet_scale))
            _check_detector_size(size, scaled[-1].shape, self.tracking.facedet_scale)
        cuts = content_cuts(
            read_video_frames_cv2(avi), self.tracking.scene_threshold, self.tracking.scene_min_len
        )
        return _Prepared(
            index,
            work,
            frame_paths,
            scaled,
            size,
            audio_wav,
            scenes_from_cuts(cuts, len(frame_paths)),
            scenes_pyscenedetect06(avi),
            silent,
        )

    def _crop_stage(self, prep: _Prepared, detections: list[np.ndarray]) -> _ItemTracks:
        """Tracking (both rules), crop_video (XVID AVI + audio cut), then run_syncnet.py's decode of each crop."""
        import cv2

        from nava_eval.metrics import media_decode as md
        from nava_eval.metrics.syncnet_model import TrackInput

        opt = self.tracking
        n = len(prep.frame_paths)
        result = _ItemTracks(index=prep.index, n_frames=n)
        with_faces = sum(1 for d in detections if len(d))
        syncnet_tracks = track_faces(opt, detections, prep.scenes)
        mova_tracks = track_faces(self.mova_tracking, detections, prep.mova_scenes)
        if not syncnet_tracks:
            result.syncnet_reason = _no_track_reason(n, with_faces, opt)
        elif prep.silent_reason:
            result.syncnet_reason = prep.silent_reason
        if not mova_tracks:
            result.mova_reason = _no_track_reason(n, with_faces, self.mova_tracking) + " (MOVA's rule)"
        if not syncnet_tracks and not mova_tracks:
            result.outcome = ScoreOutcome.skipped(
                _no_track_reason(n, with_faces, self.mova_tracking),
                n_frames=n,
                n_tracks=0,
                frames_with_faces=with_faces,
            )
            return result
        # A track both rules keep (same frames, same boxes) is cropped and scored once.
        keys: dict[tuple, int] = {}
        for protocol_tracks, index_list in (
            (syncnet_tracks, result.syncnet_idx),
            (mova_tracks, result.mova_idx),
        ):
            for track in protocol_tracks:
                key = (int(track.frame[0]), int(track.frame[-1]), track.bbox.tobytes())
                if key not in keys:
                    keys[key] = len(result.tracks)
                    result.tracks.append(track)
                index_list.append(keys[key])
        crop_dir = prep.work / "pycrop"
        crop_dir.mkdir(exist_ok=True)
        for ti, track in enumerate(result.tracks):
            track.proc = smooth_track(track)
            base = crop_dir / f"{ti:05d}"
            writer = cv2.VideoWriter(
                f"{base}t.avi", cv2.VideoWriter_fourcc(*"XVID"), opt.frame_rate, (224, 224)
            )
            for k, fidx in enumerate(track.frame):
                image = cv2.imread(str(prep.frame_paths[fidx]))
                writer.write(
                    crop_face(
                        image, track.proc["s"][k], track.proc["x"][k], track.proc["y"][k], opt.crop_scale
                    )
                )
            writer.release()
            start, end = track.frame[0] / opt.frame_rate, (track.frame[-1] + 1) / opt.frame_rate
            cut = md.cut_audio(prep.audio_wav, start, end, prep.work / f"audio_{ti:05d}.wav")
            avi = md.mux_copy(Path(f"{base}t.avi"), cut, Path(f"{base}.avi"))
            os.remove(f"{base}t.avi")
            frames, audio = _official_track_decode(avi, prep.work / f"track_{ti:05d}")
            result.inputs.append(TrackInput(frames, audio))
        return result

    # --- SyncNet on collected tracks

    def _score_pending(self, pending: list[_ItemTracks], outcomes: list) -> None:
        from nava_eval.metrics.syncnet_model import n_windows

        flat = [
            (item, k, track_input)
            for item in pending
            for k, track_input in enumerate(item.inputs)
            if n_windows(track_input) > 0
        ]
        scores: list[Any] = []
        if flat:
            try:
                scores = self._scorer.score([t for _, _, t in flat])
            except Exception as exc:  # noqa: BLE001 (one failing batch must not sink the run)
                reraise_interrupts(exc)
                log.exception("SyncNet scoring failed")
                for item in pending:
                    outcomes[item.index] = ScoreOutcome.failed(f"SyncNet failed: {type(exc).__name__}: {exc}")
                return
        by_item: dict[int, dict[int, Any]] = {}
        for (item, k, _), score in zip(flat, scores, strict=True):
            by_item.setdefault(item.index, {})[k] = score
        for item in pending:
            outcomes[item.index] = self._outcome(item, by_item.get(item.index, {}))

    def _outcome(self, item: _ItemTracks, scored: dict[int, Any]) -> ScoreOutcome:
        """Both protocols' values of one clip from the SyncNet scores of its tracks (by track index)."""
        per_track = []
        for k, s in sorted(scored.items()):
            track = item.tracks[k]
            entry: dict[str, Any] = {
                "track": k,
                "start_frame": int(track.frame[0]),
                "end_frame": int(track.frame[-1]),
                "n_frames": int(len(track.frame)),
                "syncnet": k in item.syncnet_idx,
                "mova": k in item.mova_idx,
                "sync_c": s.sync_c,
                "sync_d": s.sync_d,
                "offset": s.offset,
                "n_windows": s.n_windows,
            }
            if self.details:
                entry["mean_dist"] = s.mean_dist
                entry["framewise_conf"] = s.framewise_conf
            per_track.append(entry)
        no_window = "every face track is shorter than one 5-frame window"
        syncnet = [scored[k] for k in item.syncnet_idx if k in scored]
        syncnet_reason = item.syncnet_reason or (None if syncnet else no_window)
        mova_reason = item.mova_reason
        if mova_reason is None and any(k not in scored for k in item.mova_idx):
            # MOVA's evaluate() has no window on such a track, torch.cat fails and the toolkit drops the clip.
            mova_reason = (
                "a face track has no full 5-frame window (MOVA's toolkit fails on it and drops the clip)"
            )
        values: dict[str, Any] = {"sync_c": None, "sync_d": None, "sync_c_mova": None, "sync_d_mova": None}
        if syncnet_reason is None:
            values["sync_c"] = statistics.fmean(s.sync_c for s in syncnet)
            values["sync_d"] = statistics.fmean(s.sync_d for s in syncnet)
        else:
            values["syncnet_skip_reason"] = syncnet_reason
        mova_best = None
        if mova_reason is None:
            # eval_lip_sync.py: the first track (in pipeline order) with the largest C − D.
            mova_best = max((scored[k] for k in item.mova_idx), key=lambda s: s.sync_c - s.sync_d)
            values["sync_c_mova"], values["sync_d_mova"] = mova_best.sync_c, mova_best.sync_d
        else:
            values["mova_skip_reason"] = mova_reason
        if syncnet_reason is not None and mova_reason is not None:
            reason = syncnet_reason if syncnet_reason == mova_reason else f"{syncnet_reason}; {mova_reason}"
            return ScoreOutcome.skipped(reason, n_frames=item.n_frames, n_tracks=0, tracks=per_track)
        best = max(syncnet, key=lambda s: s.sync_c) if syncnet_reason is None else mova_best
        values.update(
            offset=best.offset,
            n_tracks=len(syncnet) if syncnet_reason is None else 0,
            n_tracks_mova=len(item.mova_idx) if mova_reason is None else 0,
            n_frames=item.n_frames,
            tracks=per_track,
        )
        if self.details:
            values["mean_dist"] = best.mean_dist  # the curve of the track whose offset is reported
            values["curve_offsets"] = OFFSETS
        return ScoreOutcome.ok(**values)

    # ------------------------------------------------------------------ aggregation

    def aggregate(self, outcomes: Sequence[ScoreOutcome]) -> dict[str, Any]:
        """Dataset values: mean over videos (or over tracks with aggregation="track"), with counts."""
        ok = [o for o in outcomes if o.status == "ok"]
        out: dict[str, Any] = {
            "n": len(ok),
            "n_skipped": sum(o.status == "skipped" for o in outcomes),
            "n_failed": sum(o.status == "failed" for o in outcomes),
            "n_tracks": sum(int(o.values.get("n_tracks", 0)) for o in ok),
            "aggregation": self.aggregation,
        }
        for name in ("sync_c", "sync_d"):
            if self.aggregation == "track":
                vals = [t[name] for o in ok for t in o.values.get("tracks", []) if t.get("syncnet", True)]
            else:
                vals = [o.values[name] for o in ok if o.values.get(name) is not None]
            out[name] = statistics.fmean(vals) if vals else None
        for name in ("sync_c_mova", "sync_d_mova"):  # MOVA: always one value per video
            vals = [o.values[name] for o in ok if o.values.get(name) is not None]
            out[name] = statistics.fmean(vals) if vals else None
        return out


# ---------------------------------------------------------------------------------------------


def _official_track_decode(video: Path, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """run_syncnet.py / evaluate(): `-threads 1 -f image2` JPEGs read by cv2.imread, `-async 1` 16 kHz wav."""
    from nava_eval.metrics import media_decode as md

    work.mkdir(parents=True, exist_ok=True)
    info = md.probe(video)
    if not info.has_audio:
        raise _Skip("no audio stream")
    frames = md.read_jpeg_frames(md.dump_jpeg_frames(video, work / "frames", info=info))
    audio = md.read_wav_int16(md.extract_audio_16k(video, work / "audio.wav"))
    return frames, audio


def _silence_reason(audio: np.ndarray) -> str | None:
    """Why syncnet_python's protocol skips this audio (None: it does not); empty audio stops both."""
    if audio.size == 0:
        raise _Skip("empty audio")
    if int(np.abs(audio.astype(np.int32)).max()) <= SILENCE_PEAK:
        return "silent audio (digital silence): lip sync is undefined"
    return None


def _check_detector_size(size_wh: tuple[int, int], scaled_shape: tuple[int, ...], scale: float) -> None:
    """S3FD cannot run on frames smaller than its smallest input (the official pipeline crashes there)."""
    h, w = scaled_shape[:2]
    if min(h, w) < S3FD_MIN_SIDE:
        need = int(np.ceil(S3FD_MIN_SIDE / scale))
        raise _Skip(
            f"frames of {size_wh[0]}×{size_wh[1]} px are too small for S3FD at facedet_scale {scale} "
            f"({w}×{h} after scaling; it needs {S3FD_MIN_SIDE} px a side, i.e. {need} px at this scale): "
            "the official pipeline fails on this clip"
        )


def _no_track_reason(n_frames: int, with_faces: int, opt: TrackingOptions) -> str:
    if n_frames <= opt.min_track:
        return f"no face track: the clip has {n_frames} frames at 25 fps; a track needs more than {opt.min_track}"
    return (
        f"no face track: faces (S3FD > {opt.conf_th}) in {with_faces} of {n_frames} frames, none forming a "
        f"track of more than {opt.min_track} frames with faces larger than {opt.min_face_size} px"
    )


def _outcome_for_exception(exc: Exception) -> ScoreOutcome:
    from nava_eval.metrics.media_decode import MediaDecodeError

    if isinstance(exc, _Skip):
        return ScoreOutcome.skipped(str(exc))
    if isinstance(exc, MediaDecodeError):
        return ScoreOutcome.failed(f"cannot decode: {exc}")
    if isinstance(exc, FileNotFoundError):
        return ScoreOutcome.failed(str(exc))
    return ScoreOutcome.failed(f"{type(exc).__name__}: {exc}")


def _prefetch(
    pool: ThreadPoolExecutor, fn: Callable[[int], Any], n: int, depth: int
) -> Iterator[tuple[int, Any]]:
    """Run fn(0..n-1) in the pool at most `depth` ahead; yield (i, result or exception) in order.

    An item's exception is yielded as its result; an interrupt (from the worker, or Ctrl-C while
    waiting here) is raised, never yielded: it is not that item's failure.
    """
    futures: dict[int, Future] = {}
    submitted = 0
    for i in range(n):
        while submitted < n and submitted < i + max(1, depth):
            futures[submitted] = pool.submit(fn, submitted)
            submitted += 1
        fut = futures.pop(i)
        try:
            result = fut.result()
        except Exception as exc:  # noqa: BLE001 (reported per item)
            reraise_interrupts(exc)
            result = exc
        yield i, result
