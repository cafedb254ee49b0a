"""The frames moviepy 1.0.3's `VideoFileClip(path).iter_frames()` yields, without moviepy.

The Verse-Bench toolkit (requirements: moviepy~=1.0.3) reads videos this way for ID. moviepy:

- parses `ffmpeg -i path`'s stderr: the first `Duration: HH:MM:SS.cc` (the container's, centiseconds)
  and, on the first ` Video: ` line with a size, the frame rate from `N tbr` (else `N fps`), snapped to
  x·1000/1001 when within 0.01 of it for x in 23, 24, 25, 30, 50;
- decodes with `ffmpeg -i path -loglevel error -f image2pipe -vf scale=W:H -sws_flags bicubic
  -pix_fmt rgb24 -vcodec rawvideo -`;
- for t in `np.arange(0, duration, 1/fps)` returns frame number `int(fps·t + 1e-5) + 1`, reading the
  pipe forward, and the last frame read again once the pipe has run dry (a container Duration longer
  than the video stream, as with a longer audio track, repeats the last frame).

The same ffmpeg binary moviepy 1.0.3 uses by default (imageio-ffmpeg's) runs here.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class MoviepyReadError(RuntimeError):
    """What moviepy raises as IOError: no duration, no video stream, no first frame."""


@dataclass(frozen=True)
class FramePlan:
    """What moviepy's ffmpeg_parse_infos finds, and the frame numbers iter_frames asks for."""

    duration: float
    fps: float
    size: tuple[int, int]  # (w, h)
    positions: tuple[int, ...]  # 1-based frame numbers, one per yielded frame


def _cvsecs(text: str) -> float:
    h, m, s = text.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def frame_plan(path: Path) -> FramePlan:
    """moviepy 1.0.3's ffmpeg_parse_infos (fps_source 'tbr') and iter_frames' frame numbers."""
    from nava_eval.metrics.media_decode import ffmpeg_exe

    proc = subprocess.run([ffmpeg_exe(), "-i", str(path)], capture_output=True, check=False)
    lines = proc.stderr.decode("utf8", errors="replace").splitlines()
    try:
        line = [ln for ln in lines if "Duration: " in ln][0]
        duration = _cvsecs(re.findall("([0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9])", line)[0])
    except IndexError:
        raise MoviepyReadError(f"{path}: ffmpeg states no duration") from None
    video = [ln for ln in lines if " Video: " in ln and re.search(r"\d+x\d+", ln)]
    if not video:
        raise MoviepyReadError(f"{path}: no video stream")
    line = video[0]
    match = re.search(" [0-9]*x[0-9]*(,| )", line)
    if match is None:
        raise MoviepyReadError(f"{path}: no frame size on the video stream line")
    w, h = (int(v) for v in line[match.start() : match.end() - 1].split("x"))
    fps = _rate(line, "tbr")
    if fps is None:
        fps = _rate(line, "fps")
    if fps is None:
        raise MoviepyReadError(f"{path}: no frame rate on the video stream line")
    coef = 1000.0 / 1001.0
    for x in (23, 24, 25, 30, 50):
        if fps != x and abs(fps - x * coef) < 0.01:
            fps = x * coef
    times = np.arange(0, duration, 1.0 / fps)
    positions = tuple(int(fps * t + 0.00001) + 1 for t in times)
    return FramePlan(duration, fps, (w, h), positions)


def _rate(line: str, unit: str) -> float | None:
    match = re.search(f"( [0-9]*.| )[0-9]* {unit}", line)
    if match is None:
        return None
    text = line[match.start() : match.end()].split(" ")[1]
    return float(text.replace("k", "")) * 1000 if "k" in text else float(text)


def iter_frames(path: Path) -> Iterator[tuple[FramePlan, int, np.ndarray]]:
    """(plan, frame number actually read, rgb frame) for each frame moviepy's iter_frames yields.

    The frame number tells repeats apart: equal numbers are the same decoded frame.
    """
    from nava_eval.metrics.media_decode import ffmpeg_exe

    plan = frame_plan(Path(path))
    w, h = plan.size
    nbytes = w * h * 3
    cmd = [ffmpeg_exe(), "-i", str(path), "-loglevel", "error", "-f", "image2pipe"]
    cmd += ["-vf", f"scale={w}:{h}", "-sws_flags", "bicubic", "-pix_fmt", "rgb24", "-vcodec", "rawvideo", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        first = proc.stdout.read(nbytes)
        if len(first) != nbytes:
            raise MoviepyReadError(f"{path}: failed to read the first frame")
        last = np.frombuffer(first, np.uint8).reshape(h, w, 3)
        last_number = 1  # the number of the frame `last` holds
        pos = 1
        for want in plan.positions:
            if want != pos:
                if want < pos or want > pos + 100:
                    raise MoviepyReadError(
                        f"{path}: moviepy would seek (frame {want} after {pos}); not reproduced"
                    )
                for _ in range(want - pos - 1):
                    proc.stdout.read(nbytes)
                buf = proc.stdout.read(nbytes)
                if len(buf) == nbytes:
                    last = np.frombuffer(buf, np.uint8).reshape(h, w, 3)
                    last_number = want
                pos = want
            yield plan, last_number, last
    finally:
        proc.kill()
        proc.stdout.close()
        proc.wait()
