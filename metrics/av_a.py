"""AV-A, protocol `av-a/versebench-synchformer-v1`: Synchformer's signed offset, as the Verse-Bench toolkit.

Dorniwang/Verse-Bench (commit 5645a09) `syncformer/syncformer_inferencer.py` with `cfg.yaml`'s
test transforms and `calculate_metrics.py`: the clip is re-encoded by ffmpeg to 25 fps, short side
256 (even sides) and 16 kHz audio (`reencode_video`, unless it already is so), read whole
(torchvision 0.21's `read_video`: PyAV, every frame `to_rgb()`, the channels averaged), trimmed to
equal length, centre-cropped to 224×224, cut to its first 4 s (offset 0, start 0), 11 segments of 16
frames every 8 from the middle (frames 2–97), `half()/255` and ±1 normalisation, the same log-mels
as DeSync; Synchformer's offset logits on the 11 segments (the 198-row position table cut to 156),
and the grid value (−2 … +2 s, 21 classes) of the top-1 class, **signed**, in seconds. The toolkit
averages the items of set1 and set2 that have an audio prompt (VerseBench's FieldRule), and its
Overall score maps 0 → best and 1 → worst (so lower is better; a negative mean counts as best).

Shares the network with DeSync (`metrics.desync.load_network`). Pipeline, skips and differences:
docs/protocols/av_a.md.
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.metrics.base import MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.desync import SynchformerMetric
from nava_eval.user_files import file_problem

log = logging.getLogger(__name__)

PROTOCOL = "av-a/versebench-synchformer-v1"
WEIGHT_NAME = "synchformer"
VFPS, AFPS, IN_SIZE, CROP = 25, 16000, 256, 224
CROP_SECONDS = 4
N_SEGMENTS = 11
SEGMENT_VFRAMES = 16
STEP_SIZE_SEG = 0.5
CLIP_MAX_LEN_SEC = 10

FIELDS = (
    MetricField(
        "av_a",
        "lower",
        "s",
        "Synchformer signed top-1 offset (21 classes, ±2 s) of the first 4 s, 11 segments; Verse-Bench mean",
    ),
)


class AVAInputError(ValueError):
    """A clip the toolkit cannot score (its run would stop on it); skipped with this reason."""


@dataclass
class AVAInputs:
    video: Any  # torch float32 [11, 16, 3, 224, 224] (values rounded through fp16, as the toolkit's half())
    mels: Any  # torch [11, 128, 66]
    details: dict[str, Any]


def _probe(path: Path) -> tuple[float | None, int | None, int, int]:
    """What the toolkit's first read_video reports: video_fps, audio_fps, H, W."""
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        if not container.streams.video:
            raise AVAInputError("no video stream")
        v = container.streams.video[0]
        fps = float(v.average_rate) if v.average_rate is not None else None
        rate = container.streams.audio[0].rate if container.streams.audio else None
        return fps, rate, v.codec_context.height, v.codec_context.width


def reencode(path: Path, out: Path, ffmpeg: str) -> Path:
    """The toolkit's `reencode_video`: fps 25, short side 256 (even sides), audio 16 kHz."""
    vf = (
        f"fps={VFPS},scale=iw*{IN_SIZE}/'min(iw,ih)':ih*{IN_SIZE}/'min(iw,ih)',"
        "crop='trunc(iw/2)'*2:'trunc(ih/2)'*2"
    )
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "panic", "-nostdin", "-y", "-i", str(path), "-vf", vf]
    cmd += ["-ar", str(AFPS), str(out)]
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not out.is_file() or out.stat().st_size == 0:
        raise ValueError(f"ffmpeg could not re-encode {path.name} to 25 fps / 256 px / 16 kHz")
    return out


def _stream_frames(container: Any, stream: Any, kind: str) -> list[Any]:
    """torchvision 0.21 `_read_from_stream(start 0, end inf)`: frames by pts, those with pts ≥ 0, sorted."""
    container.seek(0, any_frame=False, backward=True, stream=stream)
    frames: dict[Any, Any] = {}
    for frame in container.decode(**{kind: 0}):
        frames[frame.pts] = frame
    return [frames[p] for p in sorted(p for p in frames if p is not None and p >= 0)]


