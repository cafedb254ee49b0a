"""Which published model a run is: the explicit link between a run's model name and reports/published.csv.

A run's model name is results.json `model`: NAVA's preset model (`nava-6b`) for a generated run, or the
`--model` name given to `nava-eval import`. A run is the published model P when

1. the user says so (`nava-eval report --alias RUN_MODEL=P`), else
2. a built-in alias below names P (the preset models, whose names differ from the paper's), else
3. its name equals P's ignoring case and runs of spaces (`--model "Ovi 1.1"` is "Ovi 1.1").

Nothing else matches: "MOVA" is not "MOVA (A18B/32B total)" until an alias says so, because a paper's
row may be a specific variant (resolution, CFG) that the imported outputs are not. Runs with random
weights (smoke) are never any published model. See docs/baselines.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from nava_eval.errors import InvalidValue
from nava_eval.user_files import brief

#: run model name → published model name, for the models this harness generates itself.
BUILTIN_ALIASES: dict[str, str] = {"nava-6b": "NAVA"}


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip()).casefold()


def parse_alias(text: str) -> tuple[str, str]:
    """ "RUN_MODEL=PUBLISHED" → (run model, published model); a bad pair is a ValueError naming it."""
    run, sep, published = text.partition("=")
    if not sep or not run.strip() or not published.strip():
        raise InvalidValue(
            f"--alias {brief(text)} is not RUN_MODEL=PUBLISHED_MODEL (e.g. 'mova-720p=MOVA-720p (dual CFG)')"
        )
    return run.strip(), published.strip()


def published_name(
    run_model: str, published_models: Iterable[str], aliases: Mapping[str, str] | None = None
) -> str | None:
    """The published model `run_model` is (spelled as in published.csv), or None."""
    by_norm = {_norm(m): m for m in published_models}
    for table in (aliases or {}, BUILTIN_ALIASES):
        for run, published in table.items():
            if _norm(run) == _norm(run_model):
                return by_norm.get(_norm(published))
    return by_norm.get(_norm(run_model))


def check_aliases(aliases: Mapping[str, str], published_models: Iterable[str], benchmark: str) -> None:
    """Raise ValueError when a user alias names a model with no published numbers for `benchmark`."""
    known = sorted(set(published_models))
    by_norm = {_norm(m) for m in known}
    for run, published in aliases.items():
        if _norm(published) not in by_norm:
            raise InvalidValue(
                f"--alias {run}={published}: no published {benchmark} numbers for {published!r}; "
                f"published models: {', '.join(known) or 'none'}"
            )
