"""Sample → nava Request mapping (the one place that knows both vocabularies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nava_eval.benchmarks.base import Sample
from nava_eval.rundir.run_file import GenerationSettings, Guidance
from nava_eval.runners.nava_backend import WEIGHT_DTYPES, build_request
from nava_eval.runners.presets import PRESETS


def test_i2av_sample_uses_the_run_settings(tmp_path):
    settings = GenerationSettings(steps=7, width=320, height=192, latent_frames=3, fps=12)
    sample = Sample(id="01000", set="set3", prompt="a talk <S>hi<E>", mode="i2av", image=tmp_path / "x.jpg")
    request = build_request(sample, settings, seed=123)
    assert (request.id, request.mode, request.image, request.seed) == (
        "01000",
        "i2av",
        tmp_path / "x.jpg",
        123,
    )
    assert (request.steps, request.width, request.height, request.frames, request.fps) == (
        7,
        320,
        192,
        3,
        12.0,
    )
    assert request.guidance_scales().video == 3.0 and request.guidance_scales().align_3d is True


def test_tts_sample_passes_prompt_wav_and_transcript():
    preset = PRESETS["seedtts"].generation
    sample = Sample(
        id="u1",
        set="en",
        prompt="Say this sentence.",
        mode="tts",
        speaker_wavs=(Path("p.wav"),),
        prompt_text="the prompt transcript",
        reference_text="Say this sentence.",
        language="en",
    )
    request = build_request(sample, preset, seed=100)
    assert request.reference_text == "the prompt transcript" and request.speaker_wavs == (Path("p.wav"),)
    scales = request.guidance_scales()
    # scripts/inference_seedtts.sh passes --timbre_cfg without a scale: argparse's 1.0, not the yaml's 3.0.
    assert scales.align_3d is False and scales.timbre == 1.0 and scales.timbre_cfg is True
    assert scales.audio == 2.0 and scales.audio_align == 2.0
    assert request.embed_speakers and request.reference_tokens is None
    released = build_request(sample, PRESETS["seedtts-released"].generation, seed=100)
    # The released t2a_seedtts.py: no speaker vector, reference length fixed at 313 tokens.
    assert not released.embed_speakers and released.reference_tokens == 313
    assert released.guidance_scales() == scales


def test_bad_settings_fail_with_the_field_and_the_sample_id():
    sample = Sample(id="s9", set="set1", prompt="p")
    with pytest.raises(
        ValueError, match=r"request 's9': width: 100 is not a multiple of 16 .*nearest valid: 96"
    ):
        build_request(sample, GenerationSettings(width=100), seed=1)
    with pytest.raises(ValueError, match=r"request 's9': video_guidance: guidance scale must be >= 0"):
        build_request(sample, GenerationSettings(guidance=Guidance(video=-1.0)), seed=1)
    assert WEIGHT_DTYPES["fp8"] == "fp8_e4m3fn"
