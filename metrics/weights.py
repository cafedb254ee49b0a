"""Registry of scorer weight files: where each comes from, its pinned checksum and size, licence, cache path.

Every weight a metric loads is a `WeightSpec` with a short name (`syncnet`, `s3fd`, ...). A user
can point a name at their own copy (`--weights syncnet=/path/syncnet_v2.model`); otherwise the
file is looked up in the cache and fetched by `nava-eval weights download NAME`. Nothing here
downloads implicitly: a missing file is an error naming the file and the command that fetches it,
and offline mode (`nava-eval --offline`, `NAVA_EVAL_OFFLINE=1` or `HF_HUB_OFFLINE=1`) never touches
the network.

Two kinds of source:
* `hf://<repo_id>/<path>[@revision]`: fetched with huggingface_hub (resumable) and used in place
  from the Hugging Face cache, never copied;
* `https://...`: fetched with pooch into `$NAVA_EVAL_WEIGHTS_DIR` (default
  `~/.cache/nava-eval/weights`) through a downloader that resumes a `.part` file with an HTTP
  Range request and rejects an HTML page (a login or consent page served instead of the file).

Every entry pins the file's sha256 (and its size where a source states it), with the source of the
pin in `pin_source`. A file
that does not match is deleted from the cache, with a message naming it, the expected and found
hash and the command that fetches it again. An entry whose checksum is not published anywhere we
could read carries `unpinned_reason` instead: it downloads only when the user says
`--trust-unpinned`, and its measured sha256 is recorded in results provenance. Plain-http URLs
are accepted only with a pinned sha256 (the transport proves nothing).

Other modules add their entries with `register_weight()`. Provider modules listed in
`PROVIDER_MODULES` (or added with `register_provider()`) are imported lazily the first time the
registry is read, so `metrics/weights_speech.py` registers the Whisper and WavLM files next to the
code that loads them.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nava_eval.errors import UserError
from nava_eval.interrupts import reraise_interrupts
from nava_eval.offline import offline_requested

log = logging.getLogger(__name__)

CACHE_ENV = "NAVA_EVAL_WEIGHTS_DIR"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class WeightSpec:
    """One weight file a scorer needs.

    `url` is an https URL or `hf://<repo_id>/<path in repo>` (fetched with huggingface_hub at
    `revision`). `hub_files` are the small files of the same hub repository a loader also reads
    (config, tokenizer); the revision pins them. `pin_source` says where `sha256`/`size` come from.
    """

    name: str
    filename: str
    url: str
    license: str
    used_by: tuple[str, ...]
    sha256: str | None = None
    size: int | None = None
    description: str = ""
    mirrors: tuple[str, ...] = ()
    subdir: str = ""
    revision: str | None = None
    hub_files: tuple[str, ...] = ()
    pin_source: str = ""
    unpinned_reason: str = ""

    def __post_init__(self) -> None:
        if self.sha256 is not None and not _SHA256.fullmatch(self.sha256):
            raise ValueError(
                f"weight {self.name!r}: sha256 must be 64 lowercase hex digits, got {self.sha256!r}"
            )
        if self.size is not None and self.sha256 is None:
            raise ValueError(f"weight {self.name!r}: a size without a sha256 pins nothing; pin the sha256")
        if not self.pinned and not self.unpinned_reason:
            raise ValueError(
                f"weight {self.name!r}: no pinned sha256/size; pin them (with pin_source) or say why in "
                "unpinned_reason"
            )
        for url in (self.url, *self.mirrors):
            if not url.startswith(("https://", "hf://", "http://")):
                raise ValueError(f"weight {self.name!r}: {url!r} is not an https://, http:// or hf:// URL")
            if url.startswith("http://") and not self.pinned:
                raise ValueError(f"weight {self.name!r}: plain-http URL {url} needs a pinned sha256")
        if self.hub is None and (self.revision or self.hub_files):
            raise ValueError(f"weight {self.name!r}: revision/hub_files only apply to hf:// URLs")

    @property
    def pinned(self) -> bool:
        """The sha256 is pinned (the size, when known, is checked first: a cheap truncation test)."""
        return self.sha256 is not None

    @property
    def hub(self) -> tuple[str, str] | None:
        """(repo_id, path in repo) of an hf:// URL, else None."""
        if not self.url.startswith("hf://"):
            return None
        parts = self.url[len("hf://") :].split("/")
        return "/".join(parts[:2]), "/".join(parts[2:])

    def cache_path(self, root: Path | None = None) -> Path:
        """Where an https file lives in our cache (hub files live in the HF cache: see `cached_file`)."""
        base = root if root is not None else cache_dir()
        return base / self.subdir / self.filename if self.subdir else base / self.filename


