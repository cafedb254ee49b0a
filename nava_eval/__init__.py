"""nava-eval: generate, score and compare NAVA and baseline audio-video models.

The repository keeps five top-level folders (`nava/`, `benchmarks/`, `metrics/`, `reports/`,
`runners/`); installed, they live under this one package (`nava_eval.metrics.sync`, ...), because
each bare name is taken by an unrelated package on the public index. pyproject.toml maps them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nava-eval")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
