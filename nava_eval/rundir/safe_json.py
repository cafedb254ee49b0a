"""JSON from files that may be hostile or damaged: bounded nesting, optionally finite numbers only.

`json.loads` meets a deeply nested document with a RecursionError traceback and accepts NaN and
Infinity, which then pass every comparison in a regression gate. Every reader of a file that a user
or a crash could have shaped goes through `parse_json`; its errors name the source and say what is
wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

from nava_eval.rundir.schema import SchemaError

#: Our own files nest at most ~6 levels (results → metrics → per_set → ci95); 64 leaves room for
#: per-sample details and still stops a hostile document long before Python's recursion limit.
MAX_DEPTH = 64


def _depth_exceeds(data: Any, max_depth: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(data: str | bytes, source: str, *, finite: bool = False, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one JSON document; SchemaError naming `source` for bad UTF-8, bad JSON or deep nesting.

    finite=True also rejects NaN, Infinity and numbers that overflow to infinity (1e999).
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SchemaError(
                f"{source}: not UTF-8 text (byte {exc.start}: {exc.reason}); the file is damaged or not ours"
            ) from None

    def not_finite(text: str) -> float:
        raise SchemaError(f"{source}: {text} is not a finite number; every value must be finite")

    def parse_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            not_finite(text)
        return value

    options: dict[str, Any] = {"parse_constant": not_finite, "parse_float": parse_float} if finite else {}
    try:
        value = json.loads(data, **options)
    except RecursionError:
        raise SchemaError(f"{source}: JSON nested too deeply (the limit is {max_depth} levels)") from None
    except json.JSONDecodeError as exc:
        raise SchemaError(
            f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if _depth_exceeds(value, max_depth):
        raise SchemaError(f"{source}: JSON nested too deeply (the limit is {max_depth} levels)")
    return value


def non_finite_paths(data: Any, prefix: str = "$") -> list[str]:
    """JSON paths of every NaN or infinite float inside `data` (already parsed)."""
    found: list[str] = []
    stack = [(data, prefix)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            found.append(path)
        elif isinstance(value, dict):
            stack.extend((v, f"{path}.{k}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(value))
    return sorted(found)
