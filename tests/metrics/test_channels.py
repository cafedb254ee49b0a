"""`--channel`: each audio metric reads its official channel by default, another reading is a protocol variant.

The clip is built at test time: espeak-ng speech on the left channel, seeded noise on the right, at
22.05 kHz (so every metric resamples). Each variant must score exactly what a mono file holding the
channel it names scores, and carry `<protocol>+channel-<reading>`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from nava_eval.metrics.base import SMOKE_SUFFIX, ScoreInput, get_metric, metric_class
from nava_eval.metrics.channels import (
    READINGS,
    ChannelReading,
    MissingChannelError,
    UnknownChannelError,
    channel_options,
    check_channel,
    takes_channel,
)
from nava_eval.metrics.speech_audio import load_audio

#: metric → the channel its official loader reads (see each class's `official_channel`).
OFFICIAL = {
    "wer": "left",
    "sim": "left",
    "sim_speakers": "left",
    "wer_sensevoice": "mean",
    "audiobox": "mean",
    "clap": "mean",
    "dnsmos": "mean",
    "kl": "mean",
}
SR = 22050


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """stereo.wav (left: speech, right: noise) and the mono files each reading should equal."""
    folder = tmp_path_factory.mktemp("channels")
    raw = folder / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw), "Good evening, see you at the station."],
        check=True,
        capture_output=True,
    )
    speech, sr = sf.read(raw, dtype="float64")
    assert sr == SR
    noise = 0.3 * np.random.default_rng(24).standard_normal(speech.size)
    stereo = np.stack([0.8 * speech, noise], 1)
    # PCM16 on disk: write the stereo file first and derive the mono files from what it holds.
    sf.write(folder / "stereo.wav", stereo, SR, subtype="PCM_16")
    held, _ = sf.read(folder / "stereo.wav", dtype="float64")
    out = {"stereo": folder / "stereo.wav"}
    for name, wave in (("left", held[:, 0]), ("right", held[:, 1])):
        sf.write(folder / f"{name}.wav", wave, SR, subtype="PCM_16")
        out[name] = folder / f"{name}.wav"
    return out


def test_the_readings_select_their_channel(clips: dict[str, Path]) -> None:
    audio = load_audio(clips["stereo"])
    left, right = (load_audio(clips[c]).samples[0] for c in ("left", "right"))
    assert np.array_equal(ChannelReading.of("x", "left", None).select(audio), left)
    assert np.array_equal(ChannelReading.of("x", "left", "right").select(audio), right)
    mean = ChannelReading.of("x", "left", "mean").select(audio)
    np.testing.assert_allclose(mean, ((left + right) / 2).astype(np.float32), rtol=0, atol=1e-7)
    assert not np.allclose(left, right, atol=0.05)  # the channels really differ


def test_a_mono_file_has_no_right_channel(clips: dict[str, Path]) -> None:
    mono = load_audio(clips["left"])
    assert np.array_equal(ChannelReading.of("x", "mean", "left").select(mono), mono.samples[0])
    assert np.array_equal(ChannelReading.of("x", "left", "mean").select(mono), mono.samples[0])
    with pytest.raises(MissingChannelError, match=r"left\.wav: 1 channel\(s\), no right channel"):
        ChannelReading.of("x", "left", "right").select(mono)


def test_speech_and_scene_are_refused_with_the_release_layout() -> None:
    for name in ("speech", "scene"):
        with pytest.raises(UnknownChannelError, match="no separate speech or scene channel"):
            check_channel(name)
    with pytest.raises(UnknownChannelError, match="valid readings are left, right, mean"):
        check_channel("centre")
    assert check_channel(None) is None and check_channel("right") == "right"


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_each_metric_declares_its_official_channel_and_a_variant_id_per_other_reading(name: str) -> None:
    cls = metric_class(name)
    assert takes_channel(cls) and cls.official_channel == OFFICIAL[name]
    base = get_metric(name).protocol
    assert base == cls.protocol or name == "wer"  # wer's default id depends on the benchmark only
    for reading in READINGS:
        metric = get_metric(name, **channel_options(cls, reading))
        expected = base if reading == OFFICIAL[name] else f"{base}+channel-{reading}"
        assert metric.protocol == expected
        smoke = get_metric(name, smoke=True, **channel_options(cls, reading)).protocol
        assert smoke == expected + (SMOKE_SUFFIX if cls.smoke_networks else "")


@pytest.mark.parametrize("name", ["sync", "ib", "av_align", "audio_amplitude"])
def test_metrics_without_the_option_are_not_given_it(name: str) -> None:
    assert not takes_channel(metric_class(name)) and channel_options(metric_class(name), "right") == {}


def _items(paths: list[Path], **kw) -> list[ScoreInput]:
    return [ScoreInput(id=p.stem, set="s", output=p, **kw) for p in paths]


def test_sim_reads_the_chosen_channel(clips: dict[str, Path]) -> None:
    # The prompt wav is a mono copy of one channel: the cosine is 1 exactly when that channel is read.
    for reading, twin in (("left", "left"), ("right", "right")):
        metric = get_metric("sim", smoke=True, channel=reading)
        same, other = (twin, "right" if twin == "left" else "left")
        out_same = metric.score_batch(_items([clips["stereo"]], reference_audio=clips[same]))[0]
        out_other = metric.score_batch(_items([clips["stereo"]], reference_audio=clips[other]))[0]
        assert out_same.values["cosine"] == pytest.approx(1.0, abs=1e-5)
        assert out_other.values["cosine"] < 0.999


def test_wer_reads_the_chosen_channel_and_a_mono_file_fails_under_right(clips: dict[str, Path]) -> None:
    text = dict(reference_text="good evening see you at the station", language="en")
    official = get_metric("wer", smoke=True)  # a mono file: its one channel
    for reading in ("left", "right"):
        stereo = get_metric("wer", smoke=True, channel=reading).score_batch(
            _items([clips["stereo"]], **text)
        )[0]
        mono = official.score_batch(_items([clips[reading]], **text))[0]
        assert stereo.status == mono.status == "ok"
        assert stereo.values["hypothesis"] == mono.values["hypothesis"]
    # The tiny random ASR emits the same bytes for any input: what it is fed is checked directly.
    fed = {
        r: get_metric("wer", smoke=True, channel=r)._prepare(_items([clips["stereo"]], **text)[0])[2]
        for r in ("left", "right")
    }
    for reading, wave in fed.items():
        np.testing.assert_array_equal(wave, official._prepare(_items([clips[reading]], **text)[0])[2])
    assert not np.allclose(fed["left"], fed["right"], atol=0.05)
    failed = get_metric("wer", smoke=True, channel="right").score_batch(_items([clips["left"]], **text))[0]
    assert failed.status == "failed" and "no right channel" in failed.reason


def test_audiobox_reads_the_chosen_channel(clips: dict[str, Path]) -> None:
    metric = get_metric("audiobox", smoke=True, channel="left")
    stereo, mono = metric.score_batch(_items([clips["stereo"], clips["left"]]))
    assert stereo.values == pytest.approx(mono.values, abs=1e-6)
    official = get_metric("audiobox", smoke=True).score_batch(_items([clips["stereo"]]))[0]
    assert official.values["pq"] != pytest.approx(stereo.values["pq"], abs=1e-6)


def test_clap_reads_the_chosen_channel_of_the_output_only(clips: dict[str, Path]) -> None:
    # The ground-truth wav (stereo too) is read as the toolkit reads it whatever --channel says.
    kw = dict(reference_audio=clips["stereo"], meta={"audio_prompt": ["speech"]})
    stereo = get_metric("clap", smoke=True, channel="right").score_batch(_items([clips["stereo"]], **kw))[0]
    official = get_metric("clap", smoke=True)
    mono = official.score_batch(_items([clips["right"]], **kw))[0]  # the mean of one channel: itself
    assert stereo.values["embedding"] == pytest.approx(mono.values["embedding"], abs=1e-6)
    official = official.score_batch(_items([clips["stereo"]], **kw))[0]
    assert stereo.values["reference_embedding"] == official.values["reference_embedding"]
    assert stereo.values["embedding"] != pytest.approx(official.values["embedding"], abs=1e-4)


def test_score_files_channel_option(clips: dict[str, Path]) -> None:
    from nava_eval.runners.cli.main import cli

    runner = CliRunner()
    args = ["score-files", "sim", "--smoke", "--device", "cpu", "--reference", str(clips["right"])]
    result = runner.invoke(cli, [*args, "--channel", "right", str(clips["stereo"])])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["protocol"] == "sim/wavlm-large-ecapa-v1+channel-right" + SMOKE_SUFFIX
    assert line["cosine"] == pytest.approx(1.0, abs=1e-5)

    refused = runner.invoke(cli, [*args, "--channel", "speech", str(clips["stereo"])])
    assert refused.exit_code == 2 and "no separate speech or scene channel" in refused.output
    no_option = runner.invoke(cli, ["score-files", "ib", "--channel", "left", str(clips["stereo"])])
    assert no_option.exit_code == 1 and "'ib' has no channel option" in no_option.output


@pytest.mark.slow  # the real ONNX networks: about 8 s per route
@pytest.mark.parametrize("route", ["direct", "ffmpeg"])
def test_dnsmos_reads_the_chosen_channel_on_both_routes(clips: dict[str, Path], route: str) -> None:
    # Official: a stereo wav fails on the direct route and is downmixed (-ac 1) on the ffmpeg route.
    official = get_metric("dnsmos", wav_route=route)
    for reading in ("left", "right"):
        metric = get_metric("dnsmos", wav_route=route, channel=reading)
        assert metric.protocol == f"dnsmos/mova-p808-v1+channel-{reading}"
        stereo = metric.score_batch(_items([clips["stereo"]]))[0]
        mono = official.score_batch(_items([clips[reading]]))[0]
        assert stereo.status == mono.status == "ok"
        assert stereo.values == pytest.approx(mono.values, abs=1e-9)
    left, right = (
        get_metric("dnsmos", wav_route=route, channel=r).score_batch(_items([clips["stereo"]]))[0]
        for r in ("left", "right")
    )
    assert left.values["dnsmos_bak"] != pytest.approx(right.values["dnsmos_bak"], abs=0.05)
    down = official.score_batch(_items([clips["stereo"]]))[0]
    assert down.status == ("failed" if route == "direct" else "ok")
    missing = get_metric("dnsmos", wav_route=route, channel="right").score_batch(_items([clips["left"]]))[0]
    assert missing.status == "failed" and "no right channel" in missing.reason