class WeightsError(UserError, RuntimeError):
    """A weight file is missing, unknown or fails its checksum; the message says what to do."""


class WeightsMissingError(WeightsError, FileNotFoundError):
    """A weight file is not on disk (and was not downloaded)."""


@dataclass(frozen=True)
class ResolvedWeight:
    """A weight file found on disk, with where it came from and its checksum."""

    name: str
    path: Path
    sha256: str
    source: Literal["override", "cache", "hf-cache", "downloaded", "fixture", "package"]
    verified: Literal["ok", "unpinned", "override"]

    def provenance(self) -> dict[str, str]:
        """What results.json records about this file."""
        return {"path": str(self.path), "sha256": self.sha256, "source": self.source, "check": self.verified}


_WEIGHTS: dict[str, WeightSpec] = {}
PROVIDER_MODULES: list[str] = [
    "nava_eval.metrics.weights_speech",
    "nava_eval.metrics.weights_audio",
    "nava_eval.metrics.weights_av",
    "nava_eval.metrics.weights_mova_audio",
    "nava_eval.metrics.weights_mova_is",
    "nava_eval.metrics.weights_kl",
    "nava_eval.metrics.weights_synchformer",
    "nava_eval.metrics.weights_videoreward",
]
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
    """Where downloaded https weights live: $NAVA_EVAL_WEIGHTS_DIR, else ~/.cache/nava-eval/weights."""
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


def _hash_record(path: Path) -> Path:
    # Hash records live in our cache, keyed by the file's real path: never beside a user's file or
    # inside the HF cache, whose layout belongs to huggingface_hub.
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()
    return cache_dir() / ".hashes" / f"{key}.json"


