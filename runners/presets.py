"""Run presets: named bundles of generation settings for `nava-eval run --preset`, and what each reproduces.

A run preset is not the model architecture (`nava.config` holds those, e.g. nava-6b and nava-tiny):
it picks one architecture plus sampler, guidance and output settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nava_eval.errors import InvalidValue, UnknownName
from nava_eval.rundir.run_file import AV_MODES, GenerationSettings, Guidance


@dataclass(frozen=True)
class Preset:
    """A named bundle of defaults for `nava-eval run --preset`, and what it reproduces."""

    name: str
    description: str
    generation: GenerationSettings
    reproduces: str = ""  # the official script/config whose outputs the preset reproduces
    modes: tuple[str, ...] = AV_MODES  # the sample modes it is made for; others are refused
    smoke: bool = False
    data: str | None = None  # "smoke" → the miniature data set the project writes itself
    device: str | None = None


_SEEDTTS_GUIDANCE = Guidance(audio=2.0, audio_align=2.0, align_3d=False, timbre=1.0, timbre_cfg=True)

PRESETS: dict[str, Preset] = {
    "versebench": Preset(
        name="versebench",
        description="NAVA's VerseBench run: fp8 checkpoint, 1280×704, 37 latent frames, 50 UniPC steps, "
        "3D CFG (g_v 3, g_a 2, g_va 3, g_aa 2), VAE tiling 22×40/14×26",
        generation=GenerationSettings(weight_dtype="fp8_e4m3fn", dit_file="NAVA_fp8.safetensors"),
        reproduces="scripts/inference_fp8_verse_bench.sh with configs/nava.yaml (NAVA_fp8.safetensors, "
        "--weight_dtype fp8_e4m3fn --vae_tiling)",
    ),
    "versebench-bf16": Preset(
        name="versebench-bf16",
        description="As `versebench` with the full-precision NAVA.safetensors (bf16 compute)",
        generation=GenerationSettings(weight_dtype="bf16", dit_file="NAVA.safetensors"),
        reproduces="scripts/inference_fp8_verse_bench.sh with CKPT=NAVA.safetensors --weight_dtype bf16 "
        "(no official run published)",
    ),
    "nava": Preset(
        name="nava",
        description="NAVA's general T2AV/I2AV script: bf16 checkpoint, configs/nava.yaml guidance, no VAE tiling",
        generation=GenerationSettings(weight_dtype="bf16", dit_file="NAVA.safetensors", vae_tiling=False),
        reproduces="scripts/inference.sh (configs/nava.yaml)",
    ),
    "seedtts": Preset(
        name="seedtts",
        description="NAVA's Seed-TTS run: audio-only, 50 steps, g_a 2, no 3D CFG, timbre CFG g_t 1.0, "
        "speaker vector from the prompt wav (the intended path)",
        generation=GenerationSettings(
            weight_dtype="bf16", dit_file="NAVA.safetensors", guidance=_SEEDTTS_GUIDANCE
        ),
        reproduces="scripts/inference_seedtts.sh with configs/nava_seedtts.yaml (--timbre_cfg without a "
        "scale → g_t 1.0), speaker path as intended",
        modes=("tts",),
    ),
    "seedtts-released": Preset(
        name="seedtts-released",
        description="As `seedtts`, but exactly the released code path: no speaker vector (plain CFG), "
        "reference length 313 tokens",
        generation=GenerationSettings(
            weight_dtype="bf16",
            dit_file="NAVA.safetensors",
            guidance=_SEEDTTS_GUIDANCE,
            tts_speaker="released-fallback",
        ),
        reproduces="scripts/inference_seedtts.sh as released: t2a_seedtts.py's speaker extraction fails "
        "(`.shape` of a list), so every utterance runs without a speaker vector",
        modes=("tts",),
    ),
    "student": Preset(
        name="student",
        description="The 4-step DMD2 student (guidance distilled in): one conditional forward per step on the "
        "sigma table 1, .9375, .8333, .625 (train sigmas shifted by 5), Euler; bf16; needs your distilled "
        "DiT via --dit-file (no distilled checkpoint is published)",
        generation=GenerationSettings(
            weight_dtype="bf16", dit_file=None, steps=4, sampler="dmd2-student", vae_tiling=False
        ),
        reproduces="nava_src/distill/dmd2_engine.py DMD2DistillEngine.sample (num_inference_steps 4); no "
        "official student run or checkpoint is published",
    ),
    "t2a": Preset(
        name="t2a",
        description="NAVA's text-to-audio script: audio only, 6 s (a line's duration wins), 50 steps, g_a 2, "
        "no 3D CFG, timbre CFG g_t 3.0; speaker wavs embedded (the intended path)",
        generation=GenerationSettings(
            weight_dtype="bf16",
            dit_file="NAVA.safetensors",
            guidance=Guidance(audio=2.0, audio_align=2.0, align_3d=False, timbre=3.0, timbre_cfg=True),
            t2a_seconds=6.0,
        ),
        reproduces="scripts/inference_t2a.sh with configs/nava_seedtts.yaml (DURATION 6.0, --timbre_cfg "
        "--timbre_align_guidance_scale 3.0); the default for a jsonl: file of T2A lines",
        modes=("t2a",),
    ),
}

#: The preset each benchmark runs when --preset is not given (jsonl-t2a: a jsonl: file of T2A lines).
DEFAULT_PRESETS = {"versebench": "versebench", "seedtts": "seedtts", "jsonl": "nava", "jsonl-t2a": "t2a"}


def _benchmark_key(benchmark: str | None) -> str | None:
    """The DEFAULT_PRESETS key of a benchmark: a jsonl: file is "jsonl", or "jsonl-t2a" for T2A lines."""
    if not (benchmark or "").startswith("jsonl:"):
        return benchmark
    from nava_eval.benchmarks.base import get_benchmark

    try:
        kind = get_benchmark(benchmark).output_kind
    except (OSError, ValueError):
        kind = "mp4"  # an unreadable file is reported by the loader, naming it
    return "jsonl-t2a" if kind == "wav" else "jsonl"


SMOKE_PRESET = "smoke"
# Tiny geometry of the smoke preset; everything else follows the benchmark's own preset.
_SMOKE_OVERRIDES: dict[str, Any] = {
    "model": "nava-tiny",
    "steps": 2,
    "width": 64,
    "height": 64,
    "latent_frames": 4,
    "fps": 8,
    "vae_tiling": False,
    "image_bucket": 256,
    "weight_dtype": "auto",
    "dit_file": None,
}


def preset_names() -> list[str]:
    return sorted([*PRESETS, SMOKE_PRESET])


def default_preset(benchmark: str) -> str:
    """The preset a benchmark runs by default (its own protocol)."""
    key = _benchmark_key(benchmark)
    if key not in DEFAULT_PRESETS:
        raise UnknownName(
            f"benchmark {benchmark!r} has no default preset; pass --preset ({', '.join(preset_names())})"
        )
    return DEFAULT_PRESETS[key]


def get_preset(name: str, benchmark: str | None = None) -> Preset:
    """Look up a preset; `smoke` is the benchmark's own preset on tiny random weights and tiny sizes."""
    if name == SMOKE_PRESET:
        key = _benchmark_key(benchmark)
        base = PRESETS[DEFAULT_PRESETS.get(key or "versebench", "nava")]
        return Preset(
            name=SMOKE_PRESET,
            description="CPU, tiny seeded random weights for every component, miniature data: checks the "
            "whole path with the benchmark's own guidance and seeds, at tiny output settings (64×64, 4 latent "
            "frames, 8 fps, 2 steps)",
            generation=dataclasses.replace(base.generation, **_SMOKE_OVERRIDES),
            reproduces=f"nothing (scores are meaningless); same code path as `{base.name}`",
            modes=("t2av", "i2av", "t2a", "tts"),
            smoke=True,
            data="smoke",
            device="cpu",
        )
    if name not in PRESETS:
        raise UnknownName(f"unknown preset {name!r}; valid presets: {', '.join(preset_names())}")
    return PRESETS[name]


