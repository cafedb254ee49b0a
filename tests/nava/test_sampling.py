"""Schedule, UniPC solver and guidance formulas against the official reference vectors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nava_eval.nava.sampling import (
    FlowUniPCSolver,
    GuidanceScales,
    combine_audio,
    combine_video,
    flow_unipc_schedule,
    required_passes,
)

FIXTURE_SCALES = GuidanceScales(video=3.0, audio=2.0, video_align=3.0, audio_align=2.0, timbre=3.0)


@pytest.fixture(scope="module")
def cases(shared_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(shared_dir / "fixtures" / "nava_tiny" / "cases.safetensors"))


@pytest.mark.parametrize("steps", [50, 25, 4])
def test_schedule_matches_official(cases: dict[str, torch.Tensor], steps: int) -> None:
    schedule = flow_unipc_schedule(steps)
    assert torch.equal(schedule.timesteps, cases[f"g_schedule.timesteps_{steps}"])
    assert torch.equal(schedule.sigmas, cases[f"g_schedule.sigmas_{steps}"])


def test_schedule_50_steps_starts_999_995_991() -> None:
    schedule = flow_unipc_schedule(50)
    assert schedule.timesteps[:4].tolist() == [999, 995, 991, 987]
    assert schedule.timesteps.dtype == torch.int64
    assert schedule.sigmas[-1].item() == 0.0
    assert abs(schedule.sigmas[0].item() - 0.99996) < 1e-5


def test_schedule_rejects_bad_steps() -> None:
    with pytest.raises(ValueError, match="num_steps"):
        flow_unipc_schedule(0)


@pytest.mark.parametrize("case", ["g_trajectory_t2av", "g2_trajectory_i2v"])
def test_solver_replays_trajectory(cases: dict[str, torch.Tensor], case: str) -> None:
    """Feeding the stored guided velocities must reproduce every stored latent (solver-only check)."""
    timesteps = cases[f"{case}.timesteps"]
    schedule = flow_unipc_schedule(timesteps.numel())
    assert torch.equal(schedule.timesteps, timesteps)
    video_solver, audio_solver = FlowUniPCSolver(schedule), FlowUniPCSolver(schedule)
    video, audio = cases[f"{case}.noise_video"].clone(), cases[f"{case}.noise_audio"].clone()
    for i in range(timesteps.numel()):
        if f"{case}.step{i}_input_video" in cases:  # I2V: the solver steps the first-frame-pasted state
            video = cases[f"{case}.step{i}_input_video"]
        video = video_solver.step(cases[f"{case}.step{i}_guided_video"], video)
        audio = audio_solver.step(cases[f"{case}.step{i}_guided_audio"], audio)
        torch.testing.assert_close(video, cases[f"{case}.step{i}_latent_video"], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(audio, cases[f"{case}.step{i}_latent_audio"], rtol=1e-5, atol=1e-5)


def test_solver_refuses_extra_step() -> None:
    solver = FlowUniPCSolver(flow_unipc_schedule(1))
    x = torch.ones(3)
    out = solver.step(torch.full((3,), 0.5), x)
    # One step to σ = 0 is the x0 prediction x − σ0·v.
    torch.testing.assert_close(out, x - solver.sigmas[0] * 0.5)
    with pytest.raises(RuntimeError, match="all 1 steps"):
        solver.step(torch.zeros(3), out)


def test_solver_recovers_constant_velocity_field() -> None:
    """For x_σ = (1 − σ)x0 + σ·n the exact velocity is n − x0; every x0 estimate is then exact."""
    torch.manual_seed(0)
    x0, noise = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    schedule = flow_unipc_schedule(10)
    sigma0 = float(schedule.sigmas[0])
    solver, x = FlowUniPCSolver(schedule), (1 - sigma0) * x0 + sigma0 * noise
    for k in range(10):
        x = solver.step(noise - x0, x)
        sigma = float(schedule.sigmas[k + 1])
        torch.testing.assert_close(x, (1 - sigma) * x0 + sigma * noise, rtol=1e-9, atol=1e-9)


def test_guided_combination_matches_official(cases: dict[str, torch.Tensor]) -> None:
    video = {k: cases[f"f_guided.{k}_video"] for k in "CUMS"}
    audio = {k: cases[f"f_guided.{k}_audio"] for k in "CUMS"}
    torch.testing.assert_close(combine_video(FIXTURE_SCALES, video), cases["f_guided.guided_video"])
    torch.testing.assert_close(combine_audio(FIXTURE_SCALES, audio, True), cases["f_guided.guided_audio"])


def _preds() -> dict[str, torch.Tensor]:
    return {
        "C": torch.tensor([4.0]),
        "U": torch.tensor([1.0]),
        "M": torch.tensor([2.0]),
        "S": torch.tensor([3.5]),
    }


def test_plain_formula_starts_from_uncond() -> None:
    scales = GuidanceScales(video=5.0, audio=4.0, align_3d=False, timbre_cfg=False)
    assert combine_video(scales, _preds()).item() == 1.0 + 5.0 * 3.0
    assert combine_audio(scales, _preds(), has_speaker=True).item() == 1.0 + 4.0 * 3.0


def test_timbre_only_and_3d_only_audio() -> None:
    timbre_only = GuidanceScales(audio=2.0, timbre=3.0, align_3d=False)
    assert combine_audio(timbre_only, _preds(), has_speaker=True).item() == 4.0 + 2.0 * 3.0 + 3.0 * 0.5
    # Without speaker wavs the timbre term and the S pass disappear: plain U + g(C − U).
    assert combine_audio(timbre_only, _preds(), has_speaker=False).item() == 1.0 + 2.0 * 3.0
    three_d = GuidanceScales(audio=2.0, audio_align=1.5, timbre_cfg=False)
    assert combine_audio(three_d, _preds(), has_speaker=True).item() == 4.0 + 2.0 * 3.0 + 1.5 * 2.0


def test_scale_one_is_valid_and_skips_uncond() -> None:
    """The official code asserts on g = 1; here plain CFG at g = 1 is just C and U is never run."""
    scales = GuidanceScales(video=1.0, audio=1.0, align_3d=False, timbre_cfg=False)
    assert required_passes(scales, has_video=True, has_speaker=False) == ("C",)
    only_c = {"C": torch.tensor([4.0])}
    assert combine_video(scales, only_c).item() == 4.0
    assert combine_audio(scales, only_c, has_speaker=False).item() == 4.0
    # In 3D mode g = 1 is an ordinary weight: C + 1·(C − U) + ...
    three_d = GuidanceScales(video=1.0, video_align=1.0, audio=1.0, audio_align=1.0, timbre_cfg=False)
    assert required_passes(three_d, has_video=True, has_speaker=False) == ("C", "U", "M")
    assert combine_video(three_d, _preds()).item() == 4.0 + 3.0 + 2.0


def test_required_passes_by_mode() -> None:
    assert required_passes(FIXTURE_SCALES, has_video=True, has_speaker=True) == ("C", "U", "M", "S")
    assert required_passes(FIXTURE_SCALES, has_video=True, has_speaker=False) == ("C", "U", "M")
    zero_align = GuidanceScales(video_align=0.0, audio_align=0.0, timbre=0.0)
    assert required_passes(zero_align, has_video=True, has_speaker=True) == ("C", "U")


def test_negative_scale_rejected() -> None:
    with pytest.raises(ValueError, match="video_align"):
        GuidanceScales(video_align=-1.0)
