"""Export the JSON Schema files shipped in nava_eval/rundir/schemas/ from the dataclasses (`python -m nava_eval.rundir.export_schemas`)."""

from __future__ import annotations

from pathlib import Path

from nava_eval.rundir.records import SCHEMA_CLASSES
from nava_eval.rundir.schema import export_schemas

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def all_schema_classes() -> dict[str, type]:
    """Every file format nava-eval writes, by schema file stem."""
    from nava_eval.rundir.run_file import RunFile

    return {**SCHEMA_CLASSES, "run": RunFile}


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    for written in export_schemas(SCHEMA_DIR, all_schema_classes()):
        print(written)
