"""SIM: official ECAPA head vectors, the checkpoint key map (full layout and a tiny strict load), tiny model."""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from nava_eval.metrics.base import ScoreInput, get_metric
from nava_eval.metrics.ecapa_tdnn import EcapaHead
from nava_eval.metrics.speaker_similarity import (
    SpeakerSimilarity,
    load_wavlm_ecapa,
    tiny_ecapa_config,
    tiny_wavlm_config,
    tiny_wavlm_ecapa,
)
from nava_eval.metrics.speech_audio import resample_sinc
from nava_eval.metrics.wavlm_keymap import (
    UPSTREAM_PREFIX,
    CheckpointLayoutError,
    map_upstream_key,
    wavlm_large_config,
)

UTTS = ("u1", "u2", "u3")


@pytest.fixture(scope="module")
def sim_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "speaker_sim"


@pytest.fixture(scope="module")
def official_head(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> EcapaHead:
    from safetensors.torch import load_file

    out = tmp_path_factory.mktemp("sim_weights")
    name = "ecapa_head_random_seed1234.safetensors"
    with tarfile.open(sim_dir / "weights.tar.xz") as tar:
        tar.extract(tar.getmember(name), out, filter="data")  # only the safetensors file, never the .pth
    head = EcapaHead()
    head.load_state_dict(load_file(str(out / name)), strict=True)
    return head.eval()


@pytest.fixture(scope="module")
def head_outputs(official_head: EcapaHead, sim_dir: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    hidden = np.load(sim_dir / "hidden_states.npz")
    out = {}
    with torch.no_grad():
        for u in UTTS:
            states = torch.from_numpy(hidden[u].astype(np.float32))[:, None]  # [25, 1, T, 1024]
            out[u] = (official_head.features(states), official_head(states))
    return out


def test_head_matches_official_embeddings(
    head_outputs: dict, sim_dir: Path, official_head: EcapaHead
) -> None:
    expected = np.load(sim_dir / "expected_arrays.npz")
    meta = json.loads((sim_dir / "expected.json").read_text())
    softmax = F.softmax(official_head.feature_weight, dim=-1).detach().numpy()
    np.testing.assert_allclose(softmax, meta["softmax_feature_weight"], atol=1e-7)
    for u in UTTS:
        feats, emb = head_outputs[u]
        np.testing.assert_allclose(feats.numpy(), expected[f"feat_after_instance_norm_{u}"], atol=1e-5)
        np.testing.assert_allclose(emb.numpy(), expected[f"emb_{u}"], atol=2e-5)  # README: ~1e-5 in float32
        np.testing.assert_allclose(emb.numpy()[0], meta["embeddings_256"][u], atol=2e-5)


def test_head_matches_official_cosines(head_outputs: dict, sim_dir: Path) -> None:
    meta = json.loads((sim_dir / "expected.json").read_text())
    scores = []
    for pair, expected in meta["cosine_similarity"].items():
        a, b = pair.split("|")
        cos = F.cosine_similarity(head_outputs[a][1], head_outputs[b][1]).item()
        assert cos == pytest.approx(expected, abs=1e-6), pair
        scores.append(cos)
    assert f"ASV: {round(float(np.mean(scores)), 3)}" == meta["official_average_py_stdout"][0]


def test_full_checkpoint_layout_maps_onto_transformers_wavlm_large(sim_dir: Path) -> None:
    from transformers import WavLMModel

    layout = json.loads((sim_dir / "official_checkpoint_layout.json").read_text())
    head_layout = {
        k: tuple(v) for k, v in layout["head_keys_from_official_ECAPA_TDNN_SMALL_feat_dim1024"].items()
    }
    assert {k: tuple(v.shape) for k, v in EcapaHead().state_dict().items()} == head_layout
    with torch.device("meta"):  # full size, no memory
        model = WavLMModel(wavlm_large_config())
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    upstream = layout["upstream_keys_from_s3prl_WavLM_class_with_assumed_large_config"]
    mapped = {map_upstream_key(k.removeprefix(UPSTREAM_PREFIX)): tuple(v) for k, v in upstream.items()}
    assert len(mapped) == len(upstream) == 488
    assert mapped == ours


# Official WavLM-Large sizes -> the tiny config's (hidden 1024->32, conv 512->16, FFN 4096->64,
# heads 16->4, head dim and pos-conv group width 64->8, pos-conv kernel 128->16).
_SCALE = {1024: 32, 512: 16, 4096: 64, 16: 4, 64: 8, 128: 16}


def _tiny_official_checkpoint(sim_dir: Path, seed: int = 7) -> dict[str, torch.Tensor]:
    """The official key names, layers 0-1 only, shapes scaled down, seeded random values."""
    layout = json.loads((sim_dir / "official_checkpoint_layout.json").read_text())
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, shape in layout["upstream_keys_from_s3prl_WavLM_class_with_assumed_large_config"].items():
        if ".encoder.layers." in key and int(key.split(".encoder.layers.")[1].split(".")[0]) > 1:
            continue
        state[key] = torch.randn([_SCALE.get(d, d) for d in shape], generator=gen)
    head = EcapaHead(tiny_ecapa_config())
    for key, value in head.state_dict().items():
        state[key] = torch.randn(value.shape, generator=gen) if value.dtype.is_floating_point else value
        if "running_var" in key:
            state[key] = state[key].abs() + 0.5
    return state


def test_tiny_official_layout_loads_strictly_and_lands_in_place(sim_dir: Path, tmp_path: Path) -> None:
    state = _tiny_official_checkpoint(sim_dir)
    path = tmp_path / "tiny_finetune.pth"
    torch.save({"model": state}, path)
    model = load_wavlm_ecapa(path, wavlm_config=tiny_wavlm_config(), head_config=tiny_ecapa_config())
    ours = model.wavlm.state_dict()
    n_upstream = 0
    for key, value in state.items():
        if key.startswith(UPSTREAM_PREFIX):
            n_upstream += 1
            torch.testing.assert_close(
                ours[map_upstream_key(key.removeprefix(UPSTREAM_PREFIX))], value, rtol=0, atol=0
            )
        else:
            torch.testing.assert_close(model.head.state_dict()[key], value, rtol=0, atol=0)
    assert n_upstream == len(ours)
    # weight_g / weight_v must act as the old weight_norm did: w = g * v / ||v|| (norm over dims 0, 1).
    g = state[UPSTREAM_PREFIX + "encoder.pos_conv.0.weight_g"]
    v = state[UPSTREAM_PREFIX + "encoder.pos_conv.0.weight_v"]
    expected_w = g * v / v.norm(dim=(0, 1), keepdim=True)
    torch.testing.assert_close(model.wavlm.encoder.pos_conv_embed.conv.weight, expected_w)
    emb = model.embed([np.random.default_rng(0).standard_normal(8000).astype(np.float32)])[0]
    assert emb.shape == (8,) and torch.isfinite(emb).all()


def test_loader_is_strict(sim_dir: Path, tmp_path: Path) -> None:
    kwargs = {"wavlm_config": tiny_wavlm_config(), "head_config": tiny_ecapa_config()}
    state = _tiny_official_checkpoint(sim_dir)
    extra = dict(state, **{UPSTREAM_PREFIX + "final_proj.weight": torch.zeros(2, 2)})
    torch.save({"model": extra}, tmp_path / "extra.pth")
    with pytest.raises(CheckpointLayoutError, match="final_proj"):
        load_wavlm_ecapa(tmp_path / "extra.pth", **kwargs)
    missing = {k: v for k, v in state.items() if not k.endswith("encoder.layer_norm.bias")}
    torch.save({"model": missing}, tmp_path / "missing.pth")
    with pytest.raises(CheckpointLayoutError, match="missing"):
        load_wavlm_ecapa(tmp_path / "missing.pth", **kwargs)
    torch.save(state, tmp_path / "flat.pth")
    with pytest.raises(CheckpointLayoutError, match="under 'model'"):
        load_wavlm_ecapa(tmp_path / "flat.pth", **kwargs)


def test_batched_embeddings_equal_one_at_a_time() -> None:
    model = tiny_wavlm_ecapa(seed=0)
    rng = np.random.default_rng(1)
    waves = [rng.standard_normal(n).astype(np.float32) for n in (16000, 12345, 7000)]
    batched = model.embed(waves)
    for wave, emb in zip(waves, batched, strict=True):
        torch.testing.assert_close(emb, model.embed([wave])[0], atol=1e-5, rtol=0)


def _write(path: Path, wave: np.ndarray, sr: int = 16_000) -> Path:
    sf.write(path, wave.astype(np.float32), sr)
    return path


def test_tiny_metric_identical_vs_perturbed(tmp_path: Path) -> None:
    t = np.arange(16_000) / 16_000
    voice = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    other = voice + 0.3 * np.sign(np.sin(2 * np.pi * 700 * t))  # fixed perturbation: a square wave
    prompt = _write(tmp_path / "prompt.wav", voice)
    same = _write(tmp_path / "same.wav", voice)
    diff = _write(tmp_path / "diff.wav", other)
    metric = get_metric("sim", smoke=True)
    assert metric.protocol == "sim/wavlm-large-ecapa-v1+smoke-random-weights"
    metric.setup("cpu")
    out = metric.score_batch(
        [
            ScoreInput("same", "s", same, reference_audio=prompt),
            ScoreInput("diff", "s", diff, reference_audio=prompt),
        ]
    )
    assert [o.status for o in out] == ["ok", "ok"]
    assert out[0].values["sim"] == pytest.approx(100.0, abs=1e-3)
    assert out[0].values["cosine"] == pytest.approx(1.0, abs=1e-5)
    assert out[1].values["sim"] < out[0].values["sim"] - 1.0
    assert out[1].values["sim"] == pytest.approx(out[1].values["cosine"] * 100)


def test_sim_failures_and_skips(tmp_path: Path) -> None:
    good = _write(tmp_path / "g.wav", np.random.default_rng(0).standard_normal(8000) * 0.1)
    metric = SpeakerSimilarity(smoke=True)
    out = metric.score_batch(
        [
            ScoreInput("noref", "s", good),
            ScoreInput("missing", "s", tmp_path / "absent.wav", reference_audio=good),
            ScoreInput("badref", "s", good, reference_audio=tmp_path / "absent_prompt.wav"),
            ScoreInput("ok", "s", good, reference_audio=good),
        ]
    )
    assert [o.status for o in out] == ["skipped", "failed", "failed", "ok"]
    assert "absent.wav" in out[1].reason and "absent_prompt.wav" in out[2].reason
    with pytest.raises(TypeError, match="unknown option"):
        SpeakerSimilarity(backend="x")


def test_sinc_resampler_matches_a_sine() -> None:
    sr = 24_000
    t = np.arange(sr) / sr
    out = resample_sinc(np.sin(2 * np.pi * 440 * t).astype(np.float32), sr)
    assert out.shape == (16_000,)
    t16 = np.arange(16_000) / 16_000
    inner = slice(200, -200)  # away from the zero-padded edges
    assert np.abs(out[inner] - np.sin(2 * np.pi * 440 * t16)[inner]).max() < 2e-3
    same = np.ones(100, dtype=np.float32)
    assert resample_sinc(same, 16_000) is same or np.array_equal(resample_sinc(same, 16_000), same)
    assert math.isclose(
        float(resample_sinc(np.ones(4800, np.float32), 48_000)[100:-100].mean()), 1.0, abs_tol=1e-2
    )


def test_missing_checkpoint_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nava_eval.metrics.weights import WeightsMissingError, weight_specs

    assert {"wavlm_large_finetune", "whisper-large-v3", "whisper-large-v3-openai"} <= set(weight_specs())
    monkeypatch.setenv("NAVA_EVAL_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsMissingError, match="weights download wavlm_large_finetune"):
        SpeakerSimilarity().setup("cpu")
    with pytest.raises(WeightsMissingError, match="no such file"):
        SpeakerSimilarity(weights={"wavlm_large_finetune": tmp_path / "nope.pth"}).setup("cpu")


def test_hidden_states_are_layer_inputs_then_final_layer_norm() -> None:
    """s3prl's WavLM hidden_states: the input of every layer, then the encoder output after its final
    LayerNorm. transformers 5's own `hidden_states[-1]` is pre-LayerNorm, so this must be rebuilt."""
    model = tiny_wavlm_ecapa(seed=2)
    wavlm = model.wavlm
    layer_inputs: list[torch.Tensor] = []
    final: list[torch.Tensor] = []
    hooks = [
        layer.register_forward_pre_hook(lambda m, args: layer_inputs.append(args[0]))
        for layer in wavlm.encoder.layers
    ]
    hooks.append(wavlm.encoder.layer_norm.register_forward_hook(lambda m, args, out: final.append(out)))
    wave = torch.from_numpy(np.random.default_rng(3).standard_normal((1, 6000)).astype(np.float32))
    with torch.no_grad():
        states = model.hidden_states(wave)
    for h in hooks:
        h.remove()
    with torch.no_grad():
        raw = wavlm(wave, output_hidden_states=True)
    n = wavlm.config.num_hidden_layers
    assert states.shape[0] == n + 1 == len(layer_inputs) + 1
    for i in range(n):
        torch.testing.assert_close(states[i], layer_inputs[i], rtol=0, atol=0)
    torch.testing.assert_close(states[n], final[0], rtol=0, atol=0)
    assert not torch.allclose(raw.hidden_states[n], final[0])  # the transformers-5 trap this guards
