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


@pytest.fixture(scope="session")
def reference_wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"audiobox": folder, "clap": folder}: the wavs behind the audiobox and CLAP reference vectors,
    rebuilt from their generator (tests/reference_audio.py) and checked byte for byte against the
    sha256 the reference scripts recorded; no audio file is kept in the repository."""
    import hashlib
    import json

    from reference_audio import write_audiobox_wavs, write_clap_wavs

    root = tmp_path_factory.mktemp("reference-wavs")
    folders = {"audiobox": write_audiobox_wavs(root / "audiobox"), "clap": write_clap_wavs(root / "clap")}
    for name, folder in folders.items():
        record = REPO_ROOT / "tests" / "metrics" / "data" / name / "wavs_sha256.json"
        for wav, expected in json.loads(record.read_text())["files"].items():
            found = hashlib.sha256((folder / wav).read_bytes()).hexdigest()
            assert found == expected, (
                f"{wav}: rebuilt bytes differ from those the reference vectors were made from ({record}); "
                "numpy or soundfile changed how they write this signal"
            )
    return folders


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The marker, not item.keywords: keywords also hold folder names (tests/runners/perf/gpu/ is CPU-tested).
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return  # tests of torch-free modules collect and run without importing torch
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none (the CPU twin runs instead)")
    for item in gpu_items:
        item.add_marker(skip_gpu)
