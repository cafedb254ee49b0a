"""audio_is (is/mova-panns-cnn14-v1) against MOVA's own IS code, full-size Cnn14 with seeded weights.

data/audio_is/expected.json was written by data/reference_scripts/make_audio_is.py: MOVA's
`extract_audio_from_video_memory` and `Cnn14Extractor` (panns_inference, numpy 2.4.6, torch 2.14.1)
on the wavs of tests/reference_audio_mova.py, with a checkpoint whose tensors are a function of
their names (`official_value`, the same code as the script's).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.metrics import audio_is as A
from nava_eval.metrics import panns_cnn14 as P
from nava_eval.metrics.base import ScoreInput, get_metric, metric_entries
from nava_eval.metrics.mova_audio_input import decode_mova_32k
from nava_eval.nava.media import write_mp4
from tests.reference_audio_mova import sha256s, write_mova_audio_wavs

DATA = Path(__file__).parent / "data" / "audio_is"
# Same float32 network, other conv algorithms and summation order: softmax rows (each about 1/527)
# agree to 1e-7 absolute (observed 1.9e-8), the IS to 1e-5 relative (observed: equal).
TOL_PROB = 1e-7
TOL_IS = 1e-5


def official_value(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """make_audio_is.py's checkpoint tensors: numpy PCG64 seeded by the tensor's name."""
    rng = np.random.default_rng([2207, zlib.crc32(name.encode())])
    z = rng.standard_normal(shape)
    if name == "bn0.running_mean":
        return -30.0 + 5.0 * z
    if name == "bn0.running_var":
        return 300.0 + 50.0 * np.abs(z)
    if name.endswith("running_var"):
        return 0.5 + 0.5 * np.abs(z)
    if name.endswith("running_mean") or name.endswith(".bias"):
        return 0.1 * z
    if len(shape) == 1:
        return 1.0 + 0.1 * z
    fan_in = int(np.prod(shape[1:]))
    return z * np.sqrt((2.0 if len(shape) == 4 else 0.1) / fan_in)


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "expected.json").read_text())


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, expected: dict) -> Path:
    folder = write_mova_audio_wavs(tmp_path_factory.mktemp("mova-audio"))
    assert sha256s(folder) == expected["media_sha256"]
    return folder


@pytest.fixture(scope="module")
def release_state(expected: dict) -> dict[str, torch.Tensor]:
    """The release's key names and shapes (from the official module), our front end, seeded tensors."""
    front = P.Cnn14(P.Cnn14Config.official())
    front.init_front_end()
    front_sd = front.state_dict()
    state = {}
    for name, shape in expected["shapes"].items():
        if name.startswith(("spectrogram_extractor.", "logmel_extractor.")):
            state[name] = front_sd[name].clone()
        elif name.endswith("num_batches_tracked"):
            state[name] = torch.zeros((), dtype=torch.long)
        else:
            state[name] = torch.from_numpy(official_value(name, tuple(shape)).astype(np.float32))
    return state


def test_decoding_is_movas_ffmpeg_32k_path(expected: dict, media: Path) -> None:
    import hashlib

    for name, ref in expected["clips"].items():
        audio = decode_mova_32k(media / name)
        assert audio.dtype == np.float32 and audio.shape == (ref["samples_32k"],), name
        assert hashlib.sha256(audio.tobytes()).hexdigest() == ref["audio_sha256"], name


@pytest.mark.slow
def test_full_size_softmax_rows_and_is_match_mova(
    expected: dict, media: Path, release_state: dict, tmp_path: Path
) -> None:
    # The loader reads the release layout: {"model": state dict} in a .pth, strict on names and shapes.
    ckpt = tmp_path / "Cnn14_mAP=0.431.pth"
    # As a training checkpoint: numpy arrays and scalars beside the state dict (the release's sampler).
    sampler = {"indexes": np.arange(7), "pointer": np.int64(3), "rate": np.float32(0.5)}
    torch.save({"model": release_state, "iteration": 0, "sampler": sampler}, ckpt)
    metric = get_metric("audio_is", weights={A.WEIGHT: ckpt}, batch_size=3)
    names = sorted(expected["clips"])
    set_of = {n: s for s, ns in expected["sets"].items() for n in ns}
    items = [ScoreInput(n, set_of[n], media / n) for n in names]
    outcomes = metric.score_batch(items)
    for name, out in zip(names, outcomes, strict=True):
        assert out.status == "ok", out.reason
        ref = np.asarray(expected["clips"][name]["softmax"])
        assert np.abs(np.asarray(out.values["is_probs"]) - ref).max() < TOL_PROB, name
    values = [o.values for o in outcomes]
    assert A.mova_inception_score(values) == pytest.approx(expected["is_all"], rel=TOL_IS)
    for set_name, members in expected["sets"].items():
        group = [o.values for o, n in zip(outcomes, names, strict=True) if n in members]
        assert A.mova_inception_score(group) == pytest.approx(expected["is_per_set"][set_name], rel=TOL_IS)


