"""probe without PyAV (ffmpeg's stream listing) gives what PyAV gives."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from nava_eval.metrics.media_decode import (
    MediaDecodeError,
    VideoInfo,
    probe,
    probe_with_ffmpeg,
    run_ffmpeg,
)


def _clip(path: Path, rate: str, pix_fmt: str, audio: bool = True, extra: tuple[str, ...] = ()) -> Path:
    inputs = ["-f", "lavfi", "-i", f"testsrc=size=176x144:rate={rate}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]
    run_ffmpeg(
        ["-y", *inputs, "-t", "0.5", "-pix_fmt", pix_fmt, *extra, "-c:v", "libx264", "-shortest", str(path)]
    )
    return path


@pytest.mark.parametrize(
    ("rate", "pix_fmt", "audio", "extra", "expected"),
    [
        ("25", "yuv420p", True, (), ("yuv420p", "unknown", Fraction(25))),
        (
            "30000/1001",
            "yuv420p",
            False,
            ("-color_range", "tv"),
            ("yuv420p", "unknown", Fraction(30000, 1001)),
        ),
        ("24000/1001", "yuvj420p", True, (), ("yuvj420p", "pc", Fraction(24000, 1001))),
        ("60000/1001", "yuv444p", True, ("-color_range", "pc"), ("yuvj444p", "pc", Fraction(60000, 1001))),
        (
            "24",
            "yuv420p",
            True,
            ("-colorspace", "bt709", "-color_range", "tv", "-bsf:v", "h264_metadata=video_full_range_flag=0"),
            ("yuv420p", "tv", Fraction(24)),
        ),
    ],
)
def test_ffmpeg_probe_equals_pyav(tmp_path, rate, pix_fmt, audio, extra, expected) -> None:
    clip = _clip(tmp_path / "clip.mp4", rate, pix_fmt, audio, extra)
    ours = probe_with_ffmpeg(clip)
    assert ours == probe(clip)  # PyAV is installed here: probe() is its reading
    assert ours == VideoInfo(176, 144, *expected, audio)


def test_ffmpeg_probe_on_the_sync_fixture_clip(shared_dir) -> None:
    clip = shared_dir / "fixtures" / "syncnet" / "clip" / "clip.mp4"
    assert probe_with_ffmpeg(clip) == probe(clip)


def test_ffmpeg_probe_errors_name_the_file(tmp_path) -> None:
    wav = tmp_path / "tone.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine", "-t", "0.2", str(wav)])
    with pytest.raises(MediaDecodeError, match=r"tone\.wav: no video stream"):
        probe_with_ffmpeg(wav)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(MediaDecodeError, match=r"junk\.mp4: cannot read the container"):
        probe_with_ffmpeg(junk)
    with pytest.raises(MediaDecodeError, match=r"missing\.mp4: cannot read the container \(no such file\)"):
        probe_with_ffmpeg(tmp_path / "missing.mp4")
