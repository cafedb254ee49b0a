"""This process's place among launched processes: the one place that reads RANK, WORLD_SIZE, LOCAL_RANK.

torchrun (and `--nproc N`, which launches the same way) sets these; a plain process has none and is
rank 0 of 1. Torch-free, so the lock, the CLI and the reports can ask without importing torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from nava_eval.errors import InvalidValue


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    if name not in env:
        return default
    try:
        return int(env[name])
    except ValueError:
        raise InvalidValue(f"environment variable {name}={env[name]!r} is not an integer") from None


def launched_rank(env: Mapping[str, str] | None = None) -> int:
    """Global rank given by the launcher (0 when not launched)."""
    return _env_int(os.environ if env is None else env, "RANK", 0)


def launched_world_size(env: Mapping[str, str] | None = None) -> int:
    """World size given by the launcher (1 when not launched)."""
    return _env_int(os.environ if env is None else env, "WORLD_SIZE", 1)


def launched_local_rank(env: Mapping[str, str] | None = None) -> int:
    """Rank on this node (the global rank when the launcher gives no LOCAL_RANK)."""
    env = os.environ if env is None else env
    return _env_int(env, "LOCAL_RANK", launched_rank(env))


def is_main_process(env: Mapping[str, str] | None = None) -> bool:
    """Rank 0 (or not launched): the process that owns a run directory's summary files."""
    return launched_rank(env) == 0


def launched(env: Mapping[str, str] | None = None) -> bool:
    """Started by torchrun (or `--nproc N`): the launcher, not this process, decides the world."""
    return "WORLD_SIZE" in (os.environ if env is None else env)
