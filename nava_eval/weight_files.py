"""Reading weight files a user downloaded or pointed us at: never running their code, naming them when bad.

Every model and scorer loads its `.pth`/`.model` files through `read_torch_file` (torch.load with
weights_only=True) and its `.safetensors` through `read_safetensors_file`. A broken file is a
WeightFileError naming the file, what it was meant to be and what to do: not the bare "Aborted!"
that click prints for the EOFError of an empty file, and never torch's advice to retry with
weights_only=False, which would let a hostile file run code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nava_eval.errors import UserError


class WeightFileError(UserError, ValueError):
    """A weight file is missing, empty or unreadable; the message names it and says what to do."""


_REFETCH = "fetch it again (`nava-eval weights download ...`) or point to a good copy"


def _check_present(path: Path, what: str) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise WeightFileError(f"{path}: no such file ({what}); {_REFETCH}") from None
    from nava_eval.user_files import file_problem

    problem = file_problem(path)
    if problem is not None:  # a FIFO or device would block torch.load for ever
        raise WeightFileError(
            f"{path}: is {problem}, not a regular file ({what}); give the weight file itself"
        )
    if size == 0:
        raise WeightFileError(
            f"{path}: empty file (0 bytes), not {what}; an interrupted download? {_REFETCH}"
        )


def _reason(exc: BaseException) -> str:
    text = str(exc)
    # torch's unpickler message leads with advice to disable weights_only; keep only its diagnosis.
    if "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().splitlines()
        return f"{type(exc).__name__}: {detail[0].strip() if detail else 'unsupported content'}"
    first = text.strip().splitlines()[0] if text.strip() else ""
    if "weights_only" in first:
        return type(exc).__name__
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def read_torch_file(path: str | os.PathLike[str], what: str, *, mmap: bool = False) -> Any:
    """torch.load(path, weights_only=True) on CPU; WeightFileError naming the file when it cannot be read."""
    import pickle
    import zipfile

    import torch

    path = Path(path)
    _check_present(path, what)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise WeightFileError(
            f"{path}: not a readable PyTorch checkpoint for {what} ({_reason(exc)}). Weights are read "
            f"without running code from the file, so a damaged or foreign file cannot load; {_REFETCH}"
        ) from None


def read_safetensors_file(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """safetensors.torch.load_file(path); WeightFileError naming the file when it cannot be read."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    _check_present(path, what)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightFileError(
            f"{path}: not a readable safetensors file for {what} ({exc}); {_REFETCH}"
        ) from None


def read_safetensors_metadata(path: str | os.PathLike[str], what: str) -> dict[str, str]:
    """The header metadata of a safetensors file (no tensor is read); WeightFileError when unreadable."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    _check_present(path, what)
    try:
        with safe_open(str(path), "pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightFileError(
            f"{path}: not a readable safetensors file for {what} ({exc}); {_REFETCH}"
        ) from None
