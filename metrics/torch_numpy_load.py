"""Reading a training checkpoint whose extra entries hold numpy arrays, without unpickling code.

Release checkpoints saved during training (PANNs' `Cnn14_mAP=0.431.pth`: {"model", "sampler", ...})
carry numpy arrays and scalars next to the tensors. `torch.load(weights_only=True)` refuses them
because numpy's reconstruction functions are not on its allowlist. They only rebuild arrays, dtypes
and scalars from bytes, so we allow exactly those (named as the file names them, numpy 1 or 2
spelling) for that one load; a file that needs any other global is refused as before.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from nava_eval.weight_files import WeightFileError, read_torch_file

_NUMPY_DATA = re.compile(
    r"numpy\.(_core|core)\.multiarray\.(_reconstruct|scalar)|numpy\.(ndarray|dtype)|numpy\.dtypes\.\w+DType"
)


def read_torch_file_numpy_data(path: str | Path, what: str) -> Any:
    """read_torch_file, retried with numpy's array/dtype/scalar rebuilders allowed when only they are missing."""
    import torch

    try:
        return read_torch_file(path, what)
    except WeightFileError as refused:
        try:
            needed = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        except Exception:
            raise refused from None
        if not needed or not all(_NUMPY_DATA.fullmatch(name) for name in needed):
            raise refused from None
        allowed: list[Any] = []
        for name in needed:
            module, _, attr = name.rpartition(".")
            allowed.append((getattr(importlib.import_module(module), attr), name))
        if "numpy.dtype" in needed:  # a dtype is rebuilt as its numpy.dtypes class (Int64DType, ...)
            import numpy.dtypes

            allowed += [
                c for n, c in vars(numpy.dtypes).items() if n.endswith("DType") and isinstance(c, type)
            ]
        with torch.serialization.safe_globals(allowed):
            return torch.load(str(path), map_location="cpu", weights_only=True)
