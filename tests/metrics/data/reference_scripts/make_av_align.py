"""Reference vectors for AV-Align from MOVA's official `av_align_score.py`.

Run in a plain venv with the toolkit's own requirements (evaluation/envs/requirements_av.txt:
opencv-python-headless>=4.8.0, librosa>=0.10.0, numpy>=1.24.0, tqdm, matplotlib) and the ffmpeg that
imageio-ffmpeg bundles on PATH as `ffmpeg` (the official script shells out to `ffmpeg`):

    python make_av_align.py OFFICIAL_DIR OUT.json

OFFICIAL_DIR holds OpenMOSS/MOVA evaluation/metrics/av_quality/av_align_score.py (commit in OUT).
The clips come from tests/av_reference_clips.py (imported from this repository), built with that
ffmpeg; their sha256 go into OUT so the test knows it rebuilt the same bytes.
"""

from __future__ import annotations

import json
import shutil
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[3]))  # tests/

import av_reference_clips as clips  # noqa: E402


def main(official_dir: str, out_json: str) -> None:
    sys.path.insert(0, official_dir)
    import av_align_score as official  # the unmodified official file
    import numpy as np

    ffmpeg = shutil.which("ffmpeg")
    work = Path(out_json).with_suffix("")
    built = clips.build_all(work / "clips", ffmpeg)
    cases = []
    for name, path in built.items():
        _, score = official.compute_single_video_av(str(path))
        case = {"name": name, "sha256": clips.sha256(path), "score": score}
        frames, fps = official.extract_frames(str(path))
        case["fps"] = fps
        case["n_frames"] = len(frames)
        if len(frames) >= 2:
            flow, video_peaks = official.detect_video_peaks(frames, fps)
            case["flow"] = [float(v) for v in flow]
            case["video_peaks"] = [float(v) for v in video_peaks]
            try:
                onsets, _, env = official.detect_audio_peaks_from_video(str(path))
                case["onset_times"] = [float(v) for v in onsets]
                case["onset_env_len"] = int(len(env))
                case["onset_env_sum"] = float(np.sum(env, dtype=np.float64))
            except Exception as exc:  # the official script turns this into a score of 0.0
                case["audio_error"] = f"{type(exc).__name__}: {exc}"
        cases.append(case)
    mean = official.compute_av_align_for_videos_parallel([str(p) for p in built.values()], max_workers=2)
    versions = {p: metadata.version(p) for p in ("opencv-python-headless", "librosa", "numpy", "scipy")}
    out = {
        "official": "OpenMOSS/MOVA evaluation/metrics/av_quality/av_align_score.py",
        "commit": "595a97691123e8356a65ba9fdeee23ae81aaa471",
        "ffmpeg": shutil.which("ffmpeg") and _ffmpeg_version(ffmpeg),
        "versions": versions,
        "cases": cases,
        "mean": mean["AV-Align"],
    }
    Path(out_json).write_text(json.dumps(out, indent=1) + "\n")


def _ffmpeg_version(ffmpeg: str) -> str:
    import subprocess

    return subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.splitlines()[0]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
