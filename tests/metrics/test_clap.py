"""CLAP CS/FD against the Verse-Bench toolkit's own code (tiny random CLAP), preprocessing, bad input."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from nava_eval.metrics import clap as C
from nava_eval.metrics.base import ScoreInput, get_metric, metric_entries
from nava_eval.metrics.clap_audio import (
    MAX_SAMPLES,
    fusion_input,
    load_48k_mono,
    peak_normalize_int16,
    resample_soxr_hq,
)
from nava_eval.metrics.frechet import embedding_set_fd
from nava_eval.nava.media import write_mp4

DATA = Path(__file__).parent / "data" / "clap"
# Same float32 network, other op order: embeddings and cosines agree to 1e-5 (observed ≤ 2e-7).
TOL = 1e-5


def official_value(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The tiny checkpoint's tensors: make_clap.py draws each from numpy PCG64 seeded by its name."""
    rng = np.random.default_rng([1234, zlib.crc32(name.encode())])
    if name.endswith("running_var"):
        return np.abs(rng.standard_normal(shape)) + 0.5
    base = rng.standard_normal(shape) * 0.1
    return base + 1.0 if name.endswith(".weight") and len(shape) == 1 else base


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "expected.json").read_text())


@pytest.fixture(scope="module")
def metric(expected: dict, tmp_path_factory: pytest.TempPathFactory) -> C.ClapScore:
    state = {
        k: torch.from_numpy(np.asarray(official_value(k, tuple(shape)))).float()
        for k, shape in expected["state_dict_shapes"].items()
    }
    # This older reference (make_clap.py) gave its tiny RoBERTa transformers' default eps (1e-12) on
    # both sides; expected_pins.json (make_clap_pins.py) checks roberta-base's 1e-5.
    eps = expected["roberta_config"].get("layer_norm_eps", 1e-12)
    model = C.load_clap_model(state, C.tiny_clap_config(len(expected["vocab"]), layer_norm_eps=eps))
    assert C.byte_level_vocab() == expected["vocab"]
    tokenizer = C.byte_level_tokenizer(tmp_path_factory.mktemp("tok"))
    out = C.ClapScore(batch_size=2)
    out.embedder = C.ClapEmbedder(model, tokenizer)
    return out


def test_audio_and_text_embeddings_match_the_toolkit(
    expected: dict, metric: C.ClapScore, reference_wavs: dict[str, Path]
) -> None:
    wavs = reference_wavs["clap"]
    names = list(expected["files"])
    embs = metric.embed_files({n: wavs / n for n in names})
    for name in names:
        assert np.abs(embs[name] - np.array(expected["files"][name]["embedding"])).max() < TOL, name
    text = metric.embedder.embed_text(expected["texts"])
    assert np.abs(text - np.array(expected["text_embeddings"])).max() < TOL
    for name in names:
        for caption, cs in expected["files"][name]["cs"].items():
            assert float(np.dot(embs[name], text[expected["texts"].index(caption)])) == pytest.approx(
                cs, abs=TOL
            )


def test_clip_longer_than_ten_seconds_matches_with_the_same_chunks(
    metric: C.ClapScore, reference_wavs: dict[str, Path]
) -> None:
    wavs = reference_wavs["clap"]
    # The toolkit draws the chunks with an unseeded np.random.choice; the reference fixed it to the
    # first index of each third, and we feed the same starts.
    long = json.loads((DATA / "expected_long.json").read_text())
    wave = peak_normalize_int16(load_48k_mono(wavs / "long_4k_12s.wav"))
    clip = fusion_input(wave, chunk_starts=tuple(long["chunk_starts"]))
    assert clip.longer and clip.mel_fusion.shape == (4, 1001, 64)
    emb = metric.embedder.embed_audio([clip])[0]
    assert np.abs(emb - np.array(long["embedding"])).max() < TOL
    # Our own draw is seeded per clip: the same seed gives the same chunks, inside each third.
    a, b = fusion_input(wave, seed=7), fusion_input(wave, seed=7)
    assert a.chunk_starts == b.chunk_starts
    total = 1 + len(wave) // 480 - 1000
    assert a.chunk_starts[0] < total / 3 + 1 and a.chunk_starts[2] >= 2 * total / 3 - 1


def test_perclip_fd_is_the_toolkits_with_its_pinned_numpy(expected: dict) -> None:
    pairs = json.loads((DATA / "perclip_fd.json").read_text())
    assert pairs["versions"]["numpy"].startswith("1.26")
    for pair in pairs["pairs"]:
        g = np.array(expected["files"][pair["generated"]]["embedding"], dtype=np.float32)
        r = np.array(expected["files"][pair["reference"]]["embedding"], dtype=np.float32)
        assert pair["sigma_shape"] == []  # numpy 1.26: the covariance of one row is a scalar variance
        assert C.toolkit_perclip_fd(g, r) == pytest.approx(pair["fd"], abs=1e-6)


