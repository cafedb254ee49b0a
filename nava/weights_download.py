"""Fetch the release weights (Hugging Face `ernie-research/NAVA`) and ReDimNet (torch hub).

huggingface_hub resumes interrupted files and, without `local_dir`, keeps them in the HF cache,
where `build_components` reads them in place. Files with a checksum in `RELEASE_SHA256` are
verified after the download; a mismatch deletes the file and says how to fetch it again.
Offline (`offline=True`, NAVA_EVAL_OFFLINE or HF_HUB_OFFLINE) only the cache is consulted.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from nava_eval.errors import InvalidValue, MissingFile
from nava_eval.nava.components import (
    AUDIO_VAE_FILE,
    DIT_FILE,
    DIT_FP8_FILE,
    FETCH_COMMAND,
    NAVA_REPO_ID,
    T5_FILE,
    TOKENIZER_FILES,
    VIDEO_VAE_FILE,
    release_files,
)
from nava_eval.offline import offline_requested

logger = logging.getLogger(__name__)

CONFIG_FILES = ("nava.yaml", "config.json")

#: Release path → sha256. The release publishes no checksums and the hub's LFS pointers could not be
#: read where this was written, so the table is empty: every file's sha256 is printed by the
#: download and recorded as `checkpoint_sha256` in run provenance. Fill it from the hub's LFS oids.
RELEASE_SHA256: dict[str, str] = {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_release(
    folder: Path, paths: tuple[str, ...], pins: dict[str, str] | None = None
) -> dict[str, str]:
    """sha256 of each file; a file whose pinned sha256 differs is deleted (ValueError names all of them)."""
    pins = RELEASE_SHA256 if pins is None else pins
    found, bad = {}, []
    for rel in paths:
        path = folder / rel
        if not path.is_file():
            continue
        found[rel] = digest = _sha256(path)
        if rel in pins and digest != pins[rel]:
            real = path.resolve()
            path.unlink()
            real.unlink(missing_ok=True)  # the HF cache blob behind the snapshot link
            bad.append(f"{rel}: sha256 {digest}, expected {pins[rel]}")
    if bad:
        raise InvalidValue(
            f"deleted from {folder} (checksum mismatch): "
            + "; ".join(bad)
            + f". Fetch them again with `{FETCH_COMMAND}`."
        )
    return found


def nava_download_plan(weight_dtype: str = "auto") -> tuple[str, ...]:
    """Repository paths to fetch: the DiT in the requested precision (both for "all") and the rest."""
    dits = {"auto": (DIT_FILE,), "fp32": (DIT_FILE,), "bf16": (DIT_FILE,), "fp8_e4m3fn": (DIT_FP8_FILE,),
            "all": (DIT_FILE, DIT_FP8_FILE)}  # fmt: skip
    if weight_dtype not in dits:
        raise InvalidValue(f"weight_dtype {weight_dtype!r} unknown; valid: {', '.join(dits)}")
    return (*dits[weight_dtype], *CONFIG_FILES, VIDEO_VAE_FILE, T5_FILE, *TOKENIZER_FILES, AUDIO_VAE_FILE)


def download_nava_weights(
    local_dir: str | Path | None = None,
    *,
    weight_dtype: str = "auto",
    redimnet: bool = True,
    revision: str | None = None,
    offline: bool = False,
) -> Path:
    """Download the release files into `local_dir` (default: the HF cache) and ReDimNet into the torch
    hub cache; returns the folder `build_components("nava-6b", weights_dir=...)` reads."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = offline or offline_requested()
    plan = nava_download_plan(weight_dtype)
    logger.info("%s %d files of %s", "checking" if offline else "downloading", len(plan), NAVA_REPO_ID)
    try:
        folder = Path(
            snapshot_download(
                NAVA_REPO_ID,
                allow_patterns=list(plan),
                local_dir=None if local_dir is None else str(local_dir),
                revision=revision,
                local_files_only=offline,
            )
        )
    except LocalEntryNotFoundError as exc:
        if not offline:
            raise
        raise MissingFile(
            f"offline mode is on and {NAVA_REPO_ID} is not in the Hugging Face cache; run `{FETCH_COMMAND}` "
            "without --offline on a machine with network access"
        ) from exc
    release_files(folder, "fp8_e4m3fn" if weight_dtype == "fp8_e4m3fn" else "auto")  # every file arrived
    for rel, digest in verify_release(folder, plan).items():
        logger.info("%s sha256 %s", rel, digest)
    if redimnet and not offline:
        from nava_eval.nava.speaker import fetch_redimnet

        fetch_redimnet()
    return folder
