"""Where and with what an invocation ran: versions, git state, hardware (the provenance in run.json)."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nava_eval.rundir.records import Provenance


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def collect_provenance(world_size: int = 1, dp_size: int = 1, sp_size: int = 1, **extra: Any) -> Provenance:
    """Versions, git state and hardware of this process (imports torch only if already imported)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        nava_version = version("nava-eval")
    except PackageNotFoundError:
        nava_version = "0+unknown"
    sha = _git("rev-parse", "HEAD")
    dirty = None if sha is None else bool(_git("status", "--porcelain", "--untracked-files=no"))
    torch_version = cuda = None
    gpus: list[str] = []
    if "torch" in sys.modules:
        import torch

        torch_version = torch.__version__
        cuda = torch.version.cuda
        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    else:
        try:
            torch_version = version("torch")
        except PackageNotFoundError:
            torch_version = None
    return Provenance(
        nava_eval_version=nava_version,
        git_sha=sha,
        git_dirty=dirty,
        python=platform.python_version(),
        torch=torch_version,
        cuda=cuda,
        gpus=gpus,
        hostname=socket.gethostname(),
        platform=platform.platform(),
        started_at=now_iso(),
        world_size=world_size,
        dp_size=dp_size,
        sp_size=sp_size,
        extra=dict(extra),
    )