def read_video(path: Path) -> tuple[np.ndarray, np.ndarray, float, int]:
    """torchvision 0.21 `read_video(path, pts_unit='sec')` on PyAV: RGB [T, H, W, 3], audio [C, n], fps, rate."""
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        if not container.streams.video or not container.streams.audio:
            raise AVAInputError(
                "no audio stream: the toolkit's read_video reports no audio_fps and its run stops"
            )
        v = container.streams.video[0]
        frames = [f.to_rgb().to_ndarray() for f in _stream_frames(container, v, "video")]
        fps = float(v.average_rate)
        a = container.streams.audio[0]
        rate = int(a.rate)
        audio_frames = _stream_frames(container, a, "audio")
        chunks = [f.to_ndarray() for f in audio_frames]
    if not frames:
        raise AVAInputError("the video stream has no frames")
    if not chunks:
        raise AVAInputError("the audio stream has no samples")
    audio = np.concatenate(chunks, axis=1)
    # _align_audio_frames with ref_start 0 and ref_end inf: nothing is cut once pts ≥ 0
    return np.stack(frames), audio.astype(np.float32, copy=False), fps, rate


def versebench_inputs(path: Path, ffmpeg: str, smoke: bool = False) -> AVAInputs:
    """Verse-Bench's Synchformer inputs for one clip (AVAInputError when the toolkit could not score it)."""
    import torch

    from nava_eval.metrics import synchformer_inputs as si

    if (problem := file_problem(path)) is not None:
        raise FileNotFoundError(f"{path}: {problem}")
    fps, rate, h, w = _probe(path)
    if rate is None:
        raise AVAInputError(
            "no audio stream: the toolkit's read_video reports no audio_fps and its run stops"
        )
    details: dict[str, Any] = {"source_fps": fps, "source_audio_rate": rate, "source_size": [w, h]}
    with tempfile.TemporaryDirectory(prefix="nava-av-a-") as tmp:
        target = path
        if fps != VFPS or rate != AFPS or min(h, w) != IN_SIZE:
            target = reencode(path, Path(tmp) / f"{path.stem}_{VFPS}fps_{IN_SIZE}side_{AFPS}hz.mp4", ffmpeg)
            details["reencoded"] = True
        rgb, audio, v_fps, a_fps = read_video(target)
    wave = torch.from_numpy(audio).mean(dim=0)
    video = torch.from_numpy(rgb).permute(0, 3, 1, 2)  # [T, C, H, W] uint8
    # EqualifyFromRight(clip_max_len_sec=10)
    min_len = min(CLIP_MAX_LEN_SEC, wave.shape[0] / a_fps, video.shape[0] / v_fps)
    v_len = int(v_fps * min_len)
    a_len = int((a_fps // v_fps) * v_len)
    wave, video = wave[:a_len], video[:v_len]
    # RGBSpatialCrop(224, centre): int(round((h - 224) / 2))
    hh, ww = video.shape[-2:]
    if min(hh, ww) < CROP:
        raise AVAInputError(f"frames are {ww}×{hh} after re-encoding, smaller than the 224×224 crop")
    i, j = int(round((hh - CROP) / 2.0)), int(round((ww - CROP) / 2.0))
    video = video[..., i : i + CROP, j : j + CROP]
    # TemporalCropAndOffset(crop_len_sec=4, offset 0, start 0)
    v_fps_i, a_fps_i = int(v_fps), int(a_fps)
    v_crop, a_crop = int(CROP_SECONDS * v_fps_i), int(CROP_SECONDS * a_fps_i)
    if video.shape[0] < v_crop or wave.shape[0] < a_crop:
        if not smoke:
            raise AVAInputError(
                f"{min(video.shape[0] / v_fps, wave.shape[0] / a_fps):.2f} s of equal-length audio and video, "
                f"shorter than the toolkit's {CROP_SECONDS}-s crop: its TemporalCropAndOffset assertion stops the run"
            )
        video = torch.cat([video, video[-1:].expand(max(0, v_crop - video.shape[0]), -1, -1, -1)])
        wave = torch.nn.functional.pad(wave, (0, max(0, a_crop - wave.shape[0])))
    video, wave = video[:v_crop], wave[:a_crop]
    # GenerateMultipleSegments(16, 11, is_start_random=False, step_size_seg=0.5)
    seg_a = int(SEGMENT_VFRAMES / v_fps_i * a_fps_i)
    stride_v, stride_a = int(STEP_SIZE_SEG * SEGMENT_VFRAMES), int(STEP_SIZE_SEG * seg_a)
    seq_len = N_SEGMENTS * STEP_SIZE_SEG + (1 - STEP_SIZE_SEG)
    v_start = (v_crop - int(seq_len * SEGMENT_VFRAMES)) // 2
    a_start = int(v_start / v_fps_i * a_fps_i)
    vsegs = torch.stack(
        [video[v_start + k * stride_v : v_start + k * stride_v + SEGMENT_VFRAMES] for k in range(N_SEGMENTS)]
    )
    asegs = torch.stack(
        [wave[a_start + k * stride_a : a_start + k * stride_a + seg_a] for k in range(N_SEGMENTS)]
    )
    # RGBToHalfToZeroOne, RGBNormalize(0.5, 0.5) in half precision
    half = vsegs.half().div(255.0)
    half = (half - 0.5) / 0.5
    details.update({"video_start_frame": int(v_start), "audio_start_sample": int(a_start)})
    return AVAInputs(half.float(), si.log_mels(asegs), details)


class AVA(SynchformerMetric):
    """AV-A. Options: batch_size (segments per forward), workers, autocast."""

    name = "av_a"
    protocol = PROTOCOL
    fields = FIELDS
    requires = frozenset({"video", "audio"})
    description = "AV-A: Synchformer signed audio-visual offset (s) as the Verse-Bench toolkit computes it"

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        """One outcome per item, in order; clips decode in threads, segments of all clips share forwards."""
        from nava_eval.metrics.desync import segment_features, window_logits
        from nava_eval.metrics.media_decode import ffmpeg_exe
        from nava_eval.metrics.synchformer_model import offset_grid

        if self._model is None:
            self.setup(self.device)
        ffmpeg = ffmpeg_exe() or shutil.which("ffmpeg") or "ffmpeg"
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        ready: list[tuple[int, AVAInputs]] = []
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(versebench_inputs, Path(it.output), ffmpeg, self.smoke) for it in items]
            for i, fut in enumerate(futures):
                try:
                    ready.append((i, fut.result()))
                except AVAInputError as exc:
                    outcomes[i] = ScoreOutcome.skipped(str(exc))
                except Exception as exc:  # noqa: BLE001 (one bad file is one outcome)
                    outcomes[i] = ScoreOutcome.failed(
                        f"cannot decode {Path(items[i].output).name}: {type(exc).__name__}: {exc}"
                    )
        if ready:
            try:
                auto = self._use_autocast()
                batch = self.batch_size_on(self.device, gpu=64, cpu=4)
                feats = segment_features(self._model, [inp for _, inp in ready], self.device, batch, auto)
                logits = window_logits(self._model, feats, self.device, auto)
                grid = offset_grid(self._model.cfg)
            except Exception as exc:  # noqa: BLE001 (a failing batch must not sink the run)
                log.exception("Synchformer scoring failed")
                for i, _ in ready:
                    outcomes[i] = ScoreOutcome.failed(f"Synchformer failed: {type(exc).__name__}: {exc}")
            else:
                top = logits.argmax(dim=-1)
                for k, (i, inp) in enumerate(ready):
                    value = float(grid[top[k]])
                    if math.isfinite(value):
                        outcomes[i] = ScoreOutcome.ok(av_a=value, **inp.details)
                    else:
                        outcomes[i] = ScoreOutcome.failed(f"non-finite AV-A ({value})")
        return [o if o is not None else ScoreOutcome.failed("internal: no outcome") for o in outcomes]

    def aggregate(self, outcomes: Sequence[ScoreOutcome]) -> dict[str, Any]:
        """Plain mean of the signed offsets over scored clips (the toolkit's), with counts."""
        ok = [o.values["av_a"] for o in outcomes if o.status == "ok"]
        return {
            "av_a": sum(ok) / len(ok) if ok else None,
            "n": len(ok),
            "n_skipped": sum(o.status == "skipped" for o in outcomes),
            "n_failed": sum(o.status == "failed" for o in outcomes),
        }
