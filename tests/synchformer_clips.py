"""The synthetic clips behind the Synchformer (DeSync, AV-A) reference vectors, rebuilt at test time.

Same encoder and rules as `tests/av_reference_clips.py` (whose `build_clip` makes them): the
reference script recorded each file's sha256, and the tests rebuild the clips and compare digests
before comparing any number. numpy, the standard library and the ffmpeg binary only, so the
official code's venv imports it too.
"""

from __future__ import annotations

from fractions import Fraction

from av_reference_clips import ClipSpec, build_clip, sha256  # noqa: F401 (re-exported)

CLIPS: tuple[ClipSpec, ...] = (
    # landscape, 24 fps, 44.1 kHz stereo, 6 s: 17 segments, so the first and last 14 differ
    ClipSpec(
        "sync_landscape_6s_44k_stereo",
        (320, 240),
        Fraction(24),
        144,
        44100,
        2,
        jump_frames=tuple(range(7, 140, 17)),
        click_seconds=tuple(f / 24 for f in range(7, 140, 17)),
        seed=11,
    ),
    # portrait, 29.97 fps, 22.05 kHz mono, 5 s: exactly 14 segments
    ClipSpec(
        "sync_portrait_2997_5s",
        (180, 320),
        Fraction(30000, 1001),
        150,
        22050,
        1,
        jump_frames=(20, 61, 99, 130),
        click_seconds=(21 / 29.97, 60 / 29.97, 101 / 29.97, 128 / 29.97),
        seed=12,
    ),
    # a silent track under moving video, 25 fps, 48 kHz stereo, 5 s
    ClipSpec(
        "sync_silent_5s",
        (256, 144),
        Fraction(25),
        125,
        48000,
        2,
        jump_frames=(10, 50, 90),
        silent=True,
        seed=13,
    ),
    # 4 s: shorter than one 14-segment window (4.8 s) once the toolkit cuts 0.1 s
    ClipSpec(
        "sync_short_4s",
        (160, 120),
        Fraction(25),
        100,
        16000,
        1,
        jump_frames=(30, 70),
        click_seconds=(1.2, 2.8),
        seed=14,
    ),
)