def check_preset_fits(preset: Preset, benchmark: str, modes: set[str]) -> None:
    """A preset made for other sample modes than the benchmark's is an error naming the right preset."""
    foreign = sorted(modes - set(preset.modes))
    if not foreign:
        return
    try:
        hint = f"use --preset {default_preset(benchmark)}"
    except KeyError:
        hint = "choose a preset made for them (nava-eval ls presets)"
    if "tts" in modes:
        hint += " (or seedtts-released)"
    raise InvalidValue(
        f"preset {preset.name!r} is made for {'/'.join(preset.modes)} samples, but {benchmark} has "
        f"{'/'.join(foreign)} samples; {hint}"
    )


def weight_files(gen: GenerationSettings) -> dict[str, Any]:
    """The weight files and how the DiT loads, as the dry run shows them (nava-tiny has no files)."""
    if gen.model == "nava-tiny":
        return {"dit": None, "weight_dtype": "fp32 (tiny seeded random weights, no files)"}
    from nava_eval.nava import release_layout as files

    fp8 = gen.weight_dtype in ("fp8", "fp8_e4m3fn")
    dit = gen.dit_file or (files.DIT_FP8_FILE if fp8 else files.DIT_FILE)
    if gen.sampler == "dmd2-student" and gen.dit_file is None:
        dit = "your distilled student DiT (--dit-file; none is published)"
    return {
        "dit": dit,
        "weight_dtype": gen.weight_dtype,
        "video_vae": files.VIDEO_VAE_FILE,
        "text_encoder": files.T5_FILE,
        "tokenizer": list(files.TOKENIZER_FILES),
        "audio_vae": files.AUDIO_VAE_FILE,
        "speaker": files.SPEAKER_MODEL,
    }
