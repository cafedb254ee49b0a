"""The machine a benchmark ran on: GPU, driver, CUDA, torch, CPU, and the code's version."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from nava_eval.runners.perf.cpu_bench import PEAK_BF16_FLOPS, _cpu_name


@dataclass(frozen=True)
class GpuMachine:
    device: str
    device_name: str
    compute_capability: str | None
    multiprocessors: int | None
    memory_bytes: int | None
    driver: str | None
    cuda_runtime: str | None  # the CUDA torch was built with
    cudnn: int | None
    torch_version: str
    triton_version: str | None
    flash_attn_version: str | None
    python: str
    cpu: str
    cpu_threads: int
    nava_eval_version: str
    git_sha: str | None
    datasheet_bf16_flops: float | None  # dense bf16 peak from the vendor's datasheet, when known


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _driver_version() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip().splitlines()
    return line[0].strip() if out.returncode == 0 and line else None


def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _nava_eval_version() -> str:
    from nava_eval import __version__

    return __version__


def datasheet_peak(device_name: str) -> float | None:
    for key, value in PEAK_BF16_FLOPS.items():
        if key in device_name:
            return value
    return None


def collect_machine(device: torch.device) -> GpuMachine:
    """Read everything from the running process and the driver; None where a fact is unavailable."""
    on_gpu = device.type == "cuda"
    props = torch.cuda.get_device_properties(device) if on_gpu else None
    name = props.name if props is not None else _cpu_name()
    return GpuMachine(
        device=str(device),
        device_name=name,
        compute_capability=f"{props.major}.{props.minor}" if props is not None else None,
        multiprocessors=props.multi_processor_count if props is not None else None,
        memory_bytes=props.total_memory if props is not None else None,
        driver=_driver_version() if on_gpu else None,
        cuda_runtime=torch.version.cuda,
        cudnn=torch.backends.cudnn.version() if on_gpu else None,
        torch_version=torch.__version__,
        triton_version=_package_version("triton"),
        flash_attn_version=_package_version("flash-attn") or _package_version("flash_attn"),
        python=sys.version.split()[0],
        cpu=_cpu_name() or platform.machine(),
        cpu_threads=torch.get_num_threads(),
        nava_eval_version=_nava_eval_version(),
        git_sha=_git_sha(),
        datasheet_bf16_flops=datasheet_peak(name) if on_gpu else None,
    )
