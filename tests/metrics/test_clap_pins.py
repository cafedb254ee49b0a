"""CLAP against the Verse-Bench toolkit run under its own pins (numpy 1.26, librosa 0.11, transformers 4.56).

The three deviations of issue 22, each checked on clips that show it (make_clap_pins.py):
1. the resampled length is librosa's ceil(n · (48000/sr)), one sample longer than the exact ceil
   for these 44.1/22.05/11.025 kHz clips, which then repeat once fewer before the padding;
2. peak normalisation and the int16 step are float32 arithmetic (numpy 1.26's value-based casting);
3. the text tower's LayerNorm eps is roberta-base's 1e-5.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.metrics import clap as C
from nava_eval.metrics.clap_audio import MAX_SAMPLES, load_48k_mono, peak_normalize_int16

DATA = Path(__file__).parent / "data" / "clap"
TOL = 1e-5  # same float32 network, other op order


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "expected_pins.json").read_text())


@pytest.fixture(scope="module")
def wavs(expected: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reference_audio import write_clap_pin_wavs

    folder = write_clap_pin_wavs(tmp_path_factory.mktemp("clap-pins"))
    for name, rec in expected["files"].items():
        found = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert found == rec["wav_sha256"], f"{name}: rebuilt bytes differ from those the reference used"
    return folder


@pytest.fixture(scope="module")
def metric(expected: dict, tmp_path_factory: pytest.TempPathFactory) -> C.ClapScore:
    from test_clap import official_value

    state = {
        k: torch.from_numpy(np.asarray(official_value(k, tuple(shape)))).float()
        for k, shape in expected["state_dict_shapes"].items()
    }
    # The default eps of our configs is the toolkit's (roberta-base's 1e-5), as the reference used.
    assert expected["roberta_config"]["layer_norm_eps"] == 1e-5
    model = C.load_clap_model(state, C.tiny_clap_config(len(expected["vocab"])))
    out = C.ClapScore(batch_size=3)
    out.embedder = C.ClapEmbedder(model, C.byte_level_tokenizer(tmp_path_factory.mktemp("tok")))
    return out


def test_the_reference_ran_under_the_toolkit_pins(expected: dict) -> None:
    assert expected["versions"]["numpy"].startswith("1.26.")
    assert expected["versions"]["librosa"].startswith("0.11.")
    assert expected["versions"]["transformers"].startswith("4.56.")


def test_resampled_length_is_librosas(expected: dict, wavs: Path) -> None:
    for name, rec in expected["files"].items():
        wave = load_48k_mono(wavs / name)
        assert wave.shape[-1] == rec["librosa_length"], name
        assert int(MAX_SAMPLES / wave.shape[-1]) == int(MAX_SAMPLES / rec["librosa_length"]), name


def test_peak_normalisation_and_int16_step_are_float32(expected: dict, wavs: Path) -> None:
    for name, rec in expected["files"].items():
        assert rec["normalised_dtype"] == "float32"
        wave = peak_normalize_int16(load_48k_mono(wavs / name))
        pcm = np.round(wave.astype(np.float64) * 32767.0).astype(np.int16).reshape(1, -1)
        assert hashlib.sha256(pcm.tobytes()).hexdigest() == rec["int16_sha256"], name


def test_official_text_tower_uses_roberta_base_eps() -> None:
    assert C.official_clap_config().text_config.layer_norm_eps == 1e-5


@pytest.mark.slow
def test_embeddings_cs_and_fd_match_the_pinned_toolkit(
    expected: dict, metric: C.ClapScore, wavs: Path
) -> None:
    names = list(expected["files"])
    embs = metric.embed_files({n: wavs / n for n in names})
    text = metric.embedder.embed_text(expected["texts"])
    assert np.abs(text - np.array(expected["text_embeddings"])).max() < TOL
    for name in names:
        rec = expected["files"][name]
        assert np.abs(embs[name] - np.array(rec["embedding"])).max() < TOL, name
        for caption, cs in rec["cs"].items():
            ours = float(np.dot(embs[name], text[expected["texts"].index(caption)]))
            assert ours == pytest.approx(cs, abs=TOL), (name, caption)
    for pair, fd in expected["per_clip_fd"].items():
        a, b = pair.split("|")
        assert C.toolkit_perclip_fd(embs[a], embs[b]) == pytest.approx(fd, abs=1e-4), pair


@pytest.mark.slow
def test_the_same_item_under_two_seeds_is_two_samples(metric: C.ClapScore, wavs: Path) -> None:
    """Batch entries are positions, never item ids: one id with two outputs (two seeds) gets two scores."""
    from nava_eval.metrics.base import ScoreInput

    meta = {"audio_prompt": ["a dog barking"]}
    a, b = wavs / "tone_44k_2p5s.wav", wavs / "bursts_44k_3p7s.wav"
    together = metric.score_batch(
        [
            ScoreInput("item", "set2", a, reference_audio=b, meta=meta),
            ScoreInput("item", "set2", b, reference_audio=a, meta=meta),
        ]
    )
    alone = [
        metric.score_batch([ScoreInput("item", "set2", a, reference_audio=b, meta=meta)])[0],
        metric.score_batch([ScoreInput("item", "set2", b, reference_audio=a, meta=meta)])[0],
    ]
    assert together[0].values["cs"] != pytest.approx(together[1].values["cs"], abs=1e-4)
    for t, s in zip(together, alone, strict=True):
        assert t.values["cs"] == pytest.approx(s.values["cs"], abs=1e-6)
        assert t.values["fd"] == pytest.approx(s.values["fd"], abs=1e-6)