def _is_relative_to(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _hf_cache_root() -> Path | None:
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    return Path(constants.HF_HUB_CACHE).resolve()


def _is_cache_file(path: Path) -> bool:
    """True for files in our weight cache or the HF cache (whose sha256 may be remembered)."""
    real = path.resolve()
    roots = [cache_dir().resolve(), _hf_cache_root()]
    return any(root is not None and _is_relative_to(real, root) for root in roots)


def sha256_file(path: Path, *, use_record: bool | None = None) -> str:
    """sha256 of a file; for cache files remembered in a hash record keyed by size and mtime."""
    path = Path(path)
    if use_record is None:
        use_record = _is_cache_file(path)
    stat = path.stat()
    record = _hash_record(path)
    if use_record and record.is_file():
        try:
            data = json.loads(record.read_text())
            if data.get("size") == stat.st_size and data.get("mtime_ns") == stat.st_mtime_ns:
                return str(data["sha256"])
        except (OSError, ValueError, KeyError):
            pass
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    if use_record:
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(
                json.dumps({"sha256": value, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
            )
        except OSError:
            pass  # a read-only cache: just recompute next time
    return value


def fetch_command(spec: WeightSpec) -> str:
    return f"nava-eval weights download {spec.name}"


def _delete_cached(path: Path) -> None:
    """Remove a bad file from the cache; for an HF cache link also the blob it points to."""
    real = path.resolve()
    _hash_record(path).unlink(missing_ok=True)
    if path.is_symlink():
        path.unlink(missing_ok=True)
    real.unlink(missing_ok=True)


def check_file(
    spec: WeightSpec, path: Path, *, delete_bad: bool = False
) -> tuple[str, Literal["ok", "unpinned"]]:
    """(sha256, "ok"|"unpinned") for a file that should hold `spec`; WeightsError on a mismatch.

    With `delete_bad` a mismatching file is deleted (cache files only: never a user's own copy).
    """
    found_size = path.stat().st_size
    problem = None
    digest = ""
    if spec.size is not None and found_size != spec.size:
        problem = f"has {found_size} bytes, expected {spec.size} (a truncated or wrong download)"
    else:
        digest = sha256_file(path)
        if spec.sha256 is not None and digest != spec.sha256:
            problem = f"has sha256 {digest}, expected {spec.sha256}"
    if problem is None:
        return digest, ("ok" if spec.pinned else "unpinned")
    if delete_bad and _is_cache_file(path):
        _delete_cached(path)
        raise WeightsError(
            f"{spec.name}: {path} {problem}; deleted it from the cache. Fetch it again with "
            f"`{fetch_command(spec)}`."
        )
    raise WeightsError(f"{spec.name}: {path} {problem}")


def missing_message(spec: WeightSpec, path: Path | str) -> str:
    return (
        f"scorer weight {spec.name!r} ({spec.filename}, used by {', '.join(spec.used_by)}) is not at {path}. "
        f"Fetch it with `{fetch_command(spec)}` or pass your own copy with `--weights {spec.name}=PATH`."
    )


def cached_file(spec: WeightSpec) -> Path | None:
    """The file of `spec` if it is on disk (our cache, or the HF cache for hub files), else None."""
    if spec.hub is None:
        path = spec.cache_path()
        return path if path.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    repo_id, filename = spec.hub
    found = try_to_load_from_cache(repo_id, filename, revision=spec.revision)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def expected_location(spec: WeightSpec) -> str:
    """Where `spec` is looked for, in words (for messages)."""
    if spec.hub is None:
        return str(spec.cache_path())
    repo_id, filename = spec.hub
    at = f"@{spec.revision}" if spec.revision else ""
    return f"the Hugging Face cache ({repo_id}{at}, {filename})"


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
    fetches a missing cache file (never when offline). A cache file that fails its checksum is
    deleted, with a message saying how to fetch it again.
    """
    spec = get_spec(name)
    if overrides and name in overrides:
        path = Path(overrides[name]).expanduser()
        from nava_eval.user_files import file_problem

        problem = file_problem(path)
        if problem is not None:  # "no such file", or a FIFO/device that would block the read
            raise WeightsMissingError(f"--weights {name}={path}: {problem}; give a regular file")
        if verify_override:
            digest, state = check_file(spec, path)
            return ResolvedWeight(name, path, digest, "override", state)
        return ResolvedWeight(name, path, sha256_file(path), "override", "override")
    path = cached_file(spec)
    if path is None:
        if download and not (offline or offline_requested()):
            path = download_weight(spec)
            digest, state = check_file(spec, path, delete_bad=True)
            return ResolvedWeight(name, path, digest, "downloaded", state)
        raise WeightsMissingError(missing_message(spec, expected_location(spec)))
    digest, state = check_file(spec, path, delete_bad=True)
    return ResolvedWeight(name, path, digest, "hf-cache" if spec.hub else "cache", state)


def hub_folder(name: str, overrides: Mapping[str, str | os.PathLike] | None = None) -> Path:
    """A user's folder (or file) for hub model `name`, else the cached HF snapshot folder holding it.

    The weight file is checked against the registry (a mismatch deletes it, saying how to fetch it
    again). Nothing is downloaded: a model not in the cache is a WeightsMissingError naming the command.
    """
    if overrides and name in overrides:
        path = Path(overrides[name]).expanduser()
        if not path.exists():
            raise WeightsMissingError(f"--weights {name}={path}: no such file or folder")
        return path
    spec = get_spec(name)
    if spec.hub is None:
        raise WeightsError(f"{name} is not a hub model (its URL is {spec.url})")
    path = cached_file(spec)
    if path is None:
        raise WeightsMissingError(
            f"{spec.hub[0]} ({spec.filename}, used by {', '.join(spec.used_by)}) is not in the Hugging Face "
            f"cache. Fetch it with `{fetch_command(spec)}`, or pass a local copy of the model folder with "
            f"`--weights {name}=DIR`."
        )
    check_file(spec, path, delete_bad=True)
    return path.parent


def unknown_overrides(overrides: Mapping[str, object], allowed: Iterable[str]) -> list[str]:
    """Override names that the metric does not use (reported, so a typo does not pass silently)."""
    allowed_set = set(allowed)
    return sorted(k for k in overrides if k not in allowed_set)


# --------------------------------------------------------------------------------------------
# Download


def download_weight(
    spec: WeightSpec,
    *,
    force: bool = False,
    offline: bool = False,
    trust_unpinned: bool = False,
    progress: bool = True,
) -> Path:
    """Fetch `spec` (resuming a partial download) and verify size and sha256; returns its path.

    Hub files stay in the HF cache; https files go to our cache (pooch: temp file, hash check,
    rename). Mirrors are tried in turn. An unpinned entry needs `trust_unpinned`.
    """
    from nava_eval.metrics.weights_fetch import fetch_hub_file, fetch_url

    present = None if force else cached_file(spec)
    if present is not None:
        check_file(spec, present, delete_bad=True)
        return present
    if offline or offline_requested():
        raise WeightsMissingError(
            f"offline: {spec.name} is not in {expected_location(spec)} and offline mode forbids fetching it; "
            f"run `{fetch_command(spec)}` without --offline (and without NAVA_EVAL_OFFLINE/HF_HUB_OFFLINE)"
        )
    if not spec.pinned and not trust_unpinned:
        raise WeightsError(
            f"{spec.name} has no pinned sha256/size in the registry ({spec.unpinned_reason}). Download it "
            f"anyway with `{fetch_command(spec)} --trust-unpinned` (its sha256 is then printed and recorded "
            f"in results provenance), or pass a copy you trust with --weights {spec.name}=PATH."
        )
    errors = []
    for url in (spec.url, *spec.mirrors):
        try:
            if url.startswith("hf://"):
                path = fetch_hub_file(spec, force=force)
            else:
                path = fetch_url(url, spec, progress=progress)
            check_file(spec, path, delete_bad=True)
        except (WeightsError, OSError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 (network errors of requests/huggingface_hub: try the next mirror)
            reraise_interrupts(exc)
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        return path
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
    """Present or not; with `verify` also size + sha256 (a mismatching cache file is deleted)."""
    path = cached_file(spec)
    if path is None:
        return WeightStatus(
            spec, spec.cache_path() if spec.hub is None else Path(expected_location(spec)), False, "missing",
            detail=fetch_command(spec),
        )  # fmt: skip
    if not verify:
        return WeightStatus(spec, path, True, "unchecked")
    try:
        digest, state = check_file(spec, path, delete_bad=True)
    except WeightsError as exc:
        return WeightStatus(spec, path, False, "mismatch", detail=str(exc))
    return WeightStatus(spec, path, True, state, sha256=digest)


def weight_statuses(names: Iterable[str] | None = None, *, verify: bool = False) -> list[WeightStatus]:
    specs = weight_specs()
    chosen = sorted(specs) if not names else list(names)
    return [weight_status(get_spec(n), verify=verify) for n in chosen]


# --------------------------------------------------------------------------------------------
# The scorer weights this module knows about (sync and video quality). Others register theirs.

_SYNCNET_LICENSE = "MIT (joonson/syncnet_python; model released by VGG Oxford for research)"
# No checksum of these files is published by their authors; the pins below are the values that
# several independent public repositories record for the same URLs (cited per entry), and the
# sizes agree with the file listings those repositories quote.
_SYNCNET_PIN = (
    "sha256/size of robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model as recorded by public "
    "SyncNet harnesses (e.g. EXPECTED_SYNCNET_SHA256 in lip-sync experiment repos; identical to the copy "
    "in HF ByteDance/LatentSync auxiliary/)"
)
_S3FD_PIN = "sha256/size of robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth as recorded by public SyncNet harnesses"
_PYIQA_PIN = (
    "LFS oid of HF chaofengc/IQA-PyTorch-Weights (revision 0df2df423c65f6a64209309695f3845727431027) as "
    "quoted by public pyiqa deployments; the file name carries the hash's first 8 digits (torch-hub style)"
)
_NO_PUBLISHED_HASH = (
    "no sha256 of this file is published by its authors or quoted in any source we could read"
)

BUILTIN_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="syncnet",
        filename="syncnet_v2.model",
        # download_model.sh says http://; the same host serves https, and the file is pinned either way.
        url="https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
        license=_SYNCNET_LICENSE,
        used_by=("sync",),
        sha256="961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442",
        size=54_573_114,
        pin_source=_SYNCNET_PIN,
        description="SyncNet v2 (joonson/syncnet_python download_model.sh)",
        subdir="syncnet",
    ),
    WeightSpec(
        name="s3fd",
        filename="sfd_face.pth",
        url="https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",
        license="S3FD face detector weights as distributed with syncnet_python (research use)",
        used_by=("sync",),
        sha256="d54a87c2b7543b64729c9a25eafd188da15fd3f6e02f0ecec76ae1b30d86c491",
        size=89_844_381,
        pin_source=_S3FD_PIN,
        # face_alignment's s3fd-619a316812.pth is the same network but other bytes (its sha256 starts
        # 619a3168): it cannot match this pin, so it is not listed as a mirror.
        description="S3FD face detector (syncnet_python detectors/s3fd/weights)",
        subdir="syncnet",
    ),
    WeightSpec(
        name="aesthetic_v2_5",
        filename="aesthetic_predictor_v2_5.pth",
        url="https://github.com/discus0434/aesthetic-predictor-v2-5/raw/main/models/aesthetic_predictor_v2_5.pth",
        license="AGPL-3.0 (discus0434/aesthetic-predictor-v2-5)",
        used_by=("video_quality",),
        unpinned_reason=_NO_PUBLISHED_HASH
        + " (the repository stores it with Git LFS; its pointer was not readable here)",
        description="Aesthetic Predictor V2.5 head on SigLIP so400m-patch14-384",
        subdir="video_quality",
    ),
    WeightSpec(
        name="siglip_so400m",
        filename="model.safetensors",
        url="hf://google/siglip-so400m-patch14-384/model.safetensors",
        license="Apache-2.0 (google/siglip-so400m-patch14-384)",
        used_by=("video_quality",),
        hub_files=("config.json", "preprocessor_config.json"),
        unpinned_reason=_NO_PUBLISHED_HASH + " (the hub's LFS oid was not readable here)",
        description="SigLIP vision tower for Aesthetic Predictor V2.5 (config/processor from the same HF repo)",
    ),
    WeightSpec(
        name="musiq_koniq",
        filename="musiq_koniq_ckpt-e95806b9.pth",
        url="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_koniq_ckpt-e95806b9.pth",
        license="pyiqa weights (PolyForm-Noncommercial-1.0.0 via pyiqa; MUSIQ: Apache-2.0)",
        used_by=("video_quality",),
        sha256="e95806b9eae5f3814c410f574ba8e552362bd5bc63d758ed5b97860f5d6185aa",
        size=108_610_983,
        pin_source=_PYIQA_PIN,
        description="MUSIQ trained on KonIQ-10k (pyiqa `musiq`)",
        subdir="video_quality",
    ),
    WeightSpec(
        name="musiq_spaq",
        filename="musiq_spaq_ckpt-358bb6af.pth",
        url="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth",
        license="pyiqa weights (PolyForm-Noncommercial-1.0.0 via pyiqa; MUSIQ: Apache-2.0)",
        used_by=("imaging_quality",),
        sha256="358bb6af275e28ea56821d44fb55c6cb83645db11f394d3ad65b2d149965ab50",
        pin_source=_PYIQA_PIN + " (no size is quoted: the sha256 alone is checked)",
        description="MUSIQ trained on SPAQ (pyiqa `musiq-spaq`, VBench imaging quality)",
        subdir="video_quality",
    ),
    WeightSpec(
        name="maniqa_koniq",
        filename="ckpt_koniq10k.pt",
        url="https://github.com/IIGROUP/MANIQA/releases/download/Koniq10k/ckpt_koniq10k.pt",
        license="Apache-2.0 (IIGROUP/MANIQA)",
        used_by=("video_quality",),
        sha256="a207f8ab57322e6be38ff5c8d019301dc032b454bef21c3c9f9dbf7974eebff6",
        size=543_335_435,
        pin_source="sha256/size of the IIGROUP/MANIQA Koniq10k release asset as recorded by public MANIQA deployments",
        description="MANIQA trained on KonIQ-10k (Verse-Bench's MANIQA checkpoint)",
        subdir="video_quality",
    ),
)

for _spec in BUILTIN_WEIGHTS:
    register_weight(_spec)
