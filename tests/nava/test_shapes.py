"""Output shapes: strides, RoPE reach, nearest valid shape, audio length as the release computes it."""

from __future__ import annotations

import math

import pytest

from nava_eval.nava.shapes import (
    MAX_LATENT_FRAMES,
    ClipShape,
    audio_tokens_for_clip,
    check_shape,
    check_t2a_seconds,
    nearest_side,
    shape_problems,
)


def _release_audio_len(frames: int, fps: float = 24, tokens_per_sec: float = 25) -> int:
    # nava_src/data/t2v.py T2AVDataset: ceil(((frames - 1) * 4 + 1) / fps * audio_tokens_per_sec)
    return math.ceil(((frames - 1) * 4 + 1) / fps * tokens_per_sec)


@pytest.mark.parametrize("frames", [1, 2, 4, 7, 21, 37, 55, 61, 100, 246])
def test_audio_length_follows_the_clip_as_the_release(frames: int) -> None:
    assert audio_tokens_for_clip(frames) == _release_audio_len(frames)


def test_advertised_shapes_are_valid() -> None:
    landscape = check_shape(1280, 704, 37)
    assert landscape.latent_grid == (37, 44, 80) and landscape.video_tokens == 32560
    assert landscape.audio_tokens == 152 and landscape.pixel_frames == 145
    portrait = check_shape(704, 1280, 37)
    assert portrait.describe(24)["orientation"] == "portrait" and portrait.video_tokens == 32560
    square = check_shape(960, 960, 61)
    assert square.describe()["orientation"] == "square" and square.pixel_frames == 241
    assert check_shape(1280, 704, 55).seconds(24) == pytest.approx(217 / 24)
    # 720 px is 45 latent cells: odd, zero-padded to the DiT patch as the release does.
    assert check_shape(1280, 720, 37).video_tokens == 37 * 23 * 40


def test_max_frames_is_the_audio_ropes_reach() -> None:
    assert MAX_LATENT_FRAMES == 246
    assert audio_tokens_for_clip(246) <= 1024 < audio_tokens_for_clip(247)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((1280, 700, 37), "height: 700 is not a multiple of 16 .*nearest valid: 704"),
        ((1000, 704, 37), "width: 1000 .*nearest valid: 1008"),
        ((8, 704, 37), "width: 8 .*nearest valid: 32"),
        ((1280, 704, 0), "frames: 0 is outside 1..246 .*nearest valid: 1"),
        ((1280, 704, 300), "frames: 300 .*nearest valid: 246"),
    ],
)
def test_a_shape_the_model_cannot_take_names_the_nearest_valid_one(shape, expected) -> None:
    with pytest.raises(ValueError, match=expected):
        check_shape(*shape)


def test_the_refusal_suggests_a_whole_valid_shape() -> None:
    with pytest.raises(ValueError, match=r"nearest valid shape: --width 1008 --height 704 --frames 246"):
        check_shape(1000, 700, 999)
    near = ClipShape(nearest_side(1000), nearest_side(700), 246)
    assert shape_problems(near.width, near.height, near.frames) == []
    assert [name for name, _ in shape_problems(1000, 700, 999)] == ["width", "height", "frames"]
    assert shape_problems(1280.0, 704, 37)[0][0] == "width"  # floats are refused, not truncated


def test_t2a_duration_range() -> None:
    assert check_t2a_seconds(6.0) == 150 and check_t2a_seconds(40.96) == 1024
    with pytest.raises(ValueError, match=r"nearest valid: 40.96"):
        check_t2a_seconds(41)
    with pytest.raises(ValueError, match=r"> 0"):
        check_t2a_seconds(0)
