"""Run `nava-eval bench gpu` from a source checkout with nothing installed (the lent GPU machine).

    python3 tools/bench_gpu.py --out "$OUT"      # same options as `nava-eval bench gpu`

An installed nava-eval maps the repository's folders (nava/, metrics/, runners/, ...) under the
`nava_eval` package; a bare checkout does not, so this adds the checkout to the package's path.
docs/performance.md says how to carry the missing packages (tools/device_wheels.sh).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def use_checkout() -> None:
    """Make `nava_eval.<folder>` importable from this checkout."""
    sys.path.insert(0, str(ROOT))
    import nava_eval

    if importlib.util.find_spec("nava_eval.runners") is None:
        nava_eval.__path__.append(str(ROOT))


def main() -> None:
    use_checkout()
    from nava_eval.runners.cli.main import main as cli_main

    sys.argv = ["nava-eval", "bench", "gpu", *sys.argv[1:]]
    cli_main()


if __name__ == "__main__":
    main()
