"""clap_mova (clap/mova-laion-630k-fusion-v1) against MOVA's eval_audio_is_clap.py at full size.

data/clap_mova/expected.json was written by data/reference_scripts/make_clap_mova.py: MOVA's
setup_models (CLAP part), precompute_text_embeddings, extract_audio_from_video_memory and
clap_single_score with its vendored laion_clap (numpy 2.4.6, torch 2.14.1, transformers 5.25.0), full
HTSAT-tiny fusion + 12-layer RoBERTa, a checkpoint in the release layout whose tensors are a function
of their names (`official_value`, the script's code), on the wavs of tests/reference_audio_mova.py.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.metrics import clap as C
from nava_eval.metrics import clap_mova as M
from nava_eval.metrics.base import ScoreInput, get_metric, metric_entries
from nava_eval.metrics.clap_audio import fusion_input
from nava_eval.metrics.mova_audio_input import decode_mova_32k, peak_normalize_int16_numpy2
from nava_eval.nava.media import write_mp4
from tests.reference_audio_mova import sha256s, write_mova_audio_wavs

DATA = Path(__file__).parent / "data" / "clap_mova"
# Same float32 network, other op order (transformers' ClapModel vs laion_clap): embeddings and cosines
# agree to 1e-5.
TOL = 1e-5
KEEP = ("attn_mask", "relative_position_index", "position_ids", "token_type_ids", "num_batches_tracked",
        "spectrogram_extractor", "logmel_extractor")  # fmt: skip


def official_value(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """make_clap_mova.py's checkpoint tensors: numpy PCG64 seeded by the tensor's name."""
    rng = np.random.default_rng([1234, zlib.crc32(name.encode())])
    if name.endswith("running_var"):
        return np.abs(rng.standard_normal(shape)) + 0.5
    base = rng.standard_normal(shape) * 0.1
    return base + 1.0 if name.endswith(".weight") and len(shape) == 1 else base


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "expected.json").read_text())


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, expected: dict) -> Path:
    folder = write_mova_audio_wavs(tmp_path_factory.mktemp("mova-audio"))
    assert {n: h for n, h in sha256s(folder).items() if n in expected["media_sha256"]} == expected[
        "media_sha256"
    ]
    return folder


@pytest.fixture(scope="module")
def full_size(expected: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The release layout ({"state_dict": {"module." + key}}) of MOVA's module keys, and a tokenizer folder."""
    folder = tmp_path_factory.mktemp("clap-mova-weights")
    release = {}
    for name, shape in expected["shapes"].items():
        if any(k in name for k in KEEP):
            dtype = (
                torch.long
                if name.endswith(("num_batches_tracked", "index", "position_ids"))
                else torch.float32
            )
            release["module." + name] = torch.zeros(shape, dtype=dtype)
        else:
            release["module." + name] = torch.from_numpy(
                np.asarray(official_value(name, tuple(shape)), dtype=np.float32)
            )
    # numpy scalars beside the tensors, as MOVA's add_safe_globals([np.core.multiarray.scalar]) expects.
    extra = {"epoch": np.int64(45), "best_metric": np.float64(0.5)}
    torch.save({"state_dict": release, **extra}, folder / "630k-audioset-fusion-best.pt")
    C.byte_level_tokenizer(folder / "roberta-base")
    return {
        "clap-630k-audioset-fusion": folder / "630k-audioset-fusion-best.pt",
        "roberta-base": folder / "roberta-base",
    }


def test_reference_loaded_every_checkpoint_key(expected: dict) -> None:
    # MOVA loads with strict=False: the reference shows nothing was silently left out.
    assert expected["load_state_dict_missing"] == [] and expected["load_state_dict_unexpected"] == []


def test_decoding_and_normalisation_steps(media: Path, expected: dict) -> None:
    for name, ref in expected["clips"].items():
        assert decode_mova_32k(media / name).shape == (ref["samples_32k"],)
    wave = np.array([0.0, 0.25, -0.5], dtype=np.float32)
    gain = 10 ** (-1 / 20) / 0.5  # float64 throughout (numpy 2)
    assert peak_normalize_int16_numpy2(wave).tolist() == pytest.approx(
        [0.0, np.trunc(0.25 * gain * 32767) / 32767, -np.trunc(0.5 * gain * 32767) / 32767]
    )
    assert peak_normalize_int16_numpy2(np.zeros(4, np.float32)).tolist() == [0.0] * 4


