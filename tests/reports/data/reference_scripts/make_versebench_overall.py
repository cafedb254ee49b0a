"""Reference vectors for Verse-Bench's Overall score, computed by the toolkit's own functions.

Run with the Verse-Bench toolkit checkout (Dorniwang/Verse-Bench, commit 5645a09) as argument:

    python make_versebench_overall.py /path/to/Verse-Bench > ../versebench_overall.json

calculate_metrics.py imports every scorer (torch, insightface, moviepy...) at module level, so this
script does not import it: it takes the file's own constants (METRIC_BOUNDS,
HIGHER_IS_BETTER_METRICS, WEIGHTS) and functions (normalize_metric, calculate_overall_score) out of
the source with `ast`, runs them unchanged, and records their outputs on inputs that stress the
formula: values beyond the bounds (clipped), the −999 sentinel of a metric with no item, CS and
AV-A both normalising to 0 (S_joint's guard), and ordinary values.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from pathlib import Path

KEEP = {"METRIC_BOUNDS", "HIGHER_IS_BETTER_METRICS", "WEIGHTS", "normalize_metric", "calculate_overall_score"}

CASES = {
    "ordinary": {"AS": 0.61, "ID": 0.82, "FD": 0.92, "KL": 1.7, "CS": 0.31, "CE": 5.9, "CU": 6.4,
                 "PC": 3.2, "PQ": 7.23, "WER": 0.126, "LSE-C": 6.28, "AV-A": 0.48},
    "beyond_bounds": {"AS": 1.3, "ID": -0.2, "FD": 3.5, "KL": -0.1, "CS": 1.2, "CE": 11.0, "CU": 0.5,
                      "PC": 0.2, "PQ": 10.5, "WER": 1.4, "LSE-C": 12.0, "AV-A": 1.5},
    "joint_guard": {"AS": 0.5, "ID": 0.5, "FD": 1.0, "KL": 2.0, "CS": 0.0, "CE": 5.0, "CU": 5.0,
                    "PC": 5.0, "PQ": 5.0, "WER": 0.2, "LSE-C": 5.0, "AV-A": 1.0},
    "toolkit_missing": {"AS": 0.55, "ID": 0.7, "FD": -999, "KL": -999, "CS": 0.25, "CE": 6.0, "CU": 6.5,
                        "PC": 3.0, "PQ": 7.0, "WER": -999, "LSE-C": -999, "AV-A": 0.6},
    "exact_bounds": {"AS": 1.0, "ID": 0.0, "FD": 0.0, "KL": 4.0, "CS": 1.0, "CE": 1.0, "CU": 10.0,
                     "PC": 10.0, "PQ": 1.0, "WER": 0.0, "LSE-C": 10.0, "AV-A": 0.0},
}  # fmt: skip


def main(toolkit: Path) -> None:
    source = (toolkit / "calculate_metrics.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    body = [
        node
        for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name in KEEP)
        or (isinstance(node, ast.Assign) and any(getattr(t, "id", None) in KEEP for t in node.targets))
    ]
    namespace: dict = {}
    exec(compile(ast.Module(body, type_ignores=[]), "calculate_metrics.py", "exec"), namespace)  # noqa: S102
    out = {
        "source": "Dorniwang/Verse-Bench calculate_metrics.py",
        "source_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "bounds": namespace["METRIC_BOUNDS"],
        "higher_is_better": sorted(namespace["HIGHER_IS_BETTER_METRICS"]),
        "weights": namespace["WEIGHTS"],
        "cases": {name: {"inputs": case, "outputs": namespace["calculate_overall_score"](case)}
                  for name, case in CASES.items()},
    }  # fmt: skip
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
