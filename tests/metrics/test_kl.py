"""kl against the Verse-Bench toolkit's KLDInferencer (kl/kld_inferencer.py, commit 5645a09).

Reference vectors: reference_scripts/make_kl.py ran the official code under the toolkit's pins
(numpy 1.26, librosa 0.11) with hear21passt 0.0.26's own network and loader, on seeded random
weights, at the released size (expected_full.json, 86M parameters, `slow`) and at a tiny size of the
same structure (expected_tiny.json). The clips (tests/reference_audio.py KL_FILES) are rebuilt here
and checked byte for byte: 44.1/22.05 kHz (non-integer ratios to 32 kHz), stereo, under one window,
under 1.5 s (fed unpadded), three windows, silence, and 0.1 s (the toolkit raises).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.metrics import kl as K
from nava_eval.metrics import passt_model as pm
from nava_eval.metrics.base import ScoreInput

DATA = Path(__file__).parent / "data" / "kl"
P_TOL = 1e-6  # class probabilities, absolute (measured: ≤ 2.5e-8, full and tiny)
KL_TOL = 1e-5  # KL, absolute (measured: ≤ 2e-7)


def _expected(config: str) -> dict:
    return json.loads((DATA / f"expected_{config}.json").read_text())


@pytest.fixture(scope="module")
def tiny() -> dict:
    return _expected("tiny")


@pytest.fixture(scope="module")
def wavs(tiny: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reference_audio import write_kl_wavs

    folder = write_kl_wavs(tmp_path_factory.mktemp("kl-wavs"))
    for name, rec in tiny["files"].items():
        found = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert found == rec["wav_sha256"], f"{name}: rebuilt bytes differ from those the reference used"
    return folder


def _metric(expected: dict, config: pm.PasstConfig, batch_size: int = 3) -> K.PasstKL:
    seed = expected["weights_seed"]
    state = {
        k: torch.from_numpy(pm.seeded_value(k, tuple(s), seed).astype(np.float32))
        for k, s in expected["state_dict_shapes"].items()
    }
    metric = K.PasstKL(batch_size=batch_size)
    metric.model = pm.load_passt(state, config)
    return metric


@pytest.fixture(scope="module")
def metric(tiny: dict) -> K.PasstKL:
    return _metric(tiny, pm.TINY)


def _check_against(expected: dict, metric: K.PasstKL, wavs: Path) -> None:
    probs = metric.probabilities({name: wavs / name for name in expected["files"]})
    for name, rec in expected["files"].items():
        if "error" in rec:
            assert isinstance(probs[name], K.ClipTooShortError), (name, probs[name])
            continue
        if not rec["finite"]:  # the toolkit's NaN: silence
            assert isinstance(probs[name], K.SilentAudioError), (name, probs[name])
            continue
        np.testing.assert_allclose(probs[name], rec["probabilities"], rtol=0, atol=P_TOL, err_msg=name)
    for pair in expected["pairs"]:
        gen, ref = probs[pair["generated"]], probs[pair["ground_truth"]]
        if pair["kl"] == "nan":
            assert isinstance(gen, K.SilentAudioError) or isinstance(ref, K.SilentAudioError)
            continue
        assert K.toolkit_kl(gen, ref) == pytest.approx(pair["kl"], abs=KL_TOL), pair


def test_the_reference_ran_the_official_code_under_its_pins(tiny: dict) -> None:
    full = _expected("full")
    for exp in (tiny, full):
        assert exp["versions"]["numpy"].startswith("1.26.")
        assert exp["versions"]["librosa"] == "0.11.0"
        assert exp["versions"]["hear21passt"] == "0.0.26"
    assert full["n_params"] > 85_000_000  # the released PaSST-S, not a scaled-down one


def test_our_network_has_the_releases_key_names_and_shapes(tiny: dict) -> None:
    """The state dict hear21passt's own network has (full and tiny): the checkpoint loads strictly."""
    for config, exp in ((pm.TINY, tiny), (pm.OFFICIAL, _expected("full"))):
        ours = {k: list(v.shape) for k, v in pm.build_passt(config).net.state_dict().items()}
        assert ours == exp["state_dict_shapes"]
        assert {f: getattr(config, f) for f in pm.SIZE_FIELDS} == exp["sizes"]
    assert (
        sum(p.numel() for p in pm.build_passt(pm.OFFICIAL).net.parameters()) == _expected("full")["n_params"]
    )


def test_the_tiny_config_is_the_official_one_except_its_sizes() -> None:
    assert pm.config_without_sizes(pm.TINY) == pm.config_without_sizes(pm.OFFICIAL)
    assert pm.OFFICIAL.grid == (12, 99)  # hear21passt: img_size (128, 998), stride 10


