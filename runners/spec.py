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

SeedPolicy = Literal["per-sample", "official-rank"]


@dataclass(frozen=True)
class Guidance:
    """3D cross-modal CFG scales (configs/nava.yaml defaults). Off terms use the plain U+g(C−U) form."""

    video: float = 3.0
    audio: float = 2.0
    video_align: float = 3.0
    audio_align: float = 2.0
    timbre: float = 3.0
    align_3d: bool = True
    timbre_cfg: bool = True


@dataclass(frozen=True)
class GenerationSettings:
    """Sampler and output settings; every field changes the outputs and enters the spec hash."""

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


@dataclass(frozen=True)
class RunSpec:
    """What a run directory holds; written to run.json with the provenance."""

    name: str
    benchmark: str
    preset: str
    generation: GenerationSettings
    metrics: list[str]
    schema: str = RUN_SCHEMA
    data_dir: str | None = None
    sets: list[str] | None = None
    ids: list[str] | None = None
    limit: int | None = None
    smoke: bool = False

    def output_hash(self) -> str:
        """Hash of the fields that determine the outputs (not name, metrics or paths)."""
        payload = {
            "benchmark": self.benchmark,
            "generation": to_dict(self.generation),
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
    """A named bundle of defaults for `nava-eval run --preset`."""

    name: str
    description: str
    generation: GenerationSettings
    smoke: bool = False
    data: str | None = None  # "smoke" → the miniature data set the project writes itself
    device: str | None = None


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke",
        description="CPU, tiny seeded random weights for every component, miniature data: checks the whole path",
        generation=GenerationSettings(
            model="nava-tiny",
            steps=2,
            width=64,
            height=64,
            latent_frames=4,
            fps=8,
            vae_tiling=False,
            image_bucket=256,
        ),
        smoke=True,
        data="smoke",
        device="cpu",
    ),
    "versebench": Preset(
        name="versebench",
        description="NAVA's VerseBench protocol: 1280×704, 37 latent frames, 50 UniPC steps, 3D CFG",
        generation=GenerationSettings(),
    ),
    "versebench-fp8": Preset(
        name="versebench-fp8",
        description="As `versebench` with the fp8 weight-only checkpoint NAVA's script uses",
        generation=GenerationSettings(weight_dtype="fp8"),
    ),
    "seedtts": Preset(
        name="seedtts",
        description="NAVA's Seed-TTS protocol: audio-only, 50 steps, timbre CFG, no 3D CFG",
        generation=GenerationSettings(
            guidance=Guidance(audio=2.0, audio_align=2.0, align_3d=False, timbre=3.0)
        ),
    ),
}


def get_preset(name: str) -> Preset:
    """Look up a preset; the error lists the valid names."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; valid presets: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


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
