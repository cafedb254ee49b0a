"""Seeded weights for tiny test networks, rebuilt at run time instead of stored as files.

Each float tensor is a function of (seed, its name, its shape): numpy's generator seeded with the seed
and the CRC-32 of the name, so a reference script running the official code (under its own pins) and
the test build bit-identical weights from a list of names and shapes. Matrices are scaled by
1/sqrt(fan-in) and vectors sit near 1 (weights) or 0 (biases), so a random network stays in range.
numpy and torch only: an official code's venv can import this file too.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch


def seeded_tensor(name: str, shape: Iterable[int], seed: int) -> torch.Tensor:
    shape = tuple(int(s) for s in shape)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    values = rng.standard_normal(shape).astype(np.float32)
    if len(shape) >= 2:
        values *= np.float32(1.0 / np.sqrt(max(1, int(np.prod(shape[1:])))))
    else:
        values *= np.float32(0.1)
        if name.endswith("weight") or name.endswith("weight_g"):
            values += np.float32(1.0)
    return torch.from_numpy(values)


def seeded_state(keys: Iterable[tuple[str, Iterable[int]]], seed: int) -> dict[str, torch.Tensor]:
    """{name: seeded_tensor(name, shape, seed)} for each (name, shape)."""
    return {name: seeded_tensor(name, shape, seed) for name, shape in keys}


def audiobox_tiny_checkpoint(folder: str | os.PathLike) -> Path:
    """The tiny audiobox checkpoint of make_audiobox.py, rebuilt from the keys and seed expected.json records."""
    recorded = json.loads(
        (Path(__file__).parent / "metrics" / "data" / "audiobox" / "expected.json").read_text()
    )["checkpoint"]
    path = Path(folder) / "audiobox_tiny_checkpoint.pt"
    if not path.exists():
        weights = seeded_state(recorded["keys"], recorded["seed"])
        state = {"state_dict": {"model." + k: v for k, v in weights.items()},
                 "model_cfg": recorded["model_cfg"], "target_transform": recorded["target_transform"]}  # fmt: skip
        torch.save(state, path)
    return path
