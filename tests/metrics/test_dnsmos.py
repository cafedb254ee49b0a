"""DNSMOS (real ONNX networks) against MOVA's own eval_dnsmos.py on espeak-ng speech, plus input rules."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from nava_eval.metrics import dnsmos as dm
from nava_eval.metrics.base import ScoreInput, get_metric, metric_entries

DATA = Path(__file__).parent / "data" / "dnsmos"
# MOVA's ComputeScore (librosa 0.11 features, float32 means) vs ours (numpy features, float64 means),
# same ONNX files and onnxruntime: observed ≤ 2.4e-7 on the 1–5 scale.
TOL = 1e-5
FIELDS = {"dnsmos": "P808_MOS", "dnsmos_sig": "SIG", "dnsmos_bak": "BAK", "dnsmos_ovrl": "OVRL"}
RAW = {"sig_raw": "SIG_raw", "bak_raw": "BAK_raw", "ovrl_raw": "OVRL_raw"}


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "expected.json").read_text())


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, expected: dict) -> Path:
    """The clips the reference script scored, rebuilt (espeak-ng + seeded numpy) and checked by sha256."""
    from reference_speech import espeak_version, write_speech_files

    from nava_eval.metrics.media_decode import ffmpeg_exe

    folder = write_speech_files(tmp_path_factory.mktemp("dnsmos-clips"), ffmpeg=ffmpeg_exe())
    for name, sha in expected["files_sha256"].items():
        found = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert found == sha, (
            f"{name}: rebuilt bytes differ from those MOVA's script scored (sha256 {found}, expected {sha}); "
            f"the reference ran with {expected['versions']['espeak-ng']!r}, this machine has "
            f"{espeak_version()!r}: rerun tests/metrics/data/reference_scripts/make_dnsmos.py with it"
        )
    return folder


@pytest.fixture(scope="module")
def metric() -> dm.Dnsmos:
    m = dm.Dnsmos(batch_size=5)
    m.setup()
    return m


def _check(values: dict, exp: dict, what: str) -> None:
    for ours, theirs in {**FIELDS, **RAW}.items():
        assert values[ours] == pytest.approx(exp[theirs], abs=TOL), (what, ours)
    assert values["num_hops"] == exp["num_hops"], what
    assert values["seconds"] == pytest.approx(exp["len_in_sec"]), what


def test_real_weights_are_movas_files(metric: dm.Dnsmos, expected: dict) -> None:
    found = {Path(p["path"]).name: p["sha256"] for p in metric.weights_provenance.values()}
    assert found == expected["onnx_sha256"]


@pytest.mark.slow
def test_matches_movas_compute_score(metric: dm.Dnsmos, expected: dict, clips: Path) -> None:
    """Every wav MOVA's ComputeScore reads directly, scored in one batch (windows of all clips mixed)."""
    names = [k for k, v in expected["results"].items() if "::" not in k and "error" not in v]
    assert {"speech_22k.wav", "noisy_22k.wav", "speech_16k.wav", "silence_16k.wav"} <= set(names)
    outs = metric.score_batch([ScoreInput(n, "set3", clips / n) for n in names])
    for name, out in zip(names, outs, strict=True):
        assert out.status == "ok", out.reason
        _check(out.values, expected["results"][name], name)
    by_name = dict(zip(names, outs, strict=True))
    # Real speech is rated above the same speech with 5 dB of white noise (BAK most of all).
    assert by_name["speech_22k.wav"].values["dnsmos"] > by_name["noisy_22k.wav"].values["dnsmos"] + 1
    assert by_name["speech_22k.wav"].values["dnsmos_bak"] > by_name["noisy_22k.wav"].values["dnsmos_bak"] + 1


@pytest.mark.slow
def test_mp4_goes_through_movas_ffmpeg_command(metric: dm.Dnsmos, expected: dict, clips: Path) -> None:
    """44.1 kHz stereo FLAC in mp4, 19 s (ten windows): ffmpeg → 16 kHz mono s16le, as MOVA decodes it."""
    exp = expected["results"]["speech_44k_stereo.mp4::via_ffmpeg"]
    decoded = dm.load_clip(clips / "speech_44k_stereo.mp4")
    pcm = np.round(decoded * 32768).astype("<i2")
    assert hashlib.sha256(pcm.tobytes()).hexdigest() == exp["decoded_16k_pcm_sha256"], (
        "this ffmpeg decodes/resamples the mp4 to other samples than the one MOVA's script ran with"
    )
    (out,) = metric.score_batch([ScoreInput("clip", "set3", clips / "speech_44k_stereo.mp4")])
    assert out.status == "ok", out.reason
    _check(out.values, exp, "mp4")


