"""NavaPipeline on the seeded nava-tiny components: every mode, seeds, batching, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.nava.components import build_components
from nava_eval.nava.media import read_mp4, read_wav, write_wav
from nava_eval.nava.pipeline import NavaPipeline, PipelineOptions, Request, image_bucket

SMALL = {"width": 64, "height": 64, "frames": 2, "steps": 2}
ONE_SECOND = {**SMALL, "frames": 7}


@pytest.fixture(scope="module")
def components():
    return build_components("nava-tiny")


@pytest.fixture(scope="module")
def pipe(components) -> NavaPipeline:
    return NavaPipeline(components, PipelineOptions(image_size=64))


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("voices")
    t = np.arange(16000) / 16000
    paths = []
    for i, f0 in enumerate((140.0, 260.0)):
        wav = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 3 * f0 * t)
        paths.append(write_wav(folder / f"v{i}.wav", wav[None].astype(np.float32)))
    return paths


def test_t2av_one_second_clip(pipe: NavaPipeline, tmp_path: Path) -> None:
    steps: list[tuple[int, int]] = []
    sample = pipe(
        Request(id="a", prompt="a dog barks", **ONE_SECOND), progress=lambda i, n: steps.append((i, n))
    )
    assert steps == [(1, 2), (2, 2)]
    # 7 latent frames → 25 pixel frames (≈1 s at 24 fps); 27 audio tokens → 27·4 − 3 mel frames of 160 samples.
    assert (
        sample.video is not None
        and sample.video.shape == (25, 64, 64, 3)
        and sample.video.dtype == torch.uint8
    )
    assert sample.audio.shape == (2, (27 * 4 - 3) * 160)
    assert sample.sample_rate == 16000
    assert sample.audio.abs().max() <= 0.99 and sample.video.float().std() > 1.0
    assert sample.meta["latent_grid"] == [7, 4, 4] and sample.meta["audio_tokens"] == 27
    assert sample.meta["passes"] == ["C", "U", "M"] and sample.meta["smoke"] is True
    assert set(sample.timings) >= {"text_s", "denoise_s", "decode_s", "total_s"}
    path = sample.write(tmp_path / "a.mp4")
    back = read_mp4(path)
    assert back.frames.shape == (25, 64, 64, 3) and back.audio is not None and back.audio.shape[0] == 2


def test_seed_controls_noise(pipe: NavaPipeline) -> None:
    one = pipe(Request(id="s1", prompt="rain", seed=7, **SMALL))
    again = pipe(Request(id="s2", prompt="rain", seed=7, **SMALL))
    other = pipe(Request(id="s3", prompt="rain", seed=8, **SMALL))
    assert torch.equal(one.video, again.video) and torch.equal(one.audio, again.audio)
    assert not torch.equal(one.audio, other.audio)


def test_batched_guidance_equals_sequential(components, voices: list[Path]) -> None:
    request = Request(id="b", prompt="x <S>hi<E>", speaker_wavs=(voices[0],), **SMALL)
    batched = NavaPipeline(components, PipelineOptions(cfg_batch=4))(request)
    sequential = NavaPipeline(components, PipelineOptions(cfg_batch=1))(request)
    assert batched.meta["passes"] == ["C", "U", "M", "S"]
    torch.testing.assert_close(batched.audio, sequential.audio, rtol=1e-4, atol=1e-4)
    assert (batched.video.int() - sequential.video.int()).abs().max() <= 1  # uint8 rounding at most


def test_t2a_duration_sets_audio_length(pipe: NavaPipeline, tmp_path: Path) -> None:
    sample = pipe(Request(id="t", prompt="thunder", mode="t2a", duration=0.4, steps=2))
    assert sample.video is None and sample.meta["audio_tokens"] == 10 and sample.meta["latent_grid"] is None
    assert sample.meta["passes"] == ["C", "U"]  # seedtts config: no 3D term, no speaker
    path = sample.write(tmp_path / "t.wav")
    wav, rate = read_wav(path)
    assert rate == 16000 and wav.shape == (2, (10 * 4 - 3) * 160)


def test_timbre_binds_wavs_to_spans(pipe: NavaPipeline, voices: list[Path]) -> None:
    prompt = "two people talk. <S>hello<E> then <S>bye<E>"
    two = pipe(Request(id="v", prompt=prompt, mode="t2a", duration=0.2, speaker_wavs=tuple(voices), steps=2))
    swapped = pipe(
        Request(
            id="w", prompt=prompt, mode="t2a", duration=0.2, speaker_wavs=tuple(reversed(voices)), steps=2
        )
    )
    assert two.meta["passes"] == ["C", "U", "S"]
    assert not torch.equal(two.audio, swapped.audio)  # the order of the wavs matters


def test_seedtts_length_from_transcript_ratio(pipe: NavaPipeline, voices: list[Path]) -> None:
    request = Request(
        id="tts", prompt="0123456789", mode="tts", speaker_wavs=(voices[0],), reference_text="x" * 20, steps=2
    )
    sample = pipe(request)
    # 1 s reference = 25 tokens; 10 / 20 characters → 12 tokens (int truncation, as officially).
    assert sample.meta["audio_tokens"] == 12 and sample.video is None


def test_i2av_uses_the_image_bucket(pipe: NavaPipeline, tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "wide.png"
    Image.fromarray((np.random.default_rng(0).random((60, 110, 3)) * 255).astype(np.uint8)).save(image)
    sample = pipe(Request(id="i", prompt="a scene", mode="i2av", image=image, frames=2, steps=2))
    width, height = image_bucket(110, 60, 64)
    assert sample.video is not None and sample.video.shape == (5, height, width, 3)
    assert sample.meta["latent_grid"] == [2, height // 16, width // 16]


def test_image_buckets_match_reference_table() -> None:
    assert image_bucket(1280, 720) == (1280, 704)
    assert image_bucket(720, 1280) == (704, 1280)
    assert image_bucket(1000, 1000) == (960, 960)
    assert image_bucket(1000, 800) == (1056, 864)
    assert image_bucket(300, 1000) == (608, 1536)
    # Threshold between 3:4 and 2:3 is their exact midpoint 17/24 ≈ 0.70833.
    assert image_bucket(1000, 709) == (1088, 832) and image_bucket(1000, 708) == (1184, 736)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"width": 100}, "width"),
        ({"height": 0}, "height"),
        ({"frames": 0}, "frames"),
        ({"audio_guidance": -1.0}, "audio_guidance"),
        ({"mode": "i2av"}, "image"),
        ({"mode": "t2a", "image": "x.png"}, "image"),
        ({"prompt": "<S>a<E> <S>b<E>", "speaker_wavs": ("one.wav",)}, "speaker_wavs"),
        ({"prompt": "plain", "speaker_wavs": ("one.wav",)}, "speaker_wavs"),
        ({"prompt": "<S>a<E> <S>b", "speaker_wavs": ("1.wav", "2.wav")}, "prompt"),
        ({"mode": "tts", "speaker_wavs": ("one.wav",)}, "reference_text"),
        ({"mode": "video"}, "mode"),
    ],
)
def test_bad_request_names_field_and_id(kwargs: dict, field: str) -> None:
    values = {"id": "req-7", "prompt": "hello", **kwargs}
    with pytest.raises(ValueError, match=rf"request 'req-7': {field}\b"):
        Request(**values)


def test_speech_spans_without_wavs_are_plain_prompts(pipe: NavaPipeline) -> None:
    """NAVA prompts write speech as <S>…<E>; without wavs there is no timbre control and no S pass."""
    sample = pipe(Request(id="p", prompt="a man says <S>hello there<E>", **SMALL))
    assert sample.meta["passes"] == ["C", "U", "M"]


def test_missing_and_unreadable_files(pipe: NavaPipeline, tmp_path: Path) -> None:
    missing = Request(id="m", prompt="<S>a<E>", speaker_wavs=(tmp_path / "nope.wav",), **SMALL)
    with pytest.raises(ValueError, match=r"request 'm': speaker_wavs\[0\]: .*does not exist"):
        pipe(missing)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF garbage")
    with pytest.raises(ValueError, match=r"request 'u': speaker_wavs\[0\]: .*unreadable audio"):
        pipe(Request(id="u", prompt="<S>a<E>", speaker_wavs=(junk,), **SMALL))
    with pytest.raises(ValueError, match=r"request 'img': image: .*does not exist"):
        pipe(Request(id="img", prompt="x", mode="i2av", image=tmp_path / "none.png", **SMALL))


def test_released_seedtts_path_has_no_speaker_and_313_reference_tokens(pipe: NavaPipeline, voices) -> None:
    base = dict(id="r", prompt="0123456789", mode="tts", speaker_wavs=(voices[0],), reference_text="x" * 20)
    intended = pipe(Request(**base, steps=1, timbre_guidance=1.0))
    released = pipe(Request(**base, steps=1, timbre_guidance=1.0, embed_speakers=False, reference_tokens=313))
    assert intended.meta["passes"] == ["C", "U", "S"] and intended.meta["speaker_embedded"] is True
    # t2a_seedtts.py as released: no speaker vector (so no timbre pass) and int(10 / 20 · 313) tokens.
    assert released.meta["passes"] == ["C", "U"] and released.meta["speaker_embedded"] is False
    assert released.meta["audio_tokens"] == 156 and intended.meta["audio_tokens"] == 12


def test_t2a_default_duration_is_the_scripts_six_seconds(pipe: NavaPipeline) -> None:
    sample = pipe(Request(id="d", prompt="rain", mode="t2a", steps=1))
    assert sample.meta["audio_tokens"] == 150  # scripts/inference_t2a.sh: DURATION=6.0 → 6 · 25 tokens


def test_given_noise_replaces_the_seeded_draw(pipe: NavaPipeline) -> None:
    request = Request(
        id="n", prompt="a bell rings", steps=1, **{k: v for k, v in SMALL.items() if k != "steps"}
    )
    stream = pipe.noise_generator(5)
    first, second = pipe.draw_noise(request, stream), pipe.draw_noise(request, stream)
    assert first.video is not None and first.video.shape == (2 * 4 * 4, 48) and first.audio.shape[1] == 128
    assert not torch.equal(first.video, second.video)  # a continuing stream, not a reseed
    seeded = pipe(Request(**{**request.__dict__, "seed": 5}))
    given = pipe(request, noise=first)
    assert torch.equal(seeded.audio, given.audio) and torch.equal(seeded.video, given.video)
    with pytest.raises(ValueError, match="noise shapes"):
        pipe(request, noise=type(first)(video=None, audio=first.audio))
