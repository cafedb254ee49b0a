"""Synchformer (DeSync for MOVA, AV-A for Verse-Bench) against the official code's reference vectors.

`data/synchformer/desync_reference.json` (make_synchformer.py) and `av_a_reference.json`
(make_synchformer_versebench.py) come from the official code at the release's size with seeded
random weights (`reference_weights`) on the clips of tests/synchformer_clips.py, rebuilt here and
checked byte for byte. Fast tests: key names and config against the official module trees, the
loader, every network input (frames and log-mels), batching and bad input with a tiny network.
The full-size forward (about four minutes per clip on two CPU cores) is marked slow and runs on one
clip per protocol; the script's other cases were compared once with the same code (docs/protocols/desync.md).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import torch

from nava_eval.metrics import av_a as ava
from nava_eval.metrics import desync as ds
from nava_eval.metrics import synchformer_inputs as si
from nava_eval.metrics.base import ScoreInput, get_metric
from nava_eval.metrics.media_decode import ffmpeg_exe
from nava_eval.metrics.synchformer_model import (
    SIZE_FIELDS,
    Synchformer,
    SynchformerConfig,
    load_synchformer_state,
    offset_grid,
)

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "metrics" / "data" / "reference_scripts"))
import synchformer_clips as clips  # noqa: E402

DATA = Path(__file__).parent / "data" / "synchformer"
DESYNC = json.loads((DATA / "desync_reference.json").read_text())
AV_A = json.loads((DATA / "av_a_reference.json").read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("synchformer_clips")
    paths = {spec.name: clips.build_clip(spec, folder, ffmpeg_exe()) for spec in clips.CLIPS}
    for ref in (DESYNC, AV_A):
        for case in ref["cases"]:
            got = clips.sha256(paths[case["name"]])
            assert got == case["sha256"], (
                f"{case['name']}.mp4 rebuilt with other bytes ({got[:12]} ≠ {case['sha256'][:12]}): this ffmpeg "
                f"({ffmpeg_exe()}) encodes differently from the reference's ({ref['ffmpeg']}); set "
                "NAVA_EVAL_FFMPEG to that build or remake the reference"
            )
    return paths


FAST_CASE = "sync_portrait_2997_5s"  # 29.97 fps portrait, 22.05 kHz: the fast lane's case; the rest are slow


def _cases(ref: dict, key: str, slow_except: str | None = FAST_CASE) -> list:
    """The reference cases that have `key`, each marked slow but `slow_except` (None: all slow)."""
    return [
        pytest.param(c, id=c["name"], marks=() if c["name"] == slow_except else (pytest.mark.slow,))
        for c in ref["cases"]
        if key in c
    ]


def _check_summary(ours: torch.Tensor, ref: dict, atol: float, rtol_sum: float) -> None:
    assert list(ours.shape) == ref["shape"]
    flat = ours.double().flatten()
    got = torch.tensor([float(flat[i]) for i in ref["samples_at"]], dtype=torch.float64)
    torch.testing.assert_close(got, torch.tensor(ref["samples"], dtype=torch.float64), atol=atol, rtol=0)
    assert float(ours.double().abs().sum()) == pytest.approx(ref["abs_sum"], rel=rtol_sum)
    assert float(ours.double().sum()) == pytest.approx(
        ref["sum"], rel=rtol_sum, abs=rtol_sum * ref["abs_sum"]
    )


# ------------------------------------------------------------------------------------------ network


def test_keys_and_shapes_match_both_official_module_trees() -> None:
    with torch.device("meta"):
        ours = Synchformer(SynchformerConfig.full())
    mine = [[k, list(v.shape)] for k, v in ours.state_dict().items()]
    assert sorted(mine) == sorted(AV_A["mova_keys"])
    verse = dict((k, s) for k, s in AV_A["versebench_keys"])
    assert set(verse) == {k for k, _ in mine}
    differing = {k for k, s in mine if verse[k] != s}
    assert differing == {"transformer.pos_emb_cfg.pos_emb"}  # Verse-Bench's 11-segment table (156 rows)
    assert verse["transformer.pos_emb_cfg.pos_emb"] == [1, 156, 768]


def test_full_config_is_the_official_one_and_tiny_changes_only_sizes() -> None:
    full = SynchformerConfig.full().as_dict()
    official = dict(AV_A["config"])
    # official constants our config expresses through another field
    assert official.pop("a_freq_stride") == full["a_stride"]
    assert official.pop("a_hidden_act") == "gelu"
    assert official.pop("agg_a_norm_eps") == full["agg_norm_eps"]
    assert official.pop("agg_v_ffn") == full["mlp_ratio"] * full["dim"]
    assert official.pop("agg_a_ffn") == full["a_intermediate"]
    assert official.pop("agg_norm_first") is True
    for key, value in official.items():
        assert full[key] == value, key
    tiny = SynchformerConfig.tiny().as_dict()
    assert {k for k in full if full[k] != tiny[k]} <= set(SIZE_FIELDS)
    assert [f.name for f in dataclasses.fields(SynchformerConfig)] == list(full)


def _release_state(pos_rows: int = 198) -> dict[str, torch.Tensor]:
    state = {k: torch.empty(s, device="meta") for k, s in AV_A["mova_keys"]}
    state["transformer.pos_emb_cfg.pos_emb"] = torch.empty(1, pos_rows, 768, device="meta")
    return state


def test_loader_takes_the_release_forms_and_names_what_is_wrong() -> None:
    with torch.device("meta"):
        model = Synchformer(SynchformerConfig.full())
    assert load_synchformer_state(model, _release_state()) == []  # MOVA's synchformer_state_dict.pth
    assert load_synchformer_state(model, {"model": _release_state(), "epoch": 3}) == []  # Verse-Bench's
    prefixed = {f"module.{k}": v for k, v in _release_state().items()}
    assert load_synchformer_state(model, {"state_dict": prefixed}) == []  # MOVA's download conversion
    broken = _release_state()
    del broken["vproj.weight"]
    broken["head.weight"] = torch.empty(3, device="meta")
    with pytest.raises(ValueError, match=r"missing \['vproj.weight'\].*unexpected \['head.weight'\]"):
        load_synchformer_state(model, broken)
    with pytest.raises(ValueError, match="wrong shape"):
        load_synchformer_state(model, {**_release_state(), "aproj.bias": torch.empty(5, device="meta")})


def test_grid_is_the_official_class_grid() -> None:
    grid = offset_grid(SynchformerConfig.full())
    assert grid.dtype == torch.float32 and len(grid) == 21
    assert float(grid[0]) == -2.0 and float(grid[10]) == 0.0 and float(grid[-1]) == 2.0
    assert float(grid[12]) == 0.4000000059604645  # the float32 value the toolkit's .item() reports


def test_mel_filters_match_torchaudio_htk_definition() -> None:
    fb = si.mel_filters()
    assert fb.shape == (513, 128)
    assert float(fb.min()) == 0.0 and 0.9 < float(fb.max()) <= 1.0


# ------------------------------------------------------------------------------------------ inputs


@pytest.mark.parametrize("case", _cases(DESYNC, "video"))
def test_mova_inputs_match_the_official_transforms(built: dict[str, Path], case: dict) -> None:
    path = built[case["name"]]
    whole = si.sync_transform(si.video_frames(path, case["duration"])[0])  # the toolkit's [T, 3, 224, 224]
    _check_summary(whole, case["video"], atol=1e-6, rtol_sum=1e-9)  # equal on the reference machine
    if "network_error" in case:
        # The toolkit's transforms ran; only its network refused the clip (too few segments), and so
        # does mova_inputs: compare the log-mels built from the same pieces.
        from nava_eval.metrics.shared_media import MediaCache

        audio = MediaCache().audio(path)
        wave = si.mono_16k(audio.samples, audio.sample_rate)[: int(si.SAMPLE_RATE * case["duration"])]
        mels = si.log_mels(si.audio_segments(wave))
    else:
        inputs = ds.mova_inputs(path, None)
        assert inputs.details["clip_duration_s"] == pytest.approx(case["duration"])
        torch.testing.assert_close(inputs.video, si.video_segments(whole), atol=0, rtol=0)
        mels = inputs.mels
    _check_summary(mels[None], case["mel"], atol=1e-5, rtol_sum=1e-7)


def test_short_clip_is_skipped_where_the_toolkit_fails(built: dict[str, Path]) -> None:
    (case,) = [c for c in DESYNC["cases"] if c["name"] == "sync_short_4s"]
    assert "network_error" in case  # the official compare_v_a cannot take 11 segments
    with pytest.raises(si.SyncInputError, match="11 segments, fewer than the 14"):
        ds.mova_inputs(built["sync_short_4s"], None)


@pytest.mark.parametrize("case", _cases(AV_A, "video"))
def test_versebench_inputs_match_the_official_transforms(built: dict[str, Path], case: dict) -> None:
    inputs = ava.versebench_inputs(built[case["name"]], ffmpeg_exe())
    _check_summary(inputs.video[None], case["video"], atol=1e-6, rtol_sum=1e-9)
    _check_summary(inputs.mels[None, :, None], case["mel"], atol=1e-5, rtol_sum=1e-7)


def test_versebench_scores_a_4s_clip_and_skips_a_shorter_one(built: dict[str, Path], tmp_path: Path) -> None:
    (case,) = [c for c in AV_A["cases"] if c["name"] == "sync_short_4s"]
    assert "av_a" in case  # exactly the 4-s crop: the toolkit scores it (DeSync's 14 segments do not fit)
    short = dataclasses.replace(
        clips.CLIPS[-1], name="sync_3s", n_frames=75, jump_frames=(30,), click_seconds=(1.2,)
    )
    path = clips.build_clip(short, tmp_path, ffmpeg_exe())
    with pytest.raises(ava.AVAInputError, match="shorter than the toolkit's 4-s crop"):
        ava.versebench_inputs(path, ffmpeg_exe())


# ------------------------------------------------------------------------------------------ metric


def test_smoke_batch_scores_each_seed_as_alone_and_bad_input_is_an_outcome(
    built: dict[str, Path], tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video")
    path = built["sync_portrait_2997_5s"]
    batch = [
        ScoreInput(id="a", set="set1", output=path, seed=0),
        ScoreInput(id="a", set="set1", output=built["sync_silent_5s"], seed=1),
        ScoreInput(id="b", set="set1", output=garbage),
    ]
    for name, field in (("desync", "desync"), ("av_a", "av_a")):
        metric = get_metric(name, smoke=True)
        assert metric.protocol.endswith("+smoke-random-weights")
        metric.setup("cpu")
        together = metric.score_batch(batch)
        alone = [metric.score_batch([it])[0] for it in batch[:2]]
        for t, a in zip(together[:2], alone, strict=True):
            assert t.status == a.status == "ok"
            assert t.values[field] == pytest.approx(a.values[field])
            if name == "desync":
                assert t.values["offset_first_s"] == a.values["offset_first_s"]
        assert together[2].status == "failed"
        assert "garbage.mp4" in together[2].reason


def test_segments_of_several_clips_share_forwards_and_stay_apart(built: dict[str, Path]) -> None:
    from nava_eval.metrics.synchformer_model import init_random

    model = init_random(Synchformer(SynchformerConfig.tiny()), 3).eval()
    a = ds.mova_inputs(built[FAST_CASE], None)
    b = ds.mova_inputs(built["sync_silent_5s"], None)
    together = ds.segment_features(model, [a, b], "cpu", 5, False)  # batches straddle the two clips
    for inp, (v, au) in zip((a, b), together, strict=True):
        ((v1, a1),) = ds.segment_features(model, [inp], "cpu", 5, False)
        torch.testing.assert_close(v, v1, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(au, a1, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(together[0][1], together[1][1])  # a silent track gives other audio features
    windows = [(v[:14], au[:14]) for v, au in together]
    both = ds.window_logits(model, windows, "cpu", False)
    for k, w in enumerate(windows):
        torch.testing.assert_close(
            both[k], ds.window_logits(model, [w], "cpu", False)[0], atol=1e-5, rtol=1e-5
        )


def test_desync_and_av_a_share_one_network() -> None:
    desync, av_a = get_metric("desync", smoke=True), get_metric("av_a", smoke=True)
    desync.setup("cpu")
    av_a.setup("cpu")
    assert desync._model is av_a._model
    other = get_metric("desync", smoke=True, seed=1)
    other.setup("cpu")
    assert other._model is not desync._model  # another seed: its own network
    assert desync.weight_names == av_a.weight_names == ("synchformer",)


def test_desync_reads_through_the_pass_cache_ib_shares(built: dict[str, Path]) -> None:
    from nava_eval.metrics.shared_media import MediaCache

    desync, ib = get_metric("desync", smoke=True), get_metric("ib", smoke=True)
    cache = MediaCache()
    desync.share_media(cache)
    ib.share_media(cache)
    item = [ScoreInput(id="a", set="set1", output=built[FAST_CASE])]
    alone = get_metric("desync", smoke=True).score_batch(item)[0]
    first, second = desync.score_batch(item)[0], ib.score_batch(item)[0]
    assert first.status == second.status == "ok"
    assert cache.stats.decodes == 1 and cache.stats.hits >= 1  # one demux for both metrics
    assert first.values == alone.values  # sharing changes no number


def test_no_audio_stream_is_skipped_with_a_reason(tmp_path: Path) -> None:
    import av_reference_clips as avc

    (spec,) = [s for s in avc.CLIPS if s.name == "no_audio_stream"]
    path = avc.build_clip(spec, tmp_path, ffmpeg_exe())
    with pytest.raises(si.SyncInputError, match="no audio stream"):
        ds.mova_inputs(path, None)
    with pytest.raises(ava.AVAInputError, match="no audio stream"):
        ava.versebench_inputs(path, ffmpeg_exe())


# ------------------------------------------------------------------------------------------ full size


@pytest.fixture(scope="module")
def full_network() -> Synchformer:
    from make_synchformer import reference_weights

    model = Synchformer(SynchformerConfig.full()).eval()
    load_synchformer_state(model, reference_weights(model.state_dict()))
    return model


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in DESYNC["cases"] if c["name"] == FAST_CASE], ids=[FAST_CASE])
def test_full_size_desync_matches_official(
    built: dict[str, Path], full_network: Synchformer, case: dict
) -> None:
    inputs = ds.mova_inputs(built[case["name"]], None)
    ((v, a),) = ds.segment_features(full_network, [inputs], "cpu", 4, False)
    _check_summary(v[None], case["vfeat"], atol=1e-5, rtol_sum=1e-5)
    _check_summary(a[None], case["afeat"], atol=1e-5, rtol_sum=1e-5)
    logits = ds.window_logits(full_network, [(v[:14], a[:14]), (v[-14:], a[-14:])], "cpu", False)
    torch.testing.assert_close(logits[0], torch.tensor(case["logits_first"]), atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[1], torch.tensor(case["logits_last"]), atol=1e-5, rtol=0)
    grid = offset_grid(full_network.cfg)
    top = logits.argmax(dim=-1)
    assert (abs(float(grid[top[0]])) + abs(float(grid[top[1]]))) / 2 == case["desync"]


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in AV_A["cases"] if c["name"] == FAST_CASE], ids=[FAST_CASE])
def test_full_size_av_a_matches_official(
    built: dict[str, Path], full_network: Synchformer, case: dict
) -> None:
    inputs = ava.versebench_inputs(built[case["name"]], ffmpeg_exe())
    feats = ds.segment_features(full_network, [inputs], "cpu", 4, False)
    logits = ds.window_logits(full_network, feats, "cpu", False)
    torch.testing.assert_close(logits[0], torch.tensor(case["logits"]), atol=1e-5, rtol=0)
    assert float(offset_grid(full_network.cfg)[logits[0].argmax()]) == case["av_a"]


@pytest.mark.gpu
def test_cuda_features_agree_with_cpu(built: dict[str, Path]) -> None:
    """The toolkits run Synchformer under fp16 autocast on CUDA; CPU twin: test_segments_of_several_clips_share_forwards_and_stay_apart."""
    from nava_eval.metrics.synchformer_model import init_random

    model = init_random(Synchformer(SynchformerConfig.tiny()), 3).eval()
    inputs = [ds.mova_inputs(built[FAST_CASE], None)]
    ((v_cpu, a_cpu),) = ds.segment_features(model, inputs, "cpu", 8, False)
    model.to("cuda")
    ((v32, a32),) = ds.segment_features(model, inputs, "cuda", 8, False)
    ((v16, a16),) = ds.segment_features(model, inputs, "cuda", 8, True)
    torch.testing.assert_close(v32.cpu(), v_cpu, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(a32.cpu(), a_cpu, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(v16.cpu(), v_cpu, atol=5e-2, rtol=5e-2)  # fp16 rounding
    windows = [(v16[:14], a16[:14])]
    assert ds.window_logits(model, windows, "cuda", True).shape == (1, 21)