def test_length_and_windows_are_the_toolkits(tiny: dict, wavs: Path) -> None:
    """librosa.load's length at 32 kHz (44.1/22.05 kHz, stereo) and return_probabilities' windows."""
    for name, rec in tiny["files"].items():
        wave = K.load_32k_mono(wavs / name)
        assert len(wave) == rec["librosa_length"], name
        if "windows" in rec and rec["finite"]:
            assert [len(w) for w in K.toolkit_windows(K.peak_normalize(wave))] == rec["windows"], name


def test_probabilities_and_kl_match_the_official_code_tiny(tiny: dict, metric: K.PasstKL, wavs: Path) -> None:
    _check_against(tiny, metric, wavs)


@pytest.mark.slow
def test_probabilities_and_kl_match_the_official_code_full_size(wavs: Path) -> None:
    full = _expected("full")
    _check_against(full, _metric(full, pm.OFFICIAL, batch_size=2), wavs)


def test_kl_is_ground_truth_against_generated_with_the_toolkits_epsilon() -> None:
    rng = np.random.default_rng(0)
    p_gen, p_gt = rng.dirichlet(np.ones(527)), rng.dirichlet(np.ones(527))
    p_gen[3] = 0.0
    want = float(np.sum(p_gt * (np.log(p_gt) - np.log(p_gen + 1e-6))))
    assert K.toolkit_kl(p_gen, p_gt) == pytest.approx(want, rel=1e-5)
    assert K.toolkit_kl(p_gt, p_gen) != pytest.approx(want, rel=1e-3)  # not symmetric: the order matters


def test_the_shortest_window_passt_takes() -> None:
    """hear21passt's patch conv needs 16 STFT frames: 4801 samples pass, 4800 raise (as the toolkit)."""
    model = pm.load_passt(pm.seeded_state_dict(pm.TINY, 0), pm.TINY)
    with torch.inference_mode():
        assert model(torch.zeros(1, pm.MIN_SAMPLES) + 0.1).shape == (1, 527)
        with pytest.raises(RuntimeError):
            model(torch.zeros(1, pm.MIN_SAMPLES - 1) + 0.1)
    with pytest.raises(K.ClipTooShortError, match="shorter than one PaSST patch"):
        K.toolkit_windows(np.ones(pm.MIN_SAMPLES - 1, dtype=np.float32))


def _item(item_id: str, output: Path, reference: Path | None, seed: int | None = None) -> ScoreInput:
    return ScoreInput(
        id=item_id,
        set="set2",
        output=output,
        reference_audio=reference,
        meta={"audio_prompt": ["x"]},
        seed=seed,
    )


def test_a_batch_scores_each_unit_as_alone(tiny: dict, metric: K.PasstKL, wavs: Path) -> None:
    """Two seeds of one item (different outputs, one ground truth) and other items in one batch."""
    gt = wavs / "noise_16k_10s.wav"
    items = [
        _item("a", wavs / "bursts_44k_3p7s_stereo.wav", gt, seed=1),
        _item("a", wavs / "chirp_44k_1p2s.wav", gt, seed=2),
        _item("b", wavs / "tone_22k_16p5s.wav", wavs / "tone_48k_5s_stereo.wav"),
        _item("c", wavs / "tone_48k_5s_stereo.wav", None),
    ]
    batch = metric.score_batch(items)
    alone = [metric.score_batch([it])[0] for it in items]
    assert [o.status for o in batch] == ["ok", "ok", "ok", "skipped"]
    for one, other in zip(batch, alone, strict=True):
        assert one.status == other.status
        if one.status == "ok":
            assert one.values["kl"] == pytest.approx(other.values["kl"], abs=1e-6)
    pairs = {(p["generated"], p["ground_truth"]): p["kl"] for p in tiny["pairs"]}
    assert batch[0].values["kl"] == pytest.approx(pairs[("bursts_44k_3p7s_stereo.wav", gt.name)], abs=KL_TOL)
    assert batch[1].values["kl"] == pytest.approx(pairs[("chirp_44k_1p2s.wav", gt.name)], abs=KL_TOL)
    assert batch[0].values["reference_sha256"] == hashlib.sha256(gt.read_bytes()).hexdigest()
    assert "no ground-truth audio" in (batch[3].reason or "")


