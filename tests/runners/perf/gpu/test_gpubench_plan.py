"""Plans take their shapes from the presets, never from constants of their own."""

from __future__ import annotations

import dataclasses

from nava_eval.runners import presets as spec
from nava_eval.runners.perf.gpu.flops import video_tokens
from nava_eval.runners.perf.gpu.plan import small_plan, versebench_plan


def test_versebench_plan_is_the_presets_shape() -> None:
    plan = versebench_plan()
    assert plan.model_preset == "nava-6b" and plan.config.dim == 3072
    assert plan.step.latent_grid == (37, 44, 80)
    assert video_tokens(plan.config, plan.step.latent_grid) == 32560
    assert plan.step.audio_tokens == 152
    from nava_eval.nava.audio_vae import audio_tokens_for_frames
    from nava_eval.nava.pipeline import PipelineOptions

    assert audio_tokens_for_frames(145, PipelineOptions().video_fps_for_audio) == 152  # the pipeline's rule
    assert plan.step.passes == ("C", "U", "M")
    assert plan.step.steps == 50 and plan.step.first_frame_clean
    assert plan.step.harness_weights == "fp8" and plan.step.release_decode  # the fp8 script's preset
    assert (plan.items, plan.gpus) == (600, 8)
    assert plan.clips.frames == 125 and (plan.clips.width, plan.clips.height) == (1280, 720)


def test_plan_follows_a_changed_preset(monkeypatch) -> None:
    base = spec.PRESETS["versebench"]
    changed = dataclasses.replace(
        base,
        generation=dataclasses.replace(
            base.generation,
            width=640,
            height=352,
            latent_frames=21,
            steps=30,
            guidance=dataclasses.replace(base.generation.guidance, align_3d=False),
        ),
    )
    monkeypatch.setitem(spec.PRESETS, "versebench", changed)
    step = versebench_plan().step
    assert step.latent_grid == (21, 22, 40)
    assert step.audio_tokens == 85  # ceil((4·20 + 1) / 24 · 25)
    assert step.passes == ("C", "U")  # no 3D CFG: no M pass
    assert step.steps == 30


def test_small_plan_uses_the_smoke_preset_and_tiny_parts() -> None:
    plan = small_plan()
    smoke = spec.get_preset("smoke").generation
    assert plan.step.latent_grid == (smoke.latent_frames, smoke.height // 16, smoke.width // 16)
    assert plan.model_preset == "nava-tiny" and plan.weights == "fp32"
    assert (plan.video_vae, plan.audio_vae, plan.siglip) == ("tiny", "tiny", "tiny")
    assert small_plan("cuda").weights == "bf16"
