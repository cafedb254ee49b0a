"""run.json: RunSpec (what a run is asked to do, frozen and hashed) and the provenance of each invocation.

The spec hash covers everything that changes the outputs (model, sampler settings, seeds, data
selection), not things that only change speed (GPU count, SP size), so a run resumed on another
world size continues while a run resumed with other sampler settings is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nava_eval.errors import InvalidValue
from nava_eval.rundir.records import RUN_SCHEMA, Provenance
from nava_eval.rundir.rewrites import RewriteSpec, RewrittenPrompt
from nava_eval.rundir.schema import SchemaError, from_dict, to_dict

SampleMode = Literal["t2av", "i2av", "t2a", "tts"]
AV_MODES: tuple[SampleMode, ...] = ("t2av", "i2av")
SeedPolicy = Literal["per-sample", "official-rank"]


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
    sampler: str = "unipc"  # "unipc" (the release's) | "dmd2-student" (the distilled 4-step student)
    # VerseBench: "error" refuses an item without its first-frame image; "t2av" generates it without one,
    # as the release silently does.
    missing_image: str = "error"
    # The release's --gen_turn N: N passes over the data. Pass t is the run seed seed + t (the run's
    # `seeds`), so every generation keeps the one key Unit(item, seed); under official-rank a pass's
    # noise continues the stream the earlier passes drew from, as the release's loop does.
    gen_turn: int = 1

    def __post_init__(self) -> None:
        choices = {
            "sampler": ("unipc", "dmd2-student"),
            "missing_image": ("error", "t2av"),
            "audio_timing": ("official", "exact"),
            "decode_precision": ("release", "fp32"),
            "tts_speaker": ("embedded", "released-fallback"),
            "seed_policy": ("per-sample", "official-rank"),
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise InvalidValue(f"{name} must be one of {', '.join(valid)}, got {getattr(self, name)!r}")
        if isinstance(self.gen_turn, bool) or not isinstance(self.gen_turn, int) or self.gen_turn < 1:
            raise InvalidValue(f"gen_turn must be an integer of at least 1, got {self.gen_turn!r}")


_LATER_DEFAULTS: dict[str, Any] = {"sampler": "unipc", "missing_image": "error", "gen_turn": 1}


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
    rewrite: RewriteSpec | None = None  # prompts rewritten before generation (run.json `rewrites` lists them)

    @property
    def model(self) -> str:
        """The model whose outputs the run holds: NAVA's preset model, or an imported model's name."""
        if self.imported is not None:
            return self.imported.model
        return self.generation.model if self.generation is not None else "unknown"

    def remake_advice(self, run_dir: str | Path) -> str:
        """How to bring back outputs that are missing or changed on disk: it depends on how the run was made.

        An imported run cannot be generated (run/generate refuse it); it is imported again, from the
        same files into the same run directory, or from new files into a new one.
        """
        if self.imported is not None:
            source = self.imported
            mapping = f" --mapping {shlex.quote(source.mapping)}" if source.mapping else ""
            return (
                "this run was imported, so restore the source files and import them again: `nava-eval import "
                f"{shlex.quote(self.benchmark)} {shlex.quote(source.source_dir)} --model {shlex.quote(source.model)}"
                f"{mapping} --run-dir {shlex.quote(str(run_dir))}` (files that changed in the source folder "
                "go into a new --run-dir)"
            )
        return f"`nava-eval run` or `nava-eval generate` with --run-dir {shlex.quote(str(run_dir))} makes them again"

    def output_hash(self) -> str:
        """Hash of the fields that determine the outputs (not name, metrics or paths).

        A generated run: benchmark, generation settings, the prompt source when not NAVA's, and
        (multi-seed) the seed list. An imported run: benchmark, model name and the sha256 of every
        file taken, so importing another folder into the same run directory is refused.
        """
        payload: dict[str, Any] = {"benchmark": self.benchmark}
        if self.generation is not None:
            generation = to_dict(self.generation)
            # Settings added after runs were made enter the hash only when not at their default,
            # so run directories written before them keep their hash and resume.
            for name, default in _LATER_DEFAULTS.items():
                if generation.get(name) == default:
                    generation.pop(name)
            payload["generation"] = generation
        if self.prompt_source not in (None, "nava"):
            payload["prompt_source"] = self.prompt_source
        if self.rewrite is not None:
            payload["rewrite"] = self.rewrite.sampling()
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
    # With spec.rewrite: each item's prompt as given and as generated from (and its rewrite cache key).
    rewrites: list[RewrittenPrompt] = field(default_factory=list)


def load_run_file(run_dir: str | Path) -> RunFile:
    """Read and validate run.json of a run directory."""
    path = Path(run_dir) / "run.json"
    from nava_eval.rundir.safe_json import parse_json
    from nava_eval.user_files import UserFileError, read_bytes

    try:
        raw = read_bytes(path)
    except UserFileError as exc:
        raise SchemaError(str(exc)) from None
    except FileNotFoundError:
        raise SchemaError(f"{path}: no such file; is {run_dir} a nava-eval run directory?") from None
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return from_dict(RunFile, parse_json(raw, str(path)), str(path))


def replace_provenance(run_file: RunFile, provenance: Provenance) -> RunFile:
    """Keep earlier invocations' provenance in history, make `provenance` the current one."""
    history = [*run_file.history, to_dict(run_file.provenance)]
    return dataclasses.replace(run_file, provenance=provenance, history=history)
