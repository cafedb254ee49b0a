"""Guided passes and full sampling loops of the fixture model against the official reference vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nava_eval.nava.config import NavaConfig
from nava_eval.nava.modeling.model import NavaModel
from nava_eval.nava.sampling import GuidanceScales, flow_unipc_schedule
from nava_eval.nava.sampling.denoise import StepRecord, build_passes, denoise, evaluate_passes

FIXTURE_SCALES = GuidanceScales(video=3.0, audio=2.0, video_align=3.0, audio_align=2.0, timbre=3.0)


@pytest.fixture(scope="module")
def fixture_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "nava_tiny"


@pytest.fixture(scope="module")
def cases(fixture_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(fixture_dir / "cases.safetensors"))


@pytest.fixture(scope="module")
def model(fixture_dir: Path) -> NavaModel:
    config = NavaConfig.from_dict(json.loads((fixture_dir / "config.json").read_text()))
    net = NavaModel(config)
    state = load_file(str(fixture_dir / "weights.safetensors"))
    net.load_state_dict({k.removeprefix("backbone."): v.float() for k, v in state.items()}, strict=True)
    return net.eval()


def _f_passes(cases: dict[str, torch.Tensor]):
    p = "f_guided."
    return build_passes(
        ("C", "U", "M", "S"),
        cases[p + "context_pos"],
        cases[p + "context_neg"],
        cases[p + "spk_embed"],
        cases[p + "spk_pos"][0],
    )


@torch.no_grad()
def test_guided_passes_match_official(model: NavaModel, cases: dict[str, torch.Tensor]) -> None:
    p = "f_guided."
    preds = evaluate_passes(
        model, cases[p + "latents_video"], cases[p + "latents_audio"], cases[p + "t_h_w"].tolist(),
        int(cases[p + "timestep"]), _f_passes(cases), max_batch=1,
    )  # fmt: skip
    for name in "CUMS":
        torch.testing.assert_close(preds[name][0], cases[f"{p}{name}_video"], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(preds[name][1], cases[f"{p}{name}_audio"], rtol=1e-4, atol=1e-4)


@torch.no_grad()
def test_batched_passes_equal_sequential(model: NavaModel, cases: dict[str, torch.Tensor]) -> None:
    p = "f_guided."
    args = (model, cases[p + "latents_video"], cases[p + "latents_audio"], cases[p + "t_h_w"].tolist(), 999)
    sequential = evaluate_passes(*args, _f_passes(cases), max_batch=1)
    for max_batch in (2, 4):
        batched = evaluate_passes(*args, _f_passes(cases), max_batch=max_batch)
        for name in "CUMS":
            for got, want in zip(batched[name], sequential[name], strict=True):
                torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("max_batch", [1, 4])
@pytest.mark.parametrize("case", ["g_trajectory_t2av", "g2_trajectory_i2v"])
@torch.no_grad()
def test_trajectory_matches_official(
    model: NavaModel, cases: dict[str, torch.Tensor], case: str, max_batch: int
) -> None:
    p = case + "."
    records: list[StepRecord] = []
    schedule = flow_unipc_schedule(cases[p + "timesteps"].numel())
    assert torch.equal(schedule.timesteps, cases[p + "timesteps"])
    result = denoise(
        model, schedule, FIXTURE_SCALES,
        noise_video=cases[p + "noise_video"], noise_audio=cases[p + "noise_audio"],
        t_h_w=cases[p + "t_h_w"].tolist(), context_pos=cases[p + "context_pos"],
        context_neg=cases[p + "context_neg"], spk_embed=cases[p + "spk_embed"], spk_pos=cases[p + "spk_pos"][0],
        first_frame=cases.get(p + "first_frame"), max_batch=max_batch, on_step=records.append,
    )  # fmt: skip
    assert [r.timestep for r in records] == cases[p + "timesteps"].tolist()
    for r in records:
        i = r.index
        torch.testing.assert_close(r.guided_video, cases[f"{p}step{i}_guided_video"], rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(r.guided_audio, cases[f"{p}step{i}_guided_audio"], rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(r.latent_video, cases[f"{p}step{i}_latent_video"], rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(r.latent_audio, cases[f"{p}step{i}_latent_audio"], rtol=1e-3, atol=1e-3)
        if f"{p}step{i}_input_video" in cases:
            torch.testing.assert_close(r.input_video, cases[f"{p}step{i}_input_video"], rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(result.video, cases[f"{p}step3_latent_video"], rtol=1e-3, atol=1e-3)


@torch.no_grad()
def test_audio_only_denoise_skips_video(model: NavaModel, cases: dict[str, torch.Tensor]) -> None:
    p = "g_trajectory_t2av."
    plain = GuidanceScales(audio=2.0, align_3d=False, timbre_cfg=False)
    calls: list[int] = []
    result = denoise(
        model, flow_unipc_schedule(2), plain, noise_video=None, noise_audio=cases[p + "noise_audio"], t_h_w=None,
        context_pos=cases[p + "context_pos"], context_neg=cases[p + "context_neg"], on_step=lambda r: calls.append(r.index),
    )  # fmt: skip
    assert result.video is None and calls == [0, 1]
    assert torch.isfinite(result.audio).all() and not torch.equal(result.audio, cases[p + "noise_audio"])


def test_verify_model_sampler_runners_pass(fixture_dir: Path, model: NavaModel) -> None:
    """The f/g runners that `nava-eval verify-model` uses reproduce the reference within its tolerances."""
    from nava_eval.nava.verify.model import load_cases, read_tolerances
    from nava_eval.nava.verify.sampler import SAMPLER_CASE_RUNNERS

    tol = read_tolerances(fixture_dir / "README.md")
    cases = [c for c in load_cases(fixture_dir) if c.kind in SAMPLER_CASE_RUNNERS]
    assert {c.name for c in cases} == {"f_guided", "g_schedule", "g_trajectory_t2av", "g2_trajectory_i2v"}
    for case in cases:
        comparisons = SAMPLER_CASE_RUNNERS[case.kind](model, case)
        assert len(comparisons) >= 6
        for c in comparisons:
            bound = tol.trajectory if c.trajectory else tol.atol
            torch.testing.assert_close(
                c.actual, c.expected, rtol=bound, atol=bound, msg=f"{case.name}.{c.name}"
            )


class _SmallMemory(torch.nn.Module):
    """Wraps the model and runs out of memory above two rows per forward, like a full GPU would."""

    def __init__(self, inner: NavaModel) -> None:
        super().__init__()
        self.inner = inner
        self.batches: list[int] = []

    def forward(self, video, audio, *args, **kwargs):
        rows = (video if video is not None else audio).shape[0]
        self.batches.append(rows)
        if rows > 2:
            raise torch.OutOfMemoryError("simulated")
        return self.inner(video, audio, *args, **kwargs)


@torch.no_grad()
def test_out_of_memory_splits_the_batch(model: NavaModel, cases: dict[str, torch.Tensor]) -> None:
    p = "f_guided."
    small = _SmallMemory(model)
    args = (cases[p + "latents_video"], cases[p + "latents_audio"], cases[p + "t_h_w"].tolist(), 999)
    split = evaluate_passes(small, *args, _f_passes(cases), max_batch=4)
    assert small.batches == [4, 2, 2]
    for name in "CUMS":
        torch.testing.assert_close(split[name][0], cases[f"{p}{name}_video"], rtol=1e-4, atol=1e-4)
