"""`--dry-run`: the resolved settings of a run and its planned samples as one JSON object.

Reads the benchmark's data files and nothing else: no weights, no torch, no run directory written.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from nava_eval.rundir.run_file import SeedPolicy
from nava_eval.rundir.unit import Unit
from nava_eval.runners.generate import planned_unit_seeds
from nava_eval.runners.presets import weight_files
from nava_eval.runners.run import RunRequest, prepare_run, stream_universe


def planned_seeds(
    samples: list[Any],
    seed: int,
    policy: SeedPolicy,
    dp_size: int,
    universe: list[Any] | None = None,
    run_seeds: list[int | None] | None = None,
    gen_turn: int = 1,
) -> dict[Unit, dict[str, Any]]:
    """unit → how its noise is seeded, from the function generation itself plans with."""
    out: dict[Unit, dict[str, Any]] = {}
    run_seeds = run_seeds or [None]
    planned = planned_unit_seeds(samples, dp_size, seed, policy, universe, run_seeds, gen_turn)
    turn = {r: t for t, r in enumerate(run_seeds)} if gen_turn > 1 else {}
    for unit, (unit_seed, info) in planned.items():
        entry: dict[str, Any] = {"seed": unit_seed}
        if info.get("policy") == "official-rank":
            # group g's streams are seeded base + g; --gen-turn passes all continue the streams of `seed`
            base = seed if unit.seed is None or gen_turn > 1 else unit.seed
            entry.update(dp_group=info["stream_seed"] - base, stream_position=info["stream_position"])
        if unit.seed in turn:
            entry["gen_turn"] = turn[unit.seed]
        out[unit] = entry
    return out


def dry_run_plan(request: RunRequest) -> dict[str, Any]:
    """Everything `run`/`generate` would do with `request`, resolved, as a JSON-ready dict."""
    scratch = Path(tempfile.mkdtemp(prefix="nava-eval-dry-run-"))
    try:
        prepared = prepare_run(request, write=False, smoke_data_root=scratch, rewrite_mode="plan")
        universe = stream_universe(prepared)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    gen = prepared.spec.generation
    preset = prepared.preset
    dp_size = max(1, request.nproc // max(1, request.sp))
    run_seeds = prepared.spec.seeds or [None]
    planned = planned_seeds(
        prepared.samples, gen.seed, gen.seed_policy, dp_size, universe, run_seeds, gen.gen_turn
    )
    modes = sorted({s.mode for s in prepared.samples})
    weights = weight_files(gen)
    if weights["dit"] is not None:
        weights["folder"] = str(request.weights_dir or "Hugging Face cache (ernie-research/NAVA)")
    return {
        "benchmark": prepared.spec.benchmark,
        "preset": preset.name,
        "reproduces": preset.reproduces,
        "mode": modes[0] if len(modes) == 1 else modes,
        "model": gen.model,
        "guidance": gen.guidance.summary(),
        "steps": gen.steps,
        "width": gen.width,
        "height": gen.height,
        "latent_frames": gen.latent_frames,
        "shape": _run_shape(gen, modes),
        "fps": gen.fps,
        "vae_tiling": gen.vae_tiling,
        "cfg_batch": gen.cfg_batch,
        # Memory switches: where weights live, never what is computed (not in the spec hash).
        "memory": {"t5_offload": request.t5_offload, "group_offload": request.group_offload},
        "weights": weights,
        "audio_timing": gen.audio_timing,
        "decode_precision": gen.decode_precision,
        "tts_speaker": gen.tts_speaker if "tts" in modes else None,
        "t2a_seconds": gen.t2a_seconds if "t2a" in modes else None,
        "prompt_source": request.prompt_source
        or ("nava" if prepared.spec.benchmark == "versebench" else None),
        "rewrite": _rewrite_plan(prepared),
        "seed": gen.seed,
        "seeds": prepared.spec.seeds,  # a multi-seed run's run seeds (each sample once per seed)
        "seed_policy": gen.seed_policy,
        # the release's --gen_turn: passes over the data, pass t = run seed seed + t
        "gen_turn": gen.gen_turn,
        "layout": {"nproc": request.nproc, "sp": request.sp, "dp_groups": dp_size},
        "run_dir": str(prepared.run_dir.root),
        "data_dir": (
            f"smoke data, written into {prepared.run_dir.root}/smoke-data at run time"
            if preset.smoke and request.data_dir is None
            else prepared.spec.data_dir
        ),
        "spec_hash": prepared.spec.output_hash(),
        "n_samples": len(prepared.samples) * len(run_seeds),
        "samples": [
            {
                "id": s.id,
                "set": s.set,
                "mode": s.mode,
                **({"run_seed": r} if r is not None else {}),
                **planned[Unit(s.id, r)],
                **_sample_shape(s, gen),
                **_sample_rewrite(s, prepared.spec.rewrite),
            }
            for r in run_seeds
            for s in prepared.samples
        ],
    }


def _run_shape(gen: Any, modes: list[str]) -> dict[str, Any] | None:
    """The run's T2AV shape: pixels, latent grid, pixel frames, tokens (None for audio-only runs)."""
    from nava_eval.nava.shapes import ClipShape

    if not {"t2av", "i2av"} & set(modes):
        return None
    shape = ClipShape(gen.width, gen.height, gen.latent_frames).describe(gen.fps)
    if "i2av" in modes:
        shape["i2av"] = (
            f"I2AV samples take the image's aspect bucket at {gen.image_bucket} instead of width×height"
        )
    return shape


def _sample_shape(sample: Any, gen: Any) -> dict[str, Any]:
    """What one sample generates: WxH and frames (its own jsonl shape wins), or the T2A seconds."""
    if sample.mode == "t2a":
        return {"seconds": sample.meta.get("duration", gen.t2a_seconds)}
    if sample.mode == "tts":
        return {}
    frames = sample.meta.get("frames", gen.latent_frames)
    if sample.mode == "i2av":
        return {"size": f"image bucket at {gen.image_bucket}", "latent_frames": frames}
    width, height = sample.meta.get("width", gen.width), sample.meta.get("height", gen.height)
    return {"size": f"{width}x{height}", "latent_frames": frames}


def _rewrite_plan(prepared: Any) -> dict[str, Any] | None:
    """--rewrite: the rewriter's settings and how many prompts the cache already holds."""
    spec = prepared.spec.rewrite
    if spec is None:
        return None
    from nava_eval.rundir.schema import to_dict

    cached = sum(1 for s in prepared.samples if "rewrite_key" in s.meta)
    return {**to_dict(spec), "cached": cached, "to_rewrite": len(prepared.samples) - cached}


def _sample_rewrite(sample: Any, spec: Any) -> dict[str, Any]:
    """The prompt a sample generates from: its cached rewrite (with key), or not rewritten yet."""
    if spec is None:
        return {}
    key = sample.meta.get("rewrite_key")
    if key is None:
        return {"rewrite": {"cache_key": spec.cache_key(sample.prompt), "cached": False}}
    return {
        "rewrite": {"cache_key": key, "cached": True},
        "original_prompt": sample.meta["original_prompt"],
        "prompt": sample.prompt,
    }
