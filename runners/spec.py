"""RunSpec (what a run is asked to do, frozen and hashed) and provenance (where it ran).

The spec hash covers everything that changes the outputs (model, sampler settings, seeds, data
selection), not things that only change speed (GPU count, SP size), so a run resumed on another
world size continues while a run resumed with other sampler settings is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from nava_eval.reports.results import RUN_SCHEMA, Provenance
from nava_eval.reports.schema import SchemaError, from_dict, to_dict
from nava_eval.runners.seeds import SeedPolicy

SampleMode = Literal["t2av", "i2av", "t2a", "tts"]
AV_MODES: tuple[SampleMode, ...] = ("t2av", "i2av")


@dataclass(frozen=True)
class Guidance:
    """Guidance scales (configs/nava.yaml defaults): g_v, g_a, g_va, g_aa, g_t and the two switches.

    Off switches use the plain U + g(C − U) form; timbre CFG acts only on samples with speaker wavs.
    """

    video: float = 3.0
    audio: float = 2.0
    video_align: float = 3.0
    audio_align: float = 2.0
    timbre: float = 3.0
    align_3d: bool = True
    timbre_cfg: bool = True

    def summary(self) -> dict[str, Any]:
        """The scales under the names the issue tracker and the paper use."""
        return {
            "g_v": self.video,
            "g_a": self.audio,
            "g_va": self.video_align,
            "g_aa": self.audio_align,
            "g_t": self.timbre,
            "align_3d_cfg": self.align_3d,
            "timbre_cfg": self.timbre_cfg,
        }


@dataclass(frozen=True)
class GenerationSettings:
    """Sampler and output settings; every field changes the outputs and enters the spec hash.

    dit_file: the DiT checkpoint inside the weights folder (None: NAVA.safetensors, or the fp8 file for
    weight_dtype fp8). audio_timing: "official" keeps the AAC priming in front of the mp4's audio as the
    release does, "exact" aligns audio and video. decode_precision: "release" decodes as the release
    does on CUDA (bf16 autocast for audio; bf16 video-VAE weights computed in fp32), "fp32" does not.
    tts_speaker: "embedded" conditions Seed-TTS on the prompt wav's speaker vector (the intended path);
    "released-fallback" reproduces the released t2a_seedtts.py, whose speaker path fails (no speaker
    vector, reference length 313 tokens). t2a_seconds: T2A length when a sample gives none.
    """

    model: str = "nava-6b"
    steps: int = 50
    seed: int = 100
    seed_policy: SeedPolicy = "per-sample"
    width: int = 1280
    height: int = 704
    latent_frames: int = 37
    fps: int = 24
    weight_dtype: str = "auto"
    guidance: Guidance = field(default_factory=Guidance)
    vae_tiling: bool = True
    image_bucket: int = 960  # I2V output size follows the image's aspect bucket at this resolution
    cfg_batch: int = 4  # guidance passes per DiT forward (1 = the official sequential order)
    dit_file: str | None = None
    audio_timing: str = "official"
    decode_precision: str = "release"
    tts_speaker: str = "embedded"
    t2a_seconds: float = 6.0

    def __post_init__(self) -> None:
        choices = {
            "audio_timing": ("official", "exact"),
            "decode_precision": ("release", "fp32"),
            "tts_speaker": ("embedded", "released-fallback"),
            "seed_policy": ("per-sample", "official-rank"),
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {', '.join(valid)}, got {getattr(self, name)!r}")

    def weight_files(self) -> dict[str, Any]:
        """The weight files and how the DiT loads, as the dry run shows them (nava-tiny has no files)."""
        if self.model == "nava-tiny":
            return {"dit": None, "weight_dtype": "fp32 (tiny seeded random weights, no files)"}
        from nava_eval.nava import release_layout as files

        fp8 = self.weight_dtype in ("fp8", "fp8_e4m3fn")
        dit = self.dit_file or (files.DIT_FP8_FILE if fp8 else files.DIT_FILE)
        return {
            "dit": dit,
            "weight_dtype": self.weight_dtype,
            "video_vae": files.VIDEO_VAE_FILE,
            "text_encoder": files.T5_FILE,
            "tokenizer": list(files.TOKENIZER_FILES),
            "audio_vae": files.AUDIO_VAE_FILE,
            "speaker": files.SPEAKER_MODEL,
        }


@dataclass(frozen=True)
class ImportedFile:
    """One file taken from an imported outputs folder."""

    id: str  # the benchmark item it was matched to
    role: Literal["output", "audio"]  # audio: a separate wav beside the item's mp4
    sha256: str
    size: int
    run_path: str  # where it lives in the run directory (outputs/<set>/<id>.<ext>)


@dataclass(frozen=True)
class ImportSource:
    """Where an imported run's outputs came from: another model's folder, not a NAVA generation."""

    model: str
    source_dir: str  # absolute path of the folder as given
    layout: str  # "mp4" | "mp4+wav" | "wav" (what the matched files were)
    transfer: str  # "hardlink", "copy" or "copy+hardlink": how the files reached outputs/
    files: dict[str, ImportedFile]  # source path relative to source_dir → what was taken
    mapping: str | None = None
    mapping_sha256: str | None = None
    params_b: float | None = None
    imported_at: str | None = None


@dataclass(frozen=True)
class RunSpec:
    """What a run directory holds; written to run.json with the provenance.

    `generation` is None for an imported run (`imported` says where its outputs came from);
    `seeds` lists the run seeds of a multi-seed run (each item generated once per seed).
    """

    name: str
    benchmark: str
    preset: str
    generation: GenerationSettings | None
    metrics: list[str]
    schema: str = RUN_SCHEMA
    data_dir: str | None = None
    sets: list[str] | None = None
    ids: list[str] | None = None
    limit: int | None = None
    smoke: bool = False
    seeds: list[int] | None = None
    imported: ImportSource | None = None
    prompt_source: str | None = None  # versebench: "nava" (None) or "official"

    @property
    def model(self) -> str:
        """The model whose outputs the run holds: NAVA's preset model, or an imported model's name."""
        if self.imported is not None:
            return self.imported.model
        return self.generation.model if self.generation is not None else "unknown"

    def output_hash(self) -> str:
        """Hash of the fields that determine the outputs (not name, metrics or paths).

        A generated run: benchmark, generation settings, the prompt source when not NAVA's, and
        (multi-seed) the seed list. An imported run: benchmark, model name and the sha256 of every
        file taken, so importing another folder into the same run directory is refused.
        """
        payload: dict[str, Any] = {"benchmark": self.benchmark}
        if self.generation is not None:
            payload["generation"] = to_dict(self.generation)
        if self.prompt_source not in (None, "nava"):
            payload["prompt_source"] = self.prompt_source
        if self.seeds is not None:
            payload["seeds"] = list(self.seeds)
        if self.imported is not None:
            payload["imported"] = {
                "model": self.imported.model,
                "files": {k: f.sha256 for k, f in sorted(self.imported.files.items())},
            }
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class RunFile:
    """run.json: the spec, its hash and the provenance of the latest invocation."""

    spec: RunSpec
    spec_hash: str
    provenance: Provenance
    schema: str = RUN_SCHEMA
    history: list[dict[str, Any]] = field(default_factory=list)
    # Every option of the invoking command as resolved (config file, command line, defaults);
    # `nava-eval run --config RUN/run.json` replays it.
    config: dict[str, Any] = field(default_factory=dict)


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
}

#: The preset each benchmark runs when --preset is not given.
DEFAULT_PRESETS = {"versebench": "versebench", "seedtts": "seedtts", "jsonl": "nava"}

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
    key = "jsonl" if benchmark.startswith("jsonl:") else benchmark
    if key not in DEFAULT_PRESETS:
        raise KeyError(
            f"benchmark {benchmark!r} has no default preset; pass --preset ({', '.join(preset_names())})"
        )
    return DEFAULT_PRESETS[key]


def get_preset(name: str, benchmark: str | None = None) -> Preset:
    """Look up a preset; `smoke` is the benchmark's own preset on tiny random weights and tiny sizes."""
    if name == SMOKE_PRESET:
        key = "jsonl" if (benchmark or "").startswith("jsonl:") else benchmark
        base = PRESETS[DEFAULT_PRESETS.get(key or "versebench", "nava")]
        return Preset(
            name=SMOKE_PRESET,
            description="CPU, tiny seeded random weights for every component, miniature data: checks the "
            "whole path with the benchmark's own guidance, seeds and output settings",
            generation=dataclasses.replace(base.generation, **_SMOKE_OVERRIDES),
            reproduces=f"nothing (scores are meaningless); same code path as `{base.name}`",
            modes=("t2av", "i2av", "t2a", "tts"),
            smoke=True,
            data="smoke",
            device="cpu",
        )
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; valid presets: {', '.join(preset_names())}")
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
    raise ValueError(
        f"preset {preset.name!r} is made for {'/'.join(preset.modes)} samples, but {benchmark} has "
        f"{'/'.join(foreign)} samples; {hint}"
    )


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def collect_provenance(world_size: int = 1, dp_size: int = 1, sp_size: int = 1, **extra: Any) -> Provenance:
    """Versions, git state and hardware of this process (imports torch only if already imported)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        nava_version = version("nava-eval")
    except PackageNotFoundError:
        nava_version = "0+unknown"
    sha = _git("rev-parse", "HEAD")
    dirty = None if sha is None else bool(_git("status", "--porcelain", "--untracked-files=no"))
    torch_version = cuda = None
    gpus: list[str] = []
    if "torch" in sys.modules:
        import torch

        torch_version = torch.__version__
        cuda = torch.version.cuda
        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    else:
        try:
            torch_version = version("torch")
        except PackageNotFoundError:
            torch_version = None
    return Provenance(
        nava_eval_version=nava_version,
        git_sha=sha,
        git_dirty=dirty,
        python=platform.python_version(),
        torch=torch_version,
        cuda=cuda,
        gpus=gpus,
        hostname=socket.gethostname(),
        platform=platform.platform(),
        started_at=now_iso(),
        world_size=world_size,
        dp_size=dp_size,
        sp_size=sp_size,
        extra=dict(extra),
    )


def load_run_file(run_dir: str | Path) -> RunFile:
    """Read and validate run.json of a run directory."""
    path = Path(run_dir) / "run.json"
    from nava_eval.reports.safe_json import parse_json

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SchemaError(f"{path}: no such file; is {run_dir} a nava-eval run directory?") from None
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return from_dict(RunFile, parse_json(raw, str(path)), str(path))


def replace_provenance(run_file: RunFile, provenance: Provenance) -> RunFile:
    """Keep earlier invocations' provenance in history, make `provenance` the current one."""
    history = [*run_file.history, to_dict(run_file.provenance)]
    return dataclasses.replace(run_file, provenance=provenance, history=history)
