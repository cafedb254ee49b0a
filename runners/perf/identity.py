"""What checking outputs on disk costs a command: sha256 of every file vs the stat-gated index.

`score` and `run` verify each output before reusing a score or a finished sample
(reports.file_identity). Cold, every file is read and hashed; warm, a stat per file proves it
unchanged. This times both over synthetic outputs of a chosen size in one temporary folder, in the
same process, so the ratio is the number to compare.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nava_eval.runners.perf.cpu_bench import MachineInfo


@dataclass(frozen=True)
class IdentityTiming:
    files: int
    file_mb: float
    cold_s: float  # no index: every file hashed
    warm_s: float  # index present: stat only
    cold_hashed: int
    warm_hashed: int
    speedup: float  # cold / warm
    machine: MachineInfo


def bench_identity(files: int = 200, file_mb: float = 2.0, rounds: int = 3) -> IdentityTiming:
    """Best of `rounds` cold and warm passes over `files` random files of `file_mb` MB each."""
    from nava_eval.rundir.identity import FileIdentityIndex

    size = int(file_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="nava-bench-identity-") as tmp:
        root = Path(tmp)
        paths = []
        past = time.time_ns() - 60_000_000_000  # older than the racy window, as finished outputs are
        for i in range(files):
            path = root / "outputs" / f"{i:05d}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(size))
            os.utime(path, ns=(past, past))
            paths.append(path)
        index_path = root / ".file-identity.json"
        cold, warm = [], []
        cold_hashed = warm_hashed = 0
        for _ in range(rounds):
            index_path.unlink(missing_ok=True)
            t0 = time.perf_counter()
            index = FileIdentityIndex(root, index_path)
            for path in paths:
                index.sha256(path)
            index.save()
            cold.append(time.perf_counter() - t0)
            cold_hashed = index.hashed
            t0 = time.perf_counter()
            again = FileIdentityIndex(root, index_path)
            for path in paths:
                again.sha256(path)
            warm.append(time.perf_counter() - t0)
            warm_hashed = again.hashed
    best_cold, best_warm = min(cold), min(warm)
    return IdentityTiming(
        files=files,
        file_mb=file_mb,
        cold_s=round(best_cold, 4),
        warm_s=round(best_warm, 4),
        cold_hashed=cold_hashed,
        warm_hashed=warm_hashed,
        speedup=round(best_cold / best_warm, 1) if best_warm > 0 else float("inf"),
        machine=MachineInfo.collect(torch.device("cpu")),
    )
