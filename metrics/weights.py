"""Registry of scorer weight files: where each comes from, its checksum, licence and cache path.

Every weight a metric loads is a `WeightSpec` with a short name (`syncnet`, `s3fd`, ...). A user
can point a name at their own copy (`--weights syncnet=/path/syncnet_v2.model`); otherwise the
file is looked up in the cache (`$NAVA_EVAL_WEIGHTS_DIR`, default `~/.cache/nava-eval/weights`)
and fetched by `nava-eval weights download NAME`. Nothing here downloads implicitly: a missing
file is an error naming the file and the command that fetches it, and `offline=True` never touches
the network.

Other modules add their entries with `register_weight()`. Provider modules listed in
`PROVIDER_MODULES` (or added with `register_provider()`) are imported lazily the first time the
registry is read, so `metrics/weights_speech.py` can register the Whisper and WavLM files next to
the code that loads them.

A spec whose sha256 is not pinned (`sha256=None`) is still usable: its checksum is computed, shown
by `weights verify` as "unpinned" and recorded in results provenance, so a run can be traced to
the exact bytes even before the checksum is pinned here.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nava_eval.interrupts import reraise_interrupts

log = logging.getLogger(__name__)

CACHE_ENV = "NAVA_EVAL_WEIGHTS_DIR"


@dataclass(frozen=True)
class WeightSpec:
    """One weight file a scorer needs.

    `url` is an https URL or `hf://<repo_id>/<path in repo>[@revision]` (fetched with
    huggingface_hub). `sha256_prefix` is for files whose publisher only states a hash prefix (torch
    hub style names such as `musiq_koniq_ckpt-e95806b9.pth`).
    """

    name: str
    filename: str
    url: str
    license: str
    used_by: tuple[str, ...]
    sha256: str | None = None
    sha256_prefix: str | None = None
    size: int | None = None
    description: str = ""
    mirrors: tuple[str, ...] = ()
    subdir: str = ""

    def cache_path(self, root: Path | None = None) -> Path:
        base = root if root is not None else cache_dir()
        return base / self.subdir / self.filename if self.subdir else base / self.filename

    @property
    def pinned(self) -> bool:
        return self.sha256 is not None or self.sha256_prefix is not None


class WeightsError(RuntimeError):
    """A weight file is missing, unknown or fails its checksum; the message says what to do."""


class WeightsMissingError(WeightsError, FileNotFoundError):
    """A weight file is not on disk (and was not downloaded)."""


@dataclass(frozen=True)
class ResolvedWeight:
    """A weight file found on disk, with where it came from and its checksum."""

    name: str
    path: Path
    sha256: str
    source: Literal["override", "cache", "downloaded", "fixture"]
    verified: Literal["ok", "unpinned", "override"]

    def provenance(self) -> dict[str, str]:
        """What results.json records about this file."""
        return {"path": str(self.path), "sha256": self.sha256, "source": self.source, "check": self.verified}


_WEIGHTS: dict[str, WeightSpec] = {}
PROVIDER_MODULES: list[str] = ["nava_eval.metrics.weights_speech"]
_loaded_providers: set[str] = set()


def register_weight(spec: WeightSpec) -> None:
    """Add (or replace) a weight spec."""
    _WEIGHTS[spec.name] = spec


def register_provider(module_name: str) -> None:
    """Name a module that calls `register_weight()` when imported; it is imported on first use."""
    if module_name not in PROVIDER_MODULES:
        PROVIDER_MODULES.append(module_name)


def _load_providers() -> None:
    for module_name in list(PROVIDER_MODULES):
        if module_name in _loaded_providers:
            continue
        _loaded_providers.add(module_name)
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A provider that does not exist yet (or an optional one) must not break the registry.
            if exc.name != module_name:
                raise
            log.debug("weight provider %s not present", module_name)


def weight_specs() -> dict[str, WeightSpec]:
    """All registered weights, by name."""
    _load_providers()
    return dict(_WEIGHTS)


def get_spec(name: str) -> WeightSpec:
    specs = weight_specs()
    if name not in specs:
        raise WeightsError(f"unknown weight {name!r}; known weights: {', '.join(sorted(specs))}")
    return specs[name]


def cache_dir() -> Path:
    """Where downloaded weights live: $NAVA_EVAL_WEIGHTS_DIR, else ~/.cache/nava-eval/weights."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "nava-eval" / "weights"


