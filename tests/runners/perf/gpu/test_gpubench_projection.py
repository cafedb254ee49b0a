"""The projection's arithmetic and what it says when a figure is missing."""

from __future__ import annotations

from nava_eval.runners.perf.gpu.projection import project

FIGURES = {
    "bf16_step_s": 6.0,
    "fp8_dequant_step_s": 6.2,
    "video_decode_s": 30.0,
    "audio_decode_s": 1.0,
    "sync_s_per_clip": 2.0,
    "video_quality_s_per_clip": 3.0,
}


def test_projection_of_a_full_versebench_on_8_gpus() -> None:
    p = project(FIGURES, steps=50, items=600, gpus=8)
    assert p["items_per_gpu"] == 75
    assert p["denoise_s_per_item"] == 300.0
    assert p["generate_s_per_item"] == 331.0
    assert p["score_s_per_item"] == 5.0
    assert p["wall_s"] == 75 * 336.0
    assert p["wall_hours"] == round(75 * 336.0 / 3600, 3)
    assert p["within_target"] is False  # 7 h > 6 h
    assert project({**FIGURES, "bf16_step_s": 4.0}, 50, 600, 8)["within_target"] is True


def test_the_presets_weights_pick_the_step() -> None:
    fp8 = project(FIGURES, steps=50, items=600, gpus=8, weights="fp8")
    assert fp8["step_figure"] == "fp8_dequant_step_s" and fp8["denoise_s_per_item"] == 310.0
    missing = project({k: v for k, v in FIGURES.items() if k != "fp8_dequant_step_s"}, 50, 600, 8, "fp8")
    assert missing["missing_figures"] == ["fp8_dequant_step_s"] and missing["within_target"] is False


def test_uneven_split_and_missing_figures() -> None:
    figures = {k: v for k, v in FIGURES.items() if k != "sync_s_per_clip"}
    p = project(figures, steps=10, items=601, gpus=8)
    assert p["items_per_gpu"] == 76
    assert p["missing_figures"] == ["sync_s_per_clip"]
    assert p["within_target"] is False  # never claimed on incomplete figures
    assert p["score_s_per_item"] == 3.0
