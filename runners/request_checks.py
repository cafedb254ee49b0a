"""Checks of what a command was asked, run before any weight loads or any sample is generated.

A typo in `--metrics` or `--device` must not cost a whole generation pass before it is noticed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from nava_eval.errors import InvalidValue
from nava_eval.user_files import file_problem

_DEVICE = re.compile(r"(cpu|cuda)(?::(\d{1,3}))?")


def check_metric_names(names: Iterable[str]) -> None:
    """UnknownName (a KeyError) listing the valid metrics when a name is not registered."""
    from nava_eval.metrics.registry import METRICS

    METRICS.check(names)


def check_device(device: str | None, nproc: int = 1, *, launched: bool = False) -> None:
    """ValueError unless `device` is cpu, cuda or cuda:N naming a visible GPU usable with this layout.

    `launched`: under torchrun, where each rank takes cuda:LOCAL_RANK as --nproc workers do.
    """
    if device is None:
        return
    match = _DEVICE.fullmatch(device)
    if match is None:
        raise InvalidValue(f"--device {device!r}: write cpu, cuda or cuda:N (N a GPU index, e.g. cuda:1)")
    kind, index = match.group(1), match.group(2)
    if kind == "cpu":
        return
    import torch

    if not torch.cuda.is_available():
        raise InvalidValue(f"--device {device}: no CUDA device is visible to torch here; use --device cpu")
    if index is None:
        return
    if nproc > 1 or launched:
        raise InvalidValue(
            f"--device {device} picks one GPU, but each of the {nproc if nproc > 1 else 'torchrun'} worker "
            "processes uses the GPU of its local rank; choose GPUs with CUDA_VISIBLE_DEVICES instead"
        )
    count = torch.cuda.device_count()
    if int(index) >= count:
        visible = ", ".join(f"cuda:{i}" for i in range(count))
        raise InvalidValue(f"--device {device}: this machine shows {count} CUDA device(s) ({visible})")


def check_scorer_weights(weights: Mapping[str, str | Path], metrics: Iterable[str]) -> None:
    """ValueError naming an override that is not a registered weight, not used here, or not a file."""
    from nava_eval.metrics.weights import weight_specs

    specs = weight_specs()
    chosen = set(metrics)
    for name, path in weights.items():
        spec = specs.get(name)
        if spec is None:
            raise InvalidValue(f"--weights {name}: no such scorer weight; known: {', '.join(sorted(specs))}")
        if not chosen & set(spec.used_by):
            raise InvalidValue(
                f"--weights {name}: used by {', '.join(spec.used_by)}, not by the metrics of this run "
                f"({', '.join(sorted(chosen)) or 'none'})"
            )
        problem = file_problem(Path(path).expanduser())
        if problem is not None:  # "no such file", or a FIFO/device that would block the read
            raise InvalidValue(f"--weights {name}={path}: {problem}; give a regular file")