@pytest.mark.slow
def test_full_size_embeddings_and_cosines_match_mova(expected: dict, media: Path, full_size: dict) -> None:
    metric = get_metric("clap_mova", weights=full_size, batch_size=2)
    names = sorted(expected["clips"])
    items = [
        ScoreInput(n, "set1", media / n, meta={"official_prompt": expected["clips"][n]["prompt"]})
        for n in names
    ]
    outcomes = metric.score_batch(items)
    embedder = metric.embedder
    texts = sorted(expected["text_embeddings"])
    ours_text = embedder.embed_text(texts)
    for text, emb in zip(texts, ours_text, strict=True):
        assert np.abs(emb - np.asarray(expected["text_embeddings"][text])).max() < TOL
    for name, out in zip(names, outcomes, strict=True):
        ref = expected["clips"][name]
        assert out.status == "ok", out.reason
        starts = ref["chunk_starts"]
        if starts is None:  # one window: the metric's own value is MOVA's
            assert out.values["cs_mova"] == pytest.approx(ref["cosine"], abs=TOL), name
            assert out.values["longer"] is False
        else:  # longer than 480 000 samples: MOVA's chunks are unseeded; compare on the recorded ones
            assert out.values["longer"] is True
            wave = peak_normalize_int16_numpy2(decode_mova_32k(media / name))
            emb = embedder.embed_audio([fusion_input(wave, chunk_starts=tuple(starts))])[0]
            assert np.abs(emb - np.asarray(ref["audio_embedding"])).max() < TOL, name
            text = np.asarray(expected["text_embeddings"][ref["prompt"]], dtype=np.float32)
            assert float(emb @ text) == pytest.approx(ref["cosine"], abs=TOL)


def test_batch_of_seeds_equals_each_alone_and_bad_input(media: Path, tmp_path: Path) -> None:
    metric = get_metric("clap_mova", smoke=True, batch_size=3)
    video_only = write_mp4(tmp_path / "v.mp4", np.zeros((3, 32, 32, 3), np.uint8), fps=24)
    meta = {"official_prompt": "a bell rings"}
    items = [
        ScoreInput("a", "set1", media / "tone_44k_3s.wav", meta=meta, seed=1),
        ScoreInput("a", "set1", media / "mix_44k_16p2s_stereo.wav", meta=meta, seed=2),
        ScoreInput("b", "set2", media / "chirp_16k_0p5s.wav", meta={"official_prompt": "a bird"}),
        ScoreInput("noprompt", "set2", media / "chirp_16k_0p5s.wav", meta={"official_prompt": None}),
        ScoreInput("gone", "set2", tmp_path / "gone.mp4", meta=meta),
        ScoreInput("video", "set2", video_only, meta=meta),
    ]
    batched = metric.score_batch(items)
    alone = [metric.score_batch([it])[0] for it in items]
    for b, a in zip(batched[:3], alone[:3], strict=True):
        assert b.status == a.status == "ok"
        assert b.values["cs_mova"] == pytest.approx(a.values["cs_mova"], abs=1e-6)
    assert batched[0].values["cs_mova"] != batched[1].values["cs_mova"]
    assert batched[3].status == "skipped" and "no prompt" in batched[3].reason
    assert batched[4].status == "failed" and "gone.mp4" in batched[4].reason
    assert batched[5].status == "skipped" and "no audio stream" in batched[5].reason


def test_rate_option_is_a_protocol_variant() -> None:
    assert get_metric("clap_mova").protocol == M.PROTOCOL
    assert get_metric("clap_mova", rate="48k").protocol == M.PROTOCOL + "+resample48k"
    assert get_metric("clap_mova", smoke=True).protocol == M.PROTOCOL + "+smoke-random-weights"
    with pytest.raises(ValueError, match="rate"):
        get_metric("clap_mova", rate="44k")


def test_rate_48k_resamples_before_clap(media: Path) -> None:
    clip = media / "tone_44k_3s.wav"
    as_mova = get_metric("clap_mova", smoke=True).prepare(clip, "k")
    at_48k = get_metric("clap_mova", smoke=True, rate="48k").prepare(clip, "k")
    # 3 s at 32 kHz is 96 000 samples: repeated 5 times as MOVA does, or 144 000 at 48 kHz, repeated 3 times.
    assert not as_mova.longer and not at_48k.longer
    assert not torch.allclose(as_mova.mel_fusion, at_48k.mel_fusion)
    silent_from = {
        m: int((x.mel_fusion[0].amax(dim=1) > -99).nonzero().max())
        for m, x in (("mova", as_mova), ("48k", at_48k))
    }
    assert silent_from["mova"] == pytest.approx(5 * 96_000 / 480, abs=2)
    assert silent_from["48k"] == pytest.approx(3 * 144_000 / 480, abs=2)


def test_registry_entry() -> None:
    entry = metric_entries()["clap_mova"]
    assert entry.protocol == "clap/mova-laion-630k-fusion-v1"
    field = entry.fields[0]
    assert (field.name, field.measures, field.direction) == ("cs_mova", "cs", "higher")


def test_movas_published_is_and_clap_share_our_columns() -> None:
    from nava_eval.reports.published import load_published

    rows = load_published("versebench", split="all-per-set-mean")
    mova = rows[rows["model"] == "MOVA-360p"].set_index("metric_label")
    for metric, label, value in (("clap_mova", "CLAP", 0.268), ("audio_is", "IS", 4.269)):
        field = metric_entries()[metric].fields[0]
        assert mova.loc[label, "metric"] == field.measures
        assert mova.loc[label, "protocol"] == field.protocol_for(metric_entries()[metric].protocol)
        assert mova.loc[label, "value"] == pytest.approx(value)