@pytest.mark.slow
def test_stereo_wav_fails_as_in_compute_score_unless_routed_through_ffmpeg(
    metric: dm.Dnsmos, expected: dict, clips: Path
) -> None:
    name = "noisy_long_44k_stereo.wav"
    assert "Invalid rank" in expected["results"][name]["error"]  # what MOVA's class does with it
    (out,) = metric.score_batch([ScoreInput("x", "set3", clips / name)])
    assert out.status == "failed" and "2 channels" in out.reason and "mp4" in out.reason
    routed = dm.Dnsmos(wav_route="ffmpeg")
    routed.models = metric.models
    (out,) = routed.score_batch([ScoreInput("x", "set3", clips / name)])
    assert out.status == "ok", out.reason
    _check(out.values, expected["results"][f"{name}::via_ffmpeg"], name)


@pytest.mark.slow
def test_batching_does_not_change_values(metric: dm.Dnsmos, clips: Path) -> None:
    names = ["speech_16k.wav", "noisy_22k.wav", "silence_16k.wav"]
    together = metric.score_batch([ScoreInput(n, "set3", clips / n) for n in names])
    alone = [metric.score_batch([ScoreInput(n, "set3", clips / n)])[0] for n in names]
    for a, b in zip(together, alone, strict=True):
        for f in FIELDS:
            assert a.values[f] == pytest.approx(b.values[f], abs=1e-6)


def test_the_same_item_under_two_seeds_is_two_samples(metric: dm.Dnsmos, clips: Path) -> None:
    """Batch entries are positions, never item ids: one id with two outputs gives two scores."""
    outs = metric.score_batch(
        [
            ScoreInput("item", "set3", clips / "speech_22k.wav"),
            ScoreInput("item", "set3", clips / "noisy_22k.wav"),
        ]
    )
    assert outs[0].values["dnsmos"] > outs[1].values["dnsmos"] + 1


def test_windows_follow_compute_score() -> None:
    # 3 s → doubled to 12 s → floor(12) − 9.01 → 2.99 → int 2, + 1 = 3 windows.
    segs, hops = dm.windows_of(np.arange(48000, dtype=np.float64))
    assert hops == 3 and segs.shape == (3, 144160)
    assert segs[1][0] == 16000 and segs[0][48000] == 0  # the loop restarts the clip
    # exactly 9.01 s: one window, no loop
    segs, hops = dm.windows_of(np.zeros(144160))
    assert hops == 1 and segs.shape == (1, 144160)


def test_bad_input_is_named(metric: dm.Dnsmos, tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    empty = tmp_path / "empty.wav"
    import soundfile as sf

    sf.write(empty, np.zeros(0), 16000)
    outs = metric.score_batch(
        [
            ScoreInput("a", "set3", tmp_path / "missing.wav"),
            ScoreInput("b", "set3", bad),
            ScoreInput("c", "set3", empty),
        ]
    )
    assert [o.status for o in outs] == ["failed"] * 3
    assert "missing.wav: file not found" in outs[0].reason
    assert "broken.mp4" in outs[1].reason and "ffmpeg" in outs[1].reason
    assert "empty.wav" in outs[2].reason and "no samples" in outs[2].reason


def test_registry_and_smoke_use_the_real_protocol() -> None:
    entry = metric_entries()["dnsmos"]
    assert entry.protocol == "dnsmos/mova-p808-v1"
    assert [f.name for f in entry.fields] == [f.name for f in dm.FIELDS]
    smoke = get_metric("dnsmos", smoke=True)
    assert smoke.protocol == "dnsmos/mova-p808-v1"  # real ONNX networks: no +smoke suffix
    with pytest.raises(TypeError, match="unknown option"):
        get_metric("dnsmos", wav_rout="ffmpeg")
