"""Shared test fixtures. `shared_dir` is the one way tests reach ../shared (fixtures, reference)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_shared_dir() -> Path | None:
    """../shared beside the checkout, or $NAVA_EVAL_SHARED; None when neither exists."""
    candidates = [os.environ.get("NAVA_EVAL_SHARED"), REPO_ROOT.parent / "shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "fixtures").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Path of the shared folder; skips with the reason when it is absent (CI always has it)."""
    found = find_shared_dir()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have ../shared beside the checkout (reference fixtures), but it is missing")
        no_shared = (
            "../shared (reference fixtures) is not beside this checkout; set NAVA_EVAL_SHARED to use one"
        )
        pytest.skip(no_shared)
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none (the CPU twin runs instead)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
