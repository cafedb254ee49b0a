"""Offline mode: one switch that every stage which could touch the network reads.

`nava-eval --offline` sets NAVA_EVAL_OFFLINE=1 (and HF_HUB_OFFLINE=1, so huggingface_hub and
transformers stay in their caches too) for the command it runs. Library callers set either
variable themselves or pass `offline=True` where a function takes it.
"""

from __future__ import annotations

import os

OFFLINE_ENV = "NAVA_EVAL_OFFLINE"
_TRUE = {"1", "true", "yes", "on"}


def offline_requested() -> bool:
    """True when the user asked for no network: NAVA_EVAL_OFFLINE or HF_HUB_OFFLINE is set."""
    return any(os.environ.get(k, "").strip().lower() in _TRUE for k in (OFFLINE_ENV, "HF_HUB_OFFLINE"))


def offline_environment() -> dict[str, str]:
    """The variables that put this process and the libraries it loads in offline mode."""
    return {OFFLINE_ENV: "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