def test_bad_input_is_skipped_or_failed_with_the_reason(
    metric: K.PasstKL, wavs: Path, tmp_path: Path
) -> None:
    gt = wavs / "noise_16k_10s.wav"
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wav")
    items = [
        _item("silent", wavs / "silence_16k_4s.wav", gt),
        _item("silent_gt", wavs / "tone_48k_5s_stereo.wav", wavs / "silence_16k_4s.wav"),
        _item("short", wavs / "tiny_44k_0p1s.wav", gt),
        _item("broken", broken, gt),
        _item("missing", tmp_path / "nope.wav", gt),
        _item("gt_missing", wavs / "tone_48k_5s_stereo.wav", tmp_path / "gt_gone.wav"),
        _item("fine", wavs / "tone_48k_5s_stereo.wav", gt),
    ]
    out = {it.id: o for it, o in zip(items, metric.score_batch(items), strict=True)}
    assert out["silent"].status == "skipped" and "silent audio" in (out["silent"].reason or "")
    assert out["silent_gt"].status == "skipped" and "ground-truth wav" in (out["silent_gt"].reason or "")
    assert out["short"].status == "failed" and "shorter than one PaSST patch" in (out["short"].reason or "")
    assert out["broken"].status == "failed" and str(broken) in (out["broken"].reason or "")
    assert out["missing"].status == "failed" and "file not found" in (out["missing"].reason or "")
    assert out["gt_missing"].status == "failed"
    assert "ground-truth wav unusable" in (out["gt_missing"].reason or "")
    assert out["fine"].status == "ok" and math.isfinite(out["fine"].values["kl"])


def test_a_checkpoint_of_another_layout_is_refused() -> None:
    state = pm.seeded_state_dict(pm.TINY, 0)
    del state["head_dist.weight"]
    with pytest.raises(pm.PasstCheckpointError, match="head_dist.weight"):
        pm.load_passt(state, pm.TINY)
    state = pm.seeded_state_dict(pm.TINY, 0)
    del state["time_new_pos_embed"]
    with pytest.raises(pm.PasstCheckpointError, match="not a PaSST AudioSet checkpoint"):
        pm.load_passt(state, pm.TINY)


def test_a_smoke_run_scores_with_a_tiny_seeded_network(wavs: Path) -> None:
    smoke = K.PasstKL(smoke=True)
    assert smoke.protocol == "kl/versebench-passt-v1+smoke-random-weights"
    [out] = smoke.score_batch([_item("a", wavs / "chirp_44k_1p2s.wav", wavs / "noise_16k_10s.wav")])
    assert out.status == "ok" and out.values["kl"] > 0


def test_the_weight_entry_is_the_file_hear21passt_downloads(tiny: dict) -> None:
    from nava_eval.metrics.weights import weight_specs
    from nava_eval.metrics.weights_kl import PASST

    spec = weight_specs()[PASST]
    assert spec.url == tiny["checkpoint_url"]  # hear21passt default_cfgs["passt_s_swa_p16_128_ap476"]
    assert spec.filename == tiny["checkpoint_url"].rsplit("/", 1)[1]
    assert spec.used_by == ("kl",) and spec.license.startswith("Apache-2.0")


def test_channel_reads_the_chosen_channel_of_the_output_only(
    metric: K.PasstKL, wavs: Path, tmp_path: Path
) -> None:
    """--channel right: the output's right channel (as a mono file of it scores); the ground truth keeps
    the toolkit's channel mean, and the id says which reading was made."""
    import soundfile as sf

    rng = np.random.default_rng(3)
    t = np.arange(int(22050 * 3.0)) / 22050
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * rng.standard_normal(t.size)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], 1), 22050, subtype="PCM_16")
    held, _ = sf.read(tmp_path / "stereo.wav", dtype="float64")
    sf.write(tmp_path / "right.wav", held[:, 1], 22050, subtype="PCM_16")
    gt = wavs / "tone_48k_5s_stereo.wav"
    right_reader = K.PasstKL(batch_size=3, channel="right")
    assert right_reader.protocol == "kl/versebench-passt-v1+channel-right"
    right_reader.model = metric.model
    [stereo] = right_reader.score_batch([_item("s", tmp_path / "stereo.wav", gt)])
    [mono] = metric.score_batch([_item("m", tmp_path / "right.wav", gt)])
    [official] = metric.score_batch([_item("s", tmp_path / "stereo.wav", gt)])
    assert stereo.values["kl"] == pytest.approx(mono.values["kl"], abs=1e-6)
    assert stereo.values["kl"] != pytest.approx(official.values["kl"], abs=1e-4)
    [no_right] = right_reader.score_batch([_item("m", tmp_path / "right.wav", gt)])
    assert no_right.status == "failed" and "no right channel" in (no_right.reason or "")
