"""NavaModel against the official reference forwards (nava_tiny) and its batched calling convention."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nava_eval.nava.checkpoint import load_model
from nava_eval.nava.config import NavaConfig
from nava_eval.nava.modeling import NavaModel

# README of the fixture: allclose with rtol 1e-4 and atol 1e-4 for single fp32 forwards.
RTOL = ATOL = 1e-4


@pytest.fixture(scope="module")
def fixture_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "nava_tiny"


@pytest.fixture(scope="module")
def model(fixture_dir: Path) -> NavaModel:
    return load_model(fixture_dir / "weights.safetensors", NavaConfig.from_json(fixture_dir / "config.json"))


@pytest.fixture(scope="module")
def cases(fixture_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(fixture_dir / "cases.safetensors"))


def _run(model: NavaModel, cases: dict[str, torch.Tensor], name: str, **flags):
    def get(field: str) -> torch.Tensor | None:
        return cases.get(f"{name}.{field}")

    video = get("video_latent")
    with torch.no_grad():
        return model(
            None if video is None else video[None],
            get("audio_latent")[None],
            get("timestep"),
            [get("context")],
            spk_embed=get("spk_embed"),
            spk_pos=get("spk_pos"),
            **flags,
        )


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("a_joint", {}),
        ("b_masked", {"modality_mask": True}),
        ("c_speaker", {}),
        ("c2_speaker_null", {}),
        ("c3_speaker_nopos", {}),
        ("d_i2v", {"first_frame_clean": True}),
    ],
)
def test_joint_forwards_match_official(model, cases, name: str, flags: dict) -> None:
    out = _run(model, cases, name, **flags)
    torch.testing.assert_close(out.video[0], cases[f"{name}.out_video"], rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(out.audio[0], cases[f"{name}.out_audio"], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["e_audio_only", "e2_audio_only_speaker"])
def test_audio_only_forwards_match_official(model, cases, name: str) -> None:
    out = _run(model, cases, name)
    assert out.video is None
    torch.testing.assert_close(out.audio[0], cases[f"{name}.out_audio"], rtol=RTOL, atol=ATOL)


def test_odd_grid_is_padded_and_cropped_as_official(model, cases) -> None:
    frames, height, width = cases["h_pad_oddhw.t_h_w"].tolist()
    tokens = cases["h_pad_oddhw.latents_video"]
    assert height % 2 or width % 2
    video = tokens.reshape(frames, height, width, -1).permute(3, 0, 1, 2)
    with torch.no_grad():
        out = model(
            video[None],
            cases["h_pad_oddhw.latents_audio"][None],
            cases["h_pad_oddhw.timestep"],
            [cases["h_pad_oddhw.context"]],
        )
    assert out.video.shape == (1, 48, frames, height, width)
    out_tokens = out.video[0].permute(1, 2, 3, 0).reshape(-1, 48)
    torch.testing.assert_close(out_tokens, cases["h_pad_oddhw.out_video"], rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(out.audio[0], cases["h_pad_oddhw.out_audio"], rtol=RTOL, atol=ATOL)


def test_batched_cfg_passes_equal_the_official_passes(model, cases) -> None:
    """C, U, M, S of f_guided in one B=4 forward, with per-row context, speaker and modality mask."""
    frames, height, width = cases["f_guided.t_h_w"].tolist()
    video = cases["f_guided.latents_video"].reshape(frames, height, width, -1).permute(3, 0, 1, 2)
    pos, neg = cases["f_guided.context_pos"], cases["f_guided.context_neg"]
    spk, spk_pos = cases["f_guided.spk_embed"], cases["f_guided.spk_pos"]
    with torch.no_grad():
        out = model(
            video[None].expand(4, -1, -1, -1, -1),
            cases["f_guided.latents_audio"][None].expand(4, -1, -1),
            cases["f_guided.timestep"],
            [pos, neg, pos, pos],
            spk_embed=[spk, None, spk, None],
            spk_pos=[spk_pos[0], None, None, None],
            modality_mask=[False, False, True, False],
        )
    for row, name in enumerate("CUMS"):
        got = out.video[row].permute(1, 2, 3, 0).reshape(-1, 48)
        torch.testing.assert_close(got, cases[f"f_guided.{name}_video"], rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(out.audio[row], cases[f"f_guided.{name}_audio"], rtol=RTOL, atol=ATOL)


def test_masked_audio_equals_audio_only(model, cases) -> None:
    """With modality masking audio never sees video, so it equals the audio-only forward."""
    masked = _run(model, cases, "b_masked", modality_mask=True)
    alone = _run(model, cases, "e_audio_only")
    torch.testing.assert_close(masked.audio, alone.audio, rtol=1e-5, atol=1e-5)


def test_i2v_changes_only_through_the_first_frame_timestep(model, cases) -> None:
    plain = _run(model, cases, "d_i2v")
    clean = _run(model, cases, "d_i2v", first_frame_clean=True)
    assert (plain.video - clean.video).abs().max() > 1e-3


def test_bad_inputs_fail_with_the_reason(model, cases) -> None:
    video, audio = cases["a_joint.video_latent"][None], cases["a_joint.audio_latent"][None]
    t, ctx = cases["a_joint.timestep"], cases["a_joint.context"]
    with pytest.raises(ValueError, match="needs a video latent"):
        model(None, None, t, [ctx])
    with pytest.raises(ValueError, match="more than the model's 16"):
        model(video, audio, t, [torch.zeros(17, 64)])
    with pytest.raises(ValueError, match="at least as many speaker vectors"):
        model(video, audio, t, [ctx], spk_embed=torch.zeros(1, 192), spk_pos=torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"outside \[0, 16\)"):
        model(video, audio, t, [ctx], spk_embed=torch.zeros(1, 192), spk_pos=torch.tensor([16]))
    with pytest.raises(ValueError, match="video latent"):
        model(video[:, :47], audio, t, [ctx])
    with pytest.raises(ValueError, match="modality_mask has 2 flags"):
        model(video, audio, t, [ctx], modality_mask=[True, False])


def test_construction_and_official_init_reproduce_fixture_weights(fixture_dir: Path) -> None:
    """Seeded construction + init_weights + the README's perturbation give the stored weights bitwise,
    which pins the module registration order (and so the RNG draw order) to the official one."""
    meta = json.loads((fixture_dir / "cases.json").read_text())
    stored = load_file(str(fixture_dir / "weights.safetensors"))
    torch.manual_seed(meta["seed"])
    model = NavaModel(NavaConfig.from_json(fixture_dir / "config.json"))
    model.init_weights()
    assert torch.equal(model.head.head.weight, torch.zeros_like(model.head.head.weight))
    noise = torch.Generator().manual_seed(1000 + meta["seed"])
    zero_init, one_init = set(meta["perturbed_zero_init"]), set(meta["perturbed_one_init"])
    with torch.no_grad():
        for key, value in model.state_dict().items():
            name = "backbone." + key
            if name in zero_init:
                value.add_(0.02 * torch.randn(value.shape, generator=noise))
            elif name in one_init:
                value.add_(0.1 * torch.randn(value.shape, generator=noise))
            assert torch.equal(value.to(torch.bfloat16), stored[name]), name
