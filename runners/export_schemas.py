"""Export the JSON Schema files shipped in reports/schemas/ from the dataclasses (`python -m nava_eval.runners.export_schemas`)."""

from __future__ import annotations

from pathlib import Path

from nava_eval.reports.results import SCHEMA_CLASSES
from nava_eval.reports.schema import export_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "reports" / "schemas"


def all_schema_classes() -> dict[str, type]:
    """Every file format nava-eval writes, by schema file stem."""
    from nava_eval.runners.spec import RunFile

    return {**SCHEMA_CLASSES, "run": RunFile}


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    for written in export_schemas(SCHEMA_DIR, all_schema_classes()):
        print(written)