def test_metric_scores_cs_fd_and_records_bad_input(
    tmp_path: Path, metric: C.ClapScore, reference_wavs: dict[str, Path]
) -> None:
    wavs = reference_wavs["clap"]
    gt = wavs / "tone_8k_10s.wav"
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16_000)
    video_only = write_mp4(tmp_path / "v.mp4", np.zeros((3, 32, 32, 3), np.uint8), fps=24)
    prompt = {"audio_prompt": ["a dog barking", "birds"]}
    items = [
        ScoreInput("ok", "set2", wavs / "tone_16k_3s.wav", reference_audio=gt, meta=prompt),
        ScoreInput("set1", "set1", wavs / "bursts_24k_2s_stereo.wav", meta=prompt),
        ScoreInput(
            "noprompt", "set2", wavs / "tone_16k_3s.wav", reference_audio=gt, meta={"audio_prompt": []}
        ),
        ScoreInput("video", "set2", video_only, reference_audio=gt, meta=prompt),
        ScoreInput("empty", "set2", empty, reference_audio=gt, meta=prompt),
        ScoreInput(
            "nogt", "set2", wavs / "tone_16k_3s.wav", reference_audio=tmp_path / "gone.wav", meta=prompt
        ),
    ]
    ok, set1, noprompt, video, empty_out, nogt = metric.score_batch(items)
    assert ok.status == "ok" and ok.values["caption"] == "a dog barking"
    assert ok.values["fd"] == pytest.approx(
        C.toolkit_perclip_fd(np.array(ok.values["embedding"]), np.array(ok.values["reference_embedding"])),
        abs=1e-6,
    )
    assert -1.0 <= ok.values["cs"] <= 1.0
    assert set1.status == "ok" and "fd" not in set1.values and "no ground-truth" in set1.values["fd_excluded"]
    assert noprompt.status == "skipped" and "audio_prompt" in noprompt.reason
    assert video.status == "skipped" and "no audio stream" in video.reason
    assert empty_out.status == "failed" and "no samples" in empty_out.reason
    assert nogt.status == "ok" and "gone.wav" in nogt.values["fd_excluded"] and "cs" in nogt.values
    # The set reducer reads the stored embeddings: identical sets are at distance 0.
    same = [{"embedding": ok.values["embedding"], "reference_embedding": ok.values["embedding"]}] * 3
    assert embedding_set_fd(same) == pytest.approx(0.0, abs=1e-9)


def test_preprocessing_steps() -> None:
    wave = np.array([0.0, 0.25, -0.5], dtype=np.float32)
    out = peak_normalize_int16(wave)
    gain = 10 ** (-1 / 20) / 0.5
    assert out.tolist() == pytest.approx(
        [0.0, np.trunc(0.25 * gain * 32767) / 32767, -np.trunc(0.5 * gain * 32767) / 32767]
    )
    assert peak_normalize_int16(np.zeros(4, np.float32)).tolist() == [0.0] * 4  # no NaN for silence
    assert resample_soxr_hq(np.zeros(16_001, np.float32), 16_000).shape == (48_003,)  # ceil(n * 3)
    short = fusion_input(np.ones(100_000, np.float32) * 0.1)
    assert not short.longer and short.mel_fusion.shape == (4, 1001, 64)
    assert torch.equal(short.mel_fusion[0], short.mel_fusion[3])
    with pytest.raises(ValueError, match="empty"):
        fusion_input(np.zeros(0, np.float32))
    exact = fusion_input(np.ones(MAX_SAMPLES + 100, np.float32) * 0.1)  # the official corner case
    assert not exact.longer


def test_checkpoint_mapping_is_strict() -> None:
    with pytest.raises(C.ClapCheckpointError, match="not part of"):
        C.map_checkpoint_keys({"module.audio_branch.mystery.weight": torch.zeros(1)})
    qkv = torch.arange(12.0).reshape(12, 1)
    mapped = C.map_checkpoint_keys({"module.audio_branch.layers.0.blocks.1.attn.qkv.weight": qkv})
    base = "audio_model.audio_encoder.layers.0.blocks.1.attention.self"
    assert mapped[f"{base}.key.weight"].ravel().tolist() == [4.0, 5.0, 6.0, 7.0]
    assert C.map_checkpoint_keys({"audio_branch.head.weight": qkv}) == {}  # training head, unused


def test_registry_matches_the_class_and_smoke_runs(tmp_path: Path) -> None:
    entry = metric_entries()["clap"]
    assert entry.fields == C.ClapScore.fields
    assert [(f.name, f.protocol, f.kind) for f in entry.fields] == [
        ("fd", "fd/versebench-clap-perclip-v1", "item"),
        ("cs", None, "item"),
        ("fd_set", "fd/versebench-clap-set-v1", "set"),
    ]
    smoke = get_metric("clap", smoke=True)
    assert smoke.protocol == "cs/versebench-clap-v1+smoke-random-weights"
    smoke.setup("cpu")
    wav = tmp_path / "x.wav"
    sf.write(wav, 0.3 * np.sin(np.arange(16_000) / 5.0), 16_000)
    (out,) = smoke.score_batch(
        [ScoreInput("x", "set2", wav, reference_audio=wav, meta={"audio_prompt": ["hum"]})]
    )
    assert out.status == "ok" and out.values["fd"] == pytest.approx(0.0, abs=1e-6)