def parse_weight_overrides(pairs: Iterable[str]) -> dict[str, Path]:
    """`["syncnet=/x/syncnet_v2.model", ...]` → {"syncnet": Path(...)}; names are checked later."""
    out: dict[str, Path] = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise WeightsError(f"--weights takes NAME=PATH, got {pair!r}")
        out[name.strip()] = Path(path).expanduser()
    return out


def sha256_file(path: Path, *, use_sidecar: bool | None = None) -> str:
    """sha256 of a file; cached in `<file>.sha256.json` (size + mtime keyed) inside the weight cache only."""
    path = Path(path)
    if use_sidecar is None:
        use_sidecar = _is_relative_to(path.resolve(), cache_dir().resolve())
    stat = path.stat()
    sidecar = path.with_name(path.name + ".sha256.json")
    if use_sidecar and sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text())
            if data.get("size") == stat.st_size and data.get("mtime_ns") == stat.st_mtime_ns:
                return str(data["sha256"])
        except (OSError, ValueError, KeyError):
            pass
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    if use_sidecar:
        try:
            sidecar.write_text(
                json.dumps({"sha256": value, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
            )
        except OSError:
            pass  # a read-only folder: just recompute next time
    return value


def _is_relative_to(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_file(spec: WeightSpec, path: Path) -> tuple[str, Literal["ok", "unpinned"]]:
    """(sha256, "ok"|"unpinned") for a file that should hold `spec`; raises WeightsError on mismatch."""
    if spec.size is not None and path.stat().st_size != spec.size:
        raise WeightsError(
            f"{spec.name}: {path} has {path.stat().st_size} bytes, expected {spec.size} "
            f"(a truncated download? delete it and run `nava-eval weights download {spec.name}`)"
        )
    digest = sha256_file(path)
    if spec.sha256 is not None and digest != spec.sha256:
        raise WeightsError(f"{spec.name}: sha256 of {path} is {digest}, expected {spec.sha256}")
    if spec.sha256 is None and spec.sha256_prefix is not None and not digest.startswith(spec.sha256_prefix):
        raise WeightsError(
            f"{spec.name}: sha256 of {path} is {digest}, expected it to start with {spec.sha256_prefix}"
        )
    return digest, ("ok" if spec.pinned else "unpinned")


def missing_message(spec: WeightSpec, path: Path) -> str:
    return (
        f"scorer weight {spec.name!r} ({spec.filename}, used by {', '.join(spec.used_by)}) is not at {path}. "
        f"Fetch it with `nava-eval weights download {spec.name}` or pass your own copy with "
        f"`--weights {spec.name}=PATH`."
    )


def resolve_weight(
    name: str,
    overrides: Mapping[str, str | os.PathLike] | None = None,
    *,
    offline: bool = False,
    download: bool = False,
    verify_override: bool = False,
) -> ResolvedWeight:
    """Find the file for weight `name`: a user override first, then the cache.

    A user's own file is not required to match the registry checksum (it may be a fine-tuned or
    re-saved copy) unless `verify_override`; its sha256 is recorded either way. `download=True`
    fetches a missing cache file (never when `offline`).
    """
    spec = get_spec(name)
    if overrides and name in overrides:
        path = Path(overrides[name]).expanduser()
        if not path.is_file():
            raise WeightsMissingError(f"--weights {name}={path}: no such file")
        if verify_override:
            digest, state = check_file(spec, path)
            return ResolvedWeight(name, path, digest, "override", state)
        return ResolvedWeight(name, path, sha256_file(path), "override", "override")
    path = spec.cache_path()
    if not path.is_file():
        if download and not offline:
            path = download_weight(spec)
            digest, state = check_file(spec, path)
            return ResolvedWeight(name, path, digest, "downloaded", state)
        raise WeightsMissingError(missing_message(spec, path))
    digest, state = check_file(spec, path)
    return ResolvedWeight(name, path, digest, "cache", state)


def unknown_overrides(overrides: Mapping[str, object], allowed: Iterable[str]) -> list[str]:
    """Override names that the metric does not use (reported, so a typo does not pass silently)."""
    allowed_set = set(allowed)
    return sorted(k for k in overrides if k not in allowed_set)


# --------------------------------------------------------------------------------------------
# Download


ProgressFactory = Callable[[str, int | None], Callable[[int], None]]


def _tqdm_progress(label: str, total: int | None) -> Callable[[int], None]:
    from tqdm import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, leave=False)

    def update(n: int) -> None:
        if n < 0:
            bar.close()
        else:
            bar.update(n)

    return update


def _fetch_url(url: str, dest: Path, label: str, progress: ProgressFactory) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "nava-eval"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (https URLs from the registry)
        total = response.headers.get("Content-Length")
        update = progress(label, int(total) if total else None)
        try:
            with open(dest, "wb") as fh:
                for block in iter(lambda: response.read(1 << 20), b""):
                    fh.write(block)
                    update(len(block))
        finally:
            update(-1)


def _fetch_hf(url: str, dest: Path) -> None:
    from huggingface_hub import hf_hub_download

    spec = url[len("hf://") :]
    spec, _, revision = spec.partition("@")
    parts = spec.split("/")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    local = hf_hub_download(repo_id=repo_id, filename=filename, revision=revision or None)
    shutil.copyfile(local, dest)


def download_weight(
    spec: WeightSpec, *, progress: ProgressFactory | None = None, force: bool = False
) -> Path:
    """Fetch `spec` into the cache (atomic: temp file + rename), trying mirrors in turn; verify it."""
    target = spec.cache_path()
    if target.is_file() and not force:
        check_file(spec, target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in (spec.url, *spec.mirrors):
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.filename}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            if url.startswith("hf://"):
                _fetch_hf(url, tmp)
            else:
                _fetch_url(url, tmp, spec.filename, progress or _tqdm_progress)
            check_file(spec, tmp)
        except Exception as exc:  # noqa: BLE001 (try the next mirror, report all)
            reraise_interrupts(exc)
            errors.append(f"{url}: {exc}")
            tmp.unlink(missing_ok=True)
            tmp.with_name(tmp.name + ".sha256.json").unlink(missing_ok=True)
            continue
        tmp.with_name(tmp.name + ".sha256.json").unlink(missing_ok=True)
        os.replace(tmp, target)
        return target
    raise WeightsError(f"could not download {spec.name} ({spec.filename}): " + "; ".join(errors))


# --------------------------------------------------------------------------------------------
# Status (for `weights list|verify` and `doctor`)


@dataclass(frozen=True)
class WeightStatus:
    """What `weights list/verify` and `doctor` show for one weight."""

    spec: WeightSpec
    path: Path
    present: bool
    state: Literal["ok", "unpinned", "missing", "mismatch", "unchecked"]
    sha256: str | None = None
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def weight_status(spec: WeightSpec, *, verify: bool) -> WeightStatus:
    path = spec.cache_path()
    if not path.is_file():
        return WeightStatus(spec, path, False, "missing", detail=f"nava-eval weights download {spec.name}")
    if not verify:
        return WeightStatus(spec, path, True, "unchecked")
    try:
        digest, state = check_file(spec, path)
    except WeightsError as exc:
        return WeightStatus(spec, path, True, "mismatch", detail=str(exc))
    return WeightStatus(spec, path, True, state, sha256=digest)


def weight_statuses(names: Iterable[str] | None = None, *, verify: bool = False) -> list[WeightStatus]:
    specs = weight_specs()
    chosen = sorted(specs) if not names else list(names)
    return [weight_status(get_spec(n), verify=verify) for n in chosen]


# --------------------------------------------------------------------------------------------
# The scorer weights this module knows about (sync and video quality). Others register theirs.

_SYNCNET_LICENSE = "MIT (joonson/syncnet_python; model released by VGG Oxford for research)"

BUILTIN_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="syncnet",
        filename="syncnet_v2.model",
        url="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
        license=_SYNCNET_LICENSE,
        used_by=("sync",),
        description="SyncNet v2 (joonson/syncnet_python download_model.sh)",
        subdir="syncnet",
    ),
    WeightSpec(
        name="s3fd",
        filename="sfd_face.pth",
        url="https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",
        license="S3FD face detector weights as distributed with syncnet_python (research use)",
        used_by=("sync",),
        description="S3FD face detector (syncnet_python detectors/s3fd/weights)",
        # Same network published by face_alignment; torch-hub name carries its sha256 prefix.
        mirrors=("https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth",),
        subdir="syncnet",
    ),
    WeightSpec(
        name="aesthetic_v2_5",
        filename="aesthetic_predictor_v2_5.pth",
        url="https://github.com/discus0434/aesthetic-predictor-v2-5/raw/main/models/aesthetic_predictor_v2_5.pth",
        license="AGPL-3.0 (discus0434/aesthetic-predictor-v2-5)",
        used_by=("video_quality",),
        description="Aesthetic Predictor V2.5 head on SigLIP so400m-patch14-384",
        subdir="video_quality",
    ),
    WeightSpec(
        name="siglip_so400m",
        filename="model.safetensors",
        url="hf://google/siglip-so400m-patch14-384/model.safetensors",
        license="Apache-2.0 (google/siglip-so400m-patch14-384)",
        used_by=("video_quality",),
        description="SigLIP vision tower for Aesthetic Predictor V2.5 (config/processor from the same HF repo)",
        subdir="video_quality/siglip-so400m-patch14-384",
    ),
    WeightSpec(
        name="musiq_koniq",
        filename="musiq_koniq_ckpt-e95806b9.pth",
        url="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_koniq_ckpt-e95806b9.pth",
        license="pyiqa weights (PolyForm-Noncommercial-1.0.0 via pyiqa; MUSIQ: Apache-2.0)",
        used_by=("video_quality",),
        sha256_prefix="e95806b9",
        description="MUSIQ trained on KonIQ-10k (pyiqa `musiq`)",
        subdir="video_quality",
    ),
    WeightSpec(
        name="musiq_spaq",
        filename="musiq_spaq_ckpt-358bb6af.pth",
        url="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth",
        license="pyiqa weights (PolyForm-Noncommercial-1.0.0 via pyiqa; MUSIQ: Apache-2.0)",
        used_by=("imaging_quality",),
        sha256_prefix="358bb6af",
        description="MUSIQ trained on SPAQ (pyiqa `musiq-spaq`, VBench imaging quality)",
        subdir="video_quality",
    ),
    WeightSpec(
        name="maniqa_koniq",
        filename="ckpt_koniq10k.pt",
        url="https://github.com/IIGROUP/MANIQA/releases/download/Koniq10k/ckpt_koniq10k.pt",
        license="Apache-2.0 (IIGROUP/MANIQA)",
        used_by=("video_quality",),
        description="MANIQA trained on KonIQ-10k (Verse-Bench's MANIQA checkpoint)",
        subdir="video_quality",
    ),
)

for _spec in BUILTIN_WEIGHTS:
    register_weight(_spec)
