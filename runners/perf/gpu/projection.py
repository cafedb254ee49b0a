"""Section `projection`: the wall time of a full benchmark on data-parallel GPUs, from this run's figures.

Per item: steps × the batched step of the preset's weights (the `versebench` preset runs the fp8
checkpoint, dequantised: the fp8 section's "dequant" row; bf16 presets the step section's) + the
video and audio decodes at the release's precision, then scoring: Sync-C/D and video quality per clip on the batched path. Items are
split evenly over the GPUs (each holds every model; no sequence parallel), so the wall time is
ceil(items / GPUs) items in a row. Not measured, hence not included and listed: text encoding
(umt5-xxl), the I2V image encode, WER/ASR, file writing, model loading.
"""

from __future__ import annotations

import math
from typing import Any

from nava_eval.runners.perf.gpu.budget import Deadline
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.report import SectionResult

TARGET_HOURS = 6.0  # the goal: a full VerseBench, generated and scored, in 6 hours on 8 GPUs
STEP_FIGURES = {"fp8": "fp8_dequant_step_s", "bf16": "bf16_step_s"}
DECODE = ("video_decode_s", "audio_decode_s")
SCORE = ("sync_s_per_clip", "video_quality_s_per_clip")
NOT_MEASURED = (
    "text encoding (umt5-xxl)",
    "I2V first-frame VAE encode",
    "WER (Whisper) scoring",
    "mp4 writing",
    "model loading",
)


def project(
    figures: dict[str, float], steps: int, items: int, gpus: int, weights: str = "bf16"
) -> dict[str, Any]:
    """The projection from named figures; a missing figure is listed and counted as 0.

    weights: the preset's DiT weights ("fp8" or "bf16"), which pick the step figure.
    """
    step = STEP_FIGURES[weights]
    missing = [name for name in (step, *DECODE, *SCORE) if name not in figures]
    get = lambda name: figures.get(name, 0.0)  # noqa: E731
    denoise = steps * get(step)
    generate = denoise + sum(get(name) for name in DECODE)
    score = sum(get(name) for name in SCORE)
    per_gpu = math.ceil(items / gpus)
    wall = per_gpu * (generate + score)
    return {
        "items": items,
        "gpus": gpus,
        "items_per_gpu": per_gpu,
        "steps": steps,
        "step_figure": step,
        "denoise_s_per_item": round(denoise, 2),
        "generate_s_per_item": round(generate, 2),
        "score_s_per_item": round(score, 2),
        "wall_s": round(wall, 1),
        "wall_hours": round(wall / 3600, 3),
        "target_hours": TARGET_HOURS,
        "within_target": wall / 3600 <= TARGET_HOURS and not missing,
        "missing_figures": missing,
        "not_measured": list(NOT_MEASURED),
    }


def run(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> dict[str, Any]:
    plan = ctx.plan
    result = project(ctx.figures, plan.step.steps, plan.items, plan.gpus, plan.step.harness_weights)
    section.checks["wall_hours"] = result["wall_hours"]
    if result["missing_figures"]:
        section.notes.append(
            f"incomplete: {', '.join(result['missing_figures'])} not measured in this run (counted as 0)"
        )
    return result
