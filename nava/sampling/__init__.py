"""Flow-matching UniPC sampling with 3D cross-modal classifier-free guidance."""

from nava_eval.nava.sampling.denoise import (
    DenoiseResult,
    GuidancePass,
    StepRecord,
    build_passes,
    denoise,
    evaluate_passes,
    video_to_channel_first,
    video_to_token_major,
)
from nava_eval.nava.sampling.guidance import (
    COND,
    MASKED,
    NO_SPEAKER,
    UNCOND,
    GuidanceScales,
    combine_audio,
    combine_video,
    required_passes,
    timbre_active,
)
from nava_eval.nava.sampling.schedule import FlowSchedule, flow_unipc_schedule
from nava_eval.nava.sampling.unipc import FlowUniPCSolver

__all__ = [
    "DenoiseResult",
    "GuidancePass",
    "StepRecord",
    "build_passes",
    "denoise",
    "evaluate_passes",
    "video_to_channel_first",
    "video_to_token_major",
    "COND",
    "MASKED",
    "NO_SPEAKER",
    "UNCOND",
    "FlowSchedule",
    "FlowUniPCSolver",
    "GuidanceScales",
    "combine_audio",
    "combine_video",
    "flow_unipc_schedule",
    "required_passes",
    "timbre_active",
]
