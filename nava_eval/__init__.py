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


def __getattr__(name: str):  # noqa: ANN202 - PEP 562 lazy attribute
    # `nava_eval.evaluate` is the documented Python entry point (runners/api.py); loaded on first use
    # so `import nava_eval` and `nava-eval --help` stay light.
    if name == "evaluate":
        from nava_eval.runners.api import evaluate

        return evaluate
    if name == "load_results":
        # Tidy rows (pandas) of run directories and published baselines: reports/rows.py, loaded on use.
        from nava_eval.reports.rows import load_results_frame

        return load_results_frame
    raise AttributeError(f"module 'nava_eval' has no attribute {name!r}")


__all__ = ["__version__", "evaluate", "load_results"]
