"""Audio amplitude (RMS) and loudness (LUFS) against MOVA's eval_audio_amplitude.py on espeak-ng speech mp4s."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from nava_eval.metrics import audio_amplitude as aa
from nava_eval.metrics.base import ScoreInput, get_metric, metric_entries

DATA = Path(__file__).parent / "data" / "audio_amplitude"
# torchaudio's resample vs our copy of its kernel, float32: observed ≤ 1e-8 RMS, ≤ 1e-5 LUFS.
TOL_RMS, TOL_LUFS = 1e-6, 1e-4


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "expected.json").read_text())


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reference_speech import write_amplitude_files

    from nava_eval.metrics.media_decode import ffmpeg_exe

    return write_amplitude_files(tmp_path_factory.mktemp("amplitude"), ffmpeg_exe())


def test_matches_movas_script(expected: dict, clips: Path) -> None:
    assert expected["sampling_rate"] == aa.SAMPLING_RATE
    metric = aa.AudioAmplitude()
    names = [n for n, r in expected["results"].items() if np.isfinite(r["loudness_lufs"])]
    assert len(names) == 4
    outs = metric.score_batch([ScoreInput(n, "set1", clips / n) for n in names])
    for name, out in zip(names, outs, strict=True):
        exp = expected["results"][name]
        data, _, _ = aa.decode_played_from_zero(clips / name)
        assert hashlib.sha256(data.tobytes()).hexdigest() == exp["decoded_sha256"], (
            f"{name}: this ffmpeg/PyAV decodes other samples than the reference run's"
        )
        assert out.status == "ok", out.reason
        assert out.values["amplitude_rms"] == pytest.approx(exp["amplitude_rms"], abs=TOL_RMS), name
        assert out.values["loudness_lufs"] == pytest.approx(exp["loudness_lufs"], abs=TOL_LUFS), name
        assert round(out.values["seconds"] * aa.SAMPLING_RATE) == exp["samples_48k"], name
    # The audio that starts 0.5 s late is padded with 0.5 s of silence in front, as MOVA does.
    assert expected["results"]["offset_16k.mp4"]["samples_48k"] == 24000 + 3 * 207139


def test_silence_is_skipped_not_averaged(expected: dict, clips: Path) -> None:
    assert expected["results"]["silence_16k.mp4"]["loudness_lufs"] == float("-inf")  # MOVA's value
    (out,) = aa.AudioAmplitude().score_batch([ScoreInput("s", "set1", clips / "silence_16k.mp4")])
    assert out.status == "skipped" and "-inf" in out.reason and out.values["amplitude_rms"] == 0.0


def test_bad_input_is_named(tmp_path: Path) -> None:
    from nava_eval.nava.media import write_mp4

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    video_only = write_mp4(tmp_path / "v.mp4", np.zeros((3, 32, 32, 3), np.uint8), fps=24)
    outs = aa.AudioAmplitude().score_batch(
        [
            ScoreInput("a", "set1", tmp_path / "gone.mp4"),
            ScoreInput("b", "set1", bad),
            ScoreInput("c", "set1", video_only),
        ]
    )
    assert [o.status for o in outs] == ["failed"] * 3
    assert "gone.mp4: file not found" in outs[0].reason
    assert "bad.mp4: cannot decode" in outs[1].reason
    assert "no audio stream" in outs[2].reason


def test_registry() -> None:
    entry = metric_entries()["audio_amplitude"]
    assert entry.protocol == aa.PROTOCOL == get_metric("audio_amplitude", smoke=True).protocol
    assert [f.name for f in entry.fields] == ["amplitude_rms", "loudness_lufs"]
