"""Follow one sample from `nava-eval run` to its table row and count where it goes.

Why: the structure of the harness is judged by how often one sample's walk crosses between
packages (`runners` → `reports` → `runners` ...). This runs the smoke preset on one VerseBench
item in-process under a profiler and counts, over the project's own functions:

- stops: distinct (file, function) pairs entered;
- files: distinct project files entered;
- crossings: call edges (caller function → callee function) whose packages differ
  (nava_eval core, nava, benchmarks, metrics, reports, runners), counted once per edge; calls made
  while a module is being imported (decorators, class bodies) are not part of the walk and are skipped;
- room crossings: the crossings between two rooms (the neutral core left out: every room may use it).

Usage: python tools/trace_walk.py RUN_DIR [extra `run` options, e.g. --metrics sync,ib]
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nava_eval", "nava", "benchmarks", "metrics", "reports", "runners")


def _package(filename: str) -> str | None:
    try:
        rel = Path(filename).resolve().relative_to(ROOT)
    except ValueError:
        return None
    top = rel.parts[0]
    return top if top in PACKAGES and len(rel.parts) > 1 else None


def main(run_dir: str, extra: list[str]) -> None:
    from nava_eval.runners.cli import cli as cli_main

    stops: set[tuple[str, str]] = set()
    edges: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    crossings: collections.Counter[tuple[str, str]] = collections.Counter()

    def profile(frame, event, _arg):
        if event != "call":
            return
        code = frame.f_code
        pkg = _package(code.co_filename)
        if pkg is None or code.co_name.startswith("<"):
            return
        here = (code.co_filename, code.co_name)
        stops.add(here)
        caller = frame.f_back
        while caller is not None and (
            _package(caller.f_code.co_filename) is None or caller.f_code.co_name.startswith("<")
        ):
            if caller.f_code.co_name == "<module>":
                return  # import time: a decorator or class body, not the sample's walk
            caller = caller.f_back
        if caller is None:
            return
        there = (caller.f_code.co_filename, caller.f_code.co_name)
        if (there, here) in edges:
            return
        edges.add((there, here))
        from_pkg = _package(there[0])
        if from_pkg != pkg:
            crossings[(from_pkg, pkg)] += 1

    args = ["run", "versebench", "--preset", "smoke", "--limit", "1", "--run-dir", run_dir, *extra]
    sys.setprofile(profile)
    try:
        try:
            cli_main.main(args, prog_name="nava-eval", standalone_mode=False)
        except SystemExit:
            pass
    finally:
        sys.setprofile(None)
    files = {f for f, _ in stops}
    rooms = sum(n for (a, b), n in crossings.items() if "nava_eval" not in (a, b))
    print(
        f"stops: {len(stops)} in {len(files)} files; package crossings: {sum(crossings.values())}, "
        f"of which between rooms: {rooms}"
    )
    for (a, b), n in sorted(crossings.items(), key=lambda kv: -kv[1]):
        print(f"  {a} -> {b}: {n}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
