"""The 4-step DMD2 student sampler against a line-by-line transcription of
nava_src/distill/dmd2_engine.py `DMD2DistillEngine.sample` (and its sigma table from `__init__`),
run on the tiny random NavaModel. The official engine itself needs the release's own model classes
and flash-attn, so it is transcribed here rather than imported; the transcription keeps its
arithmetic (float64 shift, float32 table, float timesteps, in-place first-frame paste, Euler)."""

from __future__ import annotations

import math

import pytest
import torch

from nava_eval.nava.components import build_components
from nava_eval.nava.pipeline import NavaPipeline, PipelineOptions, Request
from nava_eval.nava.sampling.student import student_denoise, student_schedule


def _engine_tables(train_sigmas=(1.0, 0.75, 0.5, 0.25), shift=5.0, num_train_timesteps=1000):
    # DMD2DistillEngine.__init__
    sigmas_t = torch.tensor(list(train_sigmas), dtype=torch.float64)
    shifted = shift * sigmas_t / (1.0 + (shift - 1.0) * sigmas_t)
    sigma_table = shifted.float()
    return sigma_table, sigma_table * num_train_timesteps


def _engine_sample(model, xt_v, xt_a, t_h_w, context, first_frame=None, num_steps=4):
    # DMD2DistillEngine.sample: sigmas = table sorted descending; timestep = sigma * 1000 (float);
    # one predict_eps on the positive context, I2V paste in place, x += (sigma_next - sigma) * v.
    sigma_table, _ = _engine_tables()
    sigmas = sigma_table.sort(descending=True).values[:num_steps]
    t, h, w = t_h_w
    for i, sigma in enumerate(sigmas):
        timestep = (sigma * 1000).reshape(1)
        vid = None
        if xt_v is not None:
            vid = xt_v.transpose(0, 1).view(48, t, h, w)  # a view: the paste below edits xt_v
            if first_frame is not None:
                vid[:, :1] = first_frame
        out = model(
            None if vid is None else vid[None],
            None if xt_a is None else xt_a[None],
            timestep,
            [context],
            first_frame_clean=first_frame is not None,
        )
        v_v = None if out.video is None else out.video[0].float().permute(1, 2, 3, 0).flatten(0, 2)
        v_a = None if out.audio is None else out.audio[0].float()
        sigma_next = sigmas[i + 1] if (i + 1) < len(sigmas) else torch.zeros_like(sigma)
        if v_v is not None:
            xt_v = xt_v + (sigma_next - sigma) * v_v
        if v_a is not None:
            xt_a = xt_a + (sigma_next - sigma) * v_a
    return xt_v, xt_a


def test_sigma_table_is_the_engines() -> None:
    schedule = student_schedule()
    sigma_table, timestep_table = _engine_tables()
    assert torch.equal(schedule.sigmas, sigma_table) and torch.equal(schedule.timesteps, timestep_table)
    assert schedule.sigmas.tolist() == pytest.approx([1.0, 0.9375, 0.8333333, 0.625], abs=1e-7)
    assert schedule.timesteps[2].item() == pytest.approx(833.3333, abs=1e-3)  # not truncated to 833
    assert student_schedule(2).num_steps == 2
    with pytest.raises(ValueError, match="1..4 steps"):
        student_schedule(5)


@pytest.fixture(scope="module")
def components():
    return build_components("nava-tiny")


@pytest.mark.parametrize("i2v", [False, True])
def test_student_equals_the_engine_loop(components, i2v: bool) -> None:
    model = components.model
    t_h_w = (2, 3, 4)  # odd height: the patch padding path too
    gen = torch.Generator().manual_seed(7)
    noise_v = torch.randn((math.prod(t_h_w), 48), generator=gen)
    noise_a = torch.randn((9, 128), generator=gen)
    context = torch.randn((11, components.config.text_dim), generator=gen)
    first = torch.randn((48, 1, 3, 4), generator=gen) if i2v else None
    with torch.no_grad():
        ours = student_denoise(
            model, student_schedule(), noise_video=noise_v, noise_audio=noise_a, t_h_w=t_h_w,
            context_pos=context, first_frame=first,
        )  # fmt: skip
        ref_v, ref_a = _engine_sample(model, noise_v.clone(), noise_a.clone(), t_h_w, context, first)
    assert torch.equal(ours.video, ref_v) and torch.equal(ours.audio, ref_a)
    assert not torch.equal(ours.video, noise_v)


def test_pipeline_runs_one_forward_per_step(components) -> None:
    calls = []
    handle = components.model.register_forward_hook(lambda m, a, o: calls.append(a[2].dtype))
    try:
        pipe = NavaPipeline(components, PipelineOptions(image_size=64, sampler="dmd2-student"))
        clip = pipe(Request(id="s", prompt="a drum <S>hi<E>", width=64, height=64, frames=2, steps=4))
    finally:
        handle.remove()
    assert calls == [torch.float32] * 4  # one conditional forward per step, float timesteps
    assert clip.meta["passes"] == ["C"] and clip.meta["sampler"] == "dmd2-student"
    assert clip.video is not None and clip.video.shape == (5, 64, 64, 3)
    with pytest.raises(ValueError, match="sampler must be one of"):
        PipelineOptions(sampler="euler")
