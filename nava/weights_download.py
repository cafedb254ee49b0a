"""Fetch the release weights (Hugging Face `ernie-research/NAVA`) and ReDimNet (torch hub). Needs network."""

from __future__ import annotations

import logging
from pathlib import Path

from nava_eval.nava.components import (
    AUDIO_VAE_FILE,
    DIT_FILE,
    DIT_FP8_FILE,
    NAVA_REPO_ID,
    T5_FILE,
    TOKENIZER_FILES,
    VIDEO_VAE_FILE,
    release_files,
)

logger = logging.getLogger(__name__)

CONFIG_FILES = ("nava.yaml", "config.json")


def nava_download_plan(weight_dtype: str = "auto") -> tuple[str, ...]:
    """Repository paths to fetch: the DiT in the requested precision (both for "all") and the rest."""
    dits = {"auto": (DIT_FILE,), "fp32": (DIT_FILE,), "bf16": (DIT_FILE,), "fp8_e4m3fn": (DIT_FP8_FILE,),
            "all": (DIT_FILE, DIT_FP8_FILE)}  # fmt: skip
    if weight_dtype not in dits:
        raise ValueError(f"weight_dtype {weight_dtype!r} unknown; valid: {', '.join(dits)}")
    return (*dits[weight_dtype], *CONFIG_FILES, VIDEO_VAE_FILE, T5_FILE, *TOKENIZER_FILES, AUDIO_VAE_FILE)


def download_nava_weights(
    local_dir: str | Path | None = None,
    *,
    weight_dtype: str = "auto",
    redimnet: bool = True,
    revision: str | None = None,
) -> Path:
    """Download the release files into `local_dir` (default: the HF cache) and ReDimNet into the torch
    hub cache; returns the folder `build_components("nava-6b", weights_dir=...)` reads."""
    from huggingface_hub import snapshot_download

    plan = nava_download_plan(weight_dtype)
    logger.info("downloading %d files of %s", len(plan), NAVA_REPO_ID)
    folder = Path(
        snapshot_download(
            NAVA_REPO_ID,
            allow_patterns=list(plan),
            local_dir=None if local_dir is None else str(local_dir),
            revision=revision,
        )
    )
    release_files(folder, "fp8_e4m3fn" if weight_dtype == "fp8_e4m3fn" else "auto")  # every file arrived
    if redimnet:
        from nava_eval.nava.speaker import fetch_redimnet

        fetch_redimnet()
    return folder