def test_reducer_is_movas_statistic_on_its_own_rows(expected: dict) -> None:
    rows = {n: c["softmax"] for n, c in expected["clips"].items()}
    items = [{"is_probs": rows[n], "is_set": s} for s, ns in expected["sets"].items() for n in ns]
    assert A.mova_inception_score(items) == pytest.approx(expected["is_all"], rel=1e-6)
    # The index form (bootstrap) gives the same statistic, and a set's IS is its own.
    assert A.mova_inception_score.of_indices(items)(np.arange(len(items))) == pytest.approx(
        expected["is_all"], rel=1e-6
    )
    only_b = [it for it in items if it["is_set"] == "setB"]
    assert A.mova_inception_score(only_b) == pytest.approx(expected["is_per_set"]["setB"], rel=1e-6)
    # exp(KL) of identical rows is exactly 1; two one-hot classes give 2.
    one_hot = [[1.0, 0.0], [0.0, 1.0]]
    assert A.inception_score(np.array([one_hot[0]] * 3)) == pytest.approx(1.0)
    assert A.inception_score(np.array(one_hot)) == pytest.approx(2.0, rel=1e-6)
    with pytest.raises(ValueError, match="missing"):
        A.mova_inception_score([{"is_probs": [0.5, 0.5]}])
    # MOVA's clamp keeps a saturated sigmoid at 1.0 in float32: NaN row, NaN IS (no value reported).
    saturated = A.softmax_of_sigmoid(torch.tensor([[1.0, 0.5]])).numpy()
    assert np.isnan(saturated).all()
    assert np.isnan(A.mova_inception_score([{"is_probs": saturated[0].tolist(), "is_set": "s"}] * 2))
    from nava_eval.reports.estimate import set_estimate
    from nava_eval.rundir.unit import Unit

    rows = [(Unit("a", None), "s", {"is_probs": saturated[0].tolist(), "is_set": "s"})] * 2
    assert set_estimate(rows, A.mova_inception_score, 0, 20).value is None


def test_batch_of_seeds_equals_each_alone_and_bad_input(media: Path, tmp_path: Path) -> None:
    metric = get_metric("audio_is", smoke=True, batch_size=4)
    video_only = write_mp4(tmp_path / "v.mp4", np.zeros((3, 32, 32, 3), np.uint8), fps=24)
    items = [
        ScoreInput("a", "set1", media / "tone_44k_3s.wav", seed=1),
        ScoreInput("a", "set1", media / "bursts_22k_7s_stereo.wav", seed=2),
        ScoreInput("b", "set2", media / "mix_44k_16p2s_stereo.wav"),
        ScoreInput("gone", "set2", tmp_path / "gone.mp4"),
        ScoreInput("video", "set2", video_only),
    ]
    batched = metric.score_batch(items)
    alone = [metric.score_batch([it])[0] for it in items]
    for b, a in zip(batched[:3], alone[:3], strict=True):
        assert b.status == a.status == "ok"
        assert np.allclose(b.values["is_probs"], a.values["is_probs"], atol=1e-6)
    assert batched[0].values["is_probs"] != batched[1].values["is_probs"]
    assert A.mova_inception_score([b.values for b in batched[:3]]) > 1.0001  # a smoke IS is not trivially 1
    assert batched[2].values["is_set"] == "set2" and batched[2].values["samples_32k"] == 518_400
    assert batched[3].status == "failed" and "gone.mp4" in batched[3].reason
    assert batched[4].status == "skipped" and "no audio stream" in batched[4].reason


def test_checkpoint_reader_allows_numpy_data_only(tmp_path: Path) -> None:
    import argparse

    from nava_eval.weight_files import WeightFileError

    ok = tmp_path / "ok.pth"
    torch.save({"model": {"fc1.bias": torch.ones(2)}, "sampler": {"i": np.arange(3)}}, ok)
    assert P.read_cnn14_checkpoint(ok)["fc1.bias"].tolist() == [1.0, 1.0]
    foreign = tmp_path / "foreign.pth"
    torch.save({"model": {"fc1.bias": torch.ones(2)}, "args": argparse.Namespace(a=1)}, foreign)
    with pytest.raises(WeightFileError, match="safetensors"):
        P.read_cnn14_checkpoint(foreign)


def test_loader_is_strict_and_tiny_config_is_the_official_one_narrowed(release_state: dict) -> None:
    assert P.Cnn14Config.tiny().without_sizes() == P.Cnn14Config.official().without_sizes()
    bad = dict(release_state)
    bad["fc_extra.weight"] = torch.zeros(1)
    with pytest.raises(P.Cnn14CheckpointError, match="unexpected"):
        P.load_cnn14(bad, P.Cnn14Config.official())
    short = {k: v for k, v in release_state.items() if k != "fc1.bias"}
    with pytest.raises(P.Cnn14CheckpointError, match="missing"):
        P.load_cnn14(short, P.Cnn14Config.official())
    # Our front end is torchlibrosa's (the release holds the same tensors).
    real, _ = P.stft_kernels(1024)
    assert real.shape == (513, 1, 1024) and real[0, 0, 512] == pytest.approx(1.0)


def test_registry_entry_and_smoke_protocol() -> None:
    entry = metric_entries()["audio_is"]
    assert entry.protocol == A.PROTOCOL and [f.name for f in entry.fields] == ["is"]
    assert entry.fields[0].kind == "set" and entry.fields[0].direction == "higher"
    assert get_metric("audio_is", smoke=True).protocol == A.PROTOCOL + "+smoke-random-weights"
