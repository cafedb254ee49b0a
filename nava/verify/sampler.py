"""verify-model case runners for the sampler kinds of a reference folder.

"f": one guided step (the C/U/M/S passes, run as one batched forward, and the 3D-CFG combination);
"g": the flow UniPC schedule (`g_schedule`) or a full guided sampling trajectory (`g_trajectory_*`,
`g2_trajectory_i2v`). Registered in `runners.verify_model.CASE_RUNNERS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from nava_eval.nava.modeling import NavaModel
from nava_eval.nava.sampling import (
    GuidanceScales,
    StepRecord,
    build_passes,
    combine_audio,
    combine_video,
    denoise,
    evaluate_passes,
    flow_unipc_schedule,
)

if TYPE_CHECKING:
    from nava_eval.nava.verify.model import Case, Comparison

PASS_NAMES = ("C", "U", "M", "S")
# cases.json names the scales as the paper does; each maps to a GuidanceScales field.
_GUIDANCE_KEYS = {
    "g_v": "video",
    "g_a": "audio",
    "g_va": "video_align",
    "g_aa": "audio_align",
    "g_t": "timbre",
}
_SWITCH_KEYS = {"align_3d_cfg": "align_3d", "align_3d": "align_3d", "timbre_cfg": "timbre_cfg"}


def case_guidance(case: Case) -> GuidanceScales:
    """The guidance a case was computed with, from its `guidance` entry in cases.json.

    Every scale must be given (g_v, g_a, g_va, g_aa, g_t); optional switches (align_3d_cfg,
    timbre_cfg) default to on, as the reference loop runs.
    """
    given = case.meta.get("guidance")
    if not isinstance(given, dict):
        raise KeyError(
            f"case {case.name} has no 'guidance' object in cases.json (needs {', '.join(_GUIDANCE_KEYS)})"
        )
    unknown = sorted(set(given) - set(_GUIDANCE_KEYS) - set(_SWITCH_KEYS))
    missing = [k for k in _GUIDANCE_KEYS if k not in given]
    if unknown or missing:
        raise KeyError(
            f"case {case.name}: cases.json guidance {'lacks ' + ', '.join(missing) if missing else ''}"
            f"{'; unknown keys ' + ', '.join(unknown) if unknown else ''}"
        )
    values: dict[str, float | bool] = {field: float(given[key]) for key, field in _GUIDANCE_KEYS.items()}
    values.update({field: bool(given[key]) for key, field in _SWITCH_KEYS.items() if key in given})
    return GuidanceScales(**values)


def _speaker_positions(case: Case) -> torch.Tensor | None:
    pos = case.get("spk_pos")
    return None if pos is None else pos.reshape(-1)


def run_guided_step(model: NavaModel, case: Case) -> list[Comparison]:
    """Kind "f": all four passes in one batched forward, then the official combination."""
    from nava_eval.nava.verify.model import Comparison  # late: verify_model imports this module

    passes = build_passes(
        PASS_NAMES,
        case.require("context_pos"),
        case.require("context_neg"),
        case.get("spk_embed"),
        _speaker_positions(case),
    )
    with torch.no_grad():
        preds = evaluate_passes(
            model,
            case.require("latents_video"),
            case.require("latents_audio"),
            case.require("t_h_w").tolist(),
            int(case.require("timestep").reshape(-1)[0]),
            passes,
            max_batch=len(passes),
        )
    comparisons: list[Comparison] = []
    for name in PASS_NAMES:
        comparisons.append(Comparison(f"{name}_video", preds[name][0], case.require(f"{name}_video")))
        comparisons.append(Comparison(f"{name}_audio", preds[name][1], case.require(f"{name}_audio")))
    guidance = case_guidance(case)
    video = combine_video(guidance, {k: v[0] for k, v in preds.items()})
    audio = combine_audio(guidance, {k: v[1] for k, v in preds.items()}, has_speaker=True)
    comparisons.append(Comparison("guided_video", video, case.require("guided_video")))
    comparisons.append(Comparison("guided_audio", audio, case.require("guided_audio")))
    return comparisons


def _schedule_case(case: Case) -> list[Comparison]:
    from nava_eval.nava.verify.model import Comparison  # late: verify_model imports this module

    comparisons: list[Comparison] = []
    for name in sorted(case.fields):
        if not name.startswith("timesteps_"):
            continue
        steps = int(name.removeprefix("timesteps_"))
        schedule = flow_unipc_schedule(steps)
        # Integer timesteps must match exactly; compared as float so a mismatch shows as a difference.
        comparisons.append(Comparison(name, schedule.timesteps.double(), case.require(name).double()))
        comparisons.append(Comparison(f"sigmas_{steps}", schedule.sigmas, case.require(f"sigmas_{steps}")))
    if not comparisons:
        raise KeyError(f"case {case.name} has neither timesteps_<n> nor noise_video fields")
    return comparisons


def _trajectory_case(model: NavaModel, case: Case) -> list[Comparison]:
    from nava_eval.nava.verify.model import Comparison  # late: verify_model imports this module

    timesteps = case.require("timesteps")
    schedule = flow_unipc_schedule(timesteps.numel())
    records: list[StepRecord] = []
    with torch.no_grad():
        denoise(
            model,
            schedule,
            case_guidance(case),
            noise_video=case.require("noise_video"),
            noise_audio=case.require("noise_audio"),
            t_h_w=case.require("t_h_w").tolist(),
            context_pos=case.require("context_pos"),
            context_neg=case.require("context_neg"),
            spk_embed=case.get("spk_embed"),
            spk_pos=_speaker_positions(case),
            first_frame=case.get("first_frame"),
            max_batch=4,
            on_step=records.append,
        )
    comparisons = [Comparison("timesteps", schedule.timesteps.double(), timesteps.double())]
    for r in records:
        prefix = f"step{r.index}_"
        produced = {
            "input_video": r.input_video,
            "guided_video": r.guided_video,
            "guided_audio": r.guided_audio,
            "latent_video": r.latent_video,
            "latent_audio": r.latent_audio,
        }
        for field, actual in produced.items():
            expected = case.get(prefix + field)
            if expected is not None:
                comparisons.append(Comparison(prefix + field, actual, expected, trajectory=True))
    return comparisons


def run_sampling_case(model: NavaModel, case: Case) -> list[Comparison]:
    """Kind "g": schedule-only cases carry `timesteps_<n>`; trajectories carry `noise_video`."""
    if case.get("noise_video") is not None or case.get("noise_audio") is not None:
        return _trajectory_case(model, case)
    return _schedule_case(case)


SAMPLER_CASE_RUNNERS = {"f": run_guided_step, "g": run_sampling_case}
