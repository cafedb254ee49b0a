"""`nava-eval bench sync`: seconds per clip for Sync-C/D, ours (batched) vs syncnet-python's own path.

Both sides score the same clips on the same machine with the same weights (the real ones when the
weight cache has them, else seeded random ones labelled as such). Ours: `SyncNetMetric.score_batch`
with the networks loaded once. Theirs: `syncnet_python.SyncNetPipeline.inference(clip)` per clip,
its networks also loaded once (its constructor), everything else as the package does it (per-frame
S3FD with its Python NMS, per-track `evaluate()` at batch 20, ffmpeg via ffmpeg-python).
The ratio is reported; the issue's target is ≥ 3×.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def write_synthetic_clip(
    path: Path,
    *,
    n_frames: int = 125,
    size: tuple[int, int] = (256, 256),
    fps: int = 25,
    seed: int = 0,
    face: bool = True,
    silent: bool = False,
    mouth_lag: int = 2,
) -> Path:
    """An H.264 + AAC mp4: a drawn face whose mouth opens with a speech-like audio envelope."""
    import cv2

    from nava_eval.metrics.media_decode import run_ffmpeg

    rng = np.random.default_rng(seed)
    w, h = size
    sr = 16000
    spf = sr // fps
    envelope = np.clip(
        np.convolve(rng.random(n_frames + 8), np.ones(4) / 4, "same")[:n_frames] * 1.6 - 0.4, 0, 1
    )
    t = np.arange(n_frames * spf) / sr
    carrier = (
        np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 360 * t) + 0.1 * rng.standard_normal(t.size)
    )
    audio = carrier * np.repeat(envelope, spf) * 0.3
    if silent:
        audio[:] = 0
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    frames = np.empty((n_frames, h, w, 3), np.uint8)
    for i in range(n_frames):
        img = np.full((h, w, 3), (60, 90, 120), np.uint8)
        img[:] += rng.integers(0, 6, (h, w, 3), dtype=np.uint8)
        if face:
            cx, cy = w // 2 + int(4 * np.sin(i / 9)), h // 2
            cv2.ellipse(img, (cx, cy), (w // 4, int(h / 3.2)), 0, 0, 360, (140, 170, 220), -1)
            for ex in (-1, 1):
                cv2.circle(img, (cx + ex * w // 10, cy - h // 12), max(2, w // 40), (40, 40, 40), -1)
            opening = envelope[max(0, i - mouth_lag)]
            cv2.ellipse(
                img,
                (cx, cy + h // 8),
                (w // 10, max(1, int(h / 20 * opening) + 1)),
                0,
                0,
                360,
                (30, 20, 80),
                -1,
            )
        frames[i] = img
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "a.wav"
        from scipy.io import wavfile

        wavfile.write(str(wav), sr, pcm)
        run_ffmpeg(
            [
                "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
                "-i", str(wav), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-preset", "veryfast",
                "-c:a", "aac", "-ar", str(sr), "-ac", "1", "-shortest", str(path),
            ],
            input_bytes=frames.tobytes(),
        )  # fmt: skip
    return path


@dataclass
class BenchResult:
    clips: int
    device: str
    weights: str
    ours_s_per_clip: float
    package_s_per_clip: float | None
    speedup: float | None
    ours_setup_s: float
    package_setup_s: float | None
    note: str = ""


def _weights_for_bench(tmp: Path) -> tuple[dict[str, Path], str]:
    """Real weights from the cache when present; otherwise seeded random ones saved to `tmp`."""
    import torch

    from nava_eval.metrics.syncnet_model import smoke_s3fd, smoke_syncnet
    from nava_eval.metrics.weights import WeightsError, resolve_weight

    try:
        return {n: resolve_weight(n).path for n in ("syncnet", "s3fd")}, "real (weight cache)"
    except WeightsError:
        pass
    paths = {"syncnet": tmp / "syncnet_random.pth", "s3fd": tmp / "s3fd_random.pth"}
    torch.save(smoke_syncnet(0).state_dict(), paths["syncnet"])
    torch.save(smoke_s3fd(0).state_dict(), paths["s3fd"])
    return paths, "seeded random (smoke) weights: timings only, scores meaningless"


def _package_runner(weights: dict[str, Path], device: str, tmp: Path):
    """SyncNetPipeline with its networks loaded once, ffmpeg on PATH as it expects."""
    from nava_eval.metrics.media_decode import ffmpeg_exe

    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / "ffmpeg"
    if not link.exists():
        os.symlink(ffmpeg_exe(), link)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    from syncnet_python import SyncNetPipeline

    return SyncNetPipeline(
        {"s3fd_weights": str(weights["s3fd"]), "syncnet_weights": str(weights["syncnet"]), "min_track": 100},
        device=device,
    )


def run_bench(
    clips: list[Path] | None = None,
    *,
    n_clips: int = 4,
    device: str | None = None,
    with_package: bool = True,
    out_json: Path | None = None,
    rounds: int = 2,
) -> BenchResult:
    """Time both paths on the same clips; synthetic 6 s 256×256 clips when none are given."""
    import torch

    from nava_eval.metrics.base import ScoreInput
    from nava_eval.metrics.sync import SyncNetMetric

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tmp = Path(tempfile.mkdtemp(prefix="nava-bench-sync-"))
    try:
        if not clips:
            clips = [write_synthetic_clip(tmp / f"clip{i}.mp4", n_frames=150, seed=i) for i in range(n_clips)]
        weights, label = _weights_for_bench(tmp)
        items = [ScoreInput(id=p.stem, set="bench", output=p) for p in clips]

        t0 = time.perf_counter()
        metric = SyncNetMetric(weights={k: str(v) for k, v in weights.items()})
        metric.setup(device)
        setup_s = time.perf_counter() - t0
        metric.score_batch(items[:1])  # warm-up (cuDNN autotune, page cache) on both sides
        pipe = pkg_setup = None
        if with_package:
            t0 = time.perf_counter()
            pipe = _package_runner(weights, device, tmp)
            pkg_setup = time.perf_counter() - t0
            pipe.inference(str(clips[0]), None, cache_dir=str(tmp / "warm"))

        # Rounds alternate the two sides and keep each side's best round, so a load spike from
        # another process on a shared machine does not decide the ratio.
        ours_rounds, pkg_rounds, statuses = [], [], set()
        for r in range(rounds):
            t0 = time.perf_counter()
            ours = metric.score_batch(items)
            ours_rounds.append((time.perf_counter() - t0) / len(items))
            statuses |= {o.status for o in ours}
            if pipe is not None:
                t0 = time.perf_counter()
                for k, clip in enumerate(clips):
                    pipe.inference(str(clip), None, cache_dir=str(tmp / f"pkg{r}_{k}"))
                pkg_rounds.append((time.perf_counter() - t0) / len(clips))
        ours_s = min(ours_rounds)
        pkg_s = min(pkg_rounds) if pkg_rounds else None
        note = (
            f"our statuses: {sorted(statuses)}; rounds ours {[round(x, 2) for x in ours_rounds]} s/clip, "
            f"package {[round(x, 2) for x in pkg_rounds]} s/clip"
        )
        result = BenchResult(
            clips=len(clips),
            device=device if device == "cpu" else torch.cuda.get_device_name(0),
            weights=label,
            ours_s_per_clip=ours_s,
            package_s_per_clip=pkg_s,
            speedup=(pkg_s / ours_s) if pkg_s else None,
            ours_setup_s=setup_s,
            package_setup_s=pkg_setup,
            note=note,
        )
        if out_json is not None:
            out_json.write_text(json.dumps(asdict(result), indent=2) + "\n")
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
