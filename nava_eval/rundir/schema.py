"""Dataclass ⇄ JSON with JSON-Schema validation, so every file error names the file, the JSON path and
what was expected.

The dataclasses in `reports.results` are the single source of truth; the schema files shipped in
`nava_eval/rundir/schemas/` are exported from them (`python -m nava_eval.rundir.export_schemas` rewrites them, a test checks
they are current).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from nava_eval.errors import UserError

T = TypeVar("T")


class SchemaError(UserError, ValueError):
    """A file does not match its schema; the message names file, JSON path and expectation."""


def _type_schema(tp: Any) -> dict[str, Any]:
    origin = get_origin(tp)
    if tp is Any:
        return {}
    if origin in (Union, types.UnionType):
        options = [_type_schema(a) for a in get_args(tp)]
        return {"anyOf": options}
    if tp is type(None):
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if origin is typing.Literal:
        return {"enum": list(get_args(tp))}
    if origin in (list, tuple) or tp in (list, tuple):
        args = get_args(tp)
        item = args[0] if args else Any
        return {"type": "array", "items": _type_schema(item)}
    if origin is dict or tp is dict:
        args = get_args(tp)
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": _type_schema(value)}
    if dataclasses.is_dataclass(tp):
        return dataclass_schema(tp, top_level=False)
    raise TypeError(f"no JSON schema mapping for {tp!r}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def dataclass_schema(cls: type, top_level: bool = True) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) for a dataclass; fields without defaults are required."""
    hints = _hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for field in dataclasses.fields(cls):
        props[field.name] = _type_schema(hints[field.name])
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            required.append(field.name)
    schema: dict[str, Any] = {
        "type": "object",
        "title": cls.__name__,
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }
    if cls.__doc__:
        schema["description"] = cls.__doc__.strip().splitlines()[0]
    if top_level:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return schema


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


@functools.cache
def _validator(cls: type) -> Any:
    # Building a validator costs ~1 ms; a large run loads thousands of records of one class.
    import jsonschema

    return jsonschema.Draft202012Validator(dataclass_schema(cls))


def validate(data: Any, cls: type, source: str) -> None:
    """Raise SchemaError naming `source`, the JSON path and what was expected."""
    validator = _validator(cls)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        shown = [f"at {_json_path(e.absolute_path)}: {e.message}" for e in errors[:5]]
        more = f"; and {len(errors) - 5} more problem(s)" if len(errors) > 5 else ""
        raise SchemaError(f"{source}: " + "; ".join(shown) + more)


def _build(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        for arg in get_args(tp):
            if arg is type(None):
                continue
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return _build(arg, value)
        non_none = [a for a in get_args(tp) if a is not type(None)]
        return _build(non_none[0], value) if len(non_none) == 1 else value
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        hints = _hints(tp)
        return tp(**{k: _build(hints[k], v) for k, v in value.items()})
    if origin is tuple:
        (item,) = get_args(tp)[:1] or (Any,)
        return tuple(_build(item, v) for v in value)
    if origin is list:
        (item,) = get_args(tp)[:1] or (Any,)
        return [_build(item, v) for v in value]
    if origin is dict:
        args = get_args(tp)
        return {k: _build(args[1], v) for k, v in value.items()} if len(args) == 2 else dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_dict(cls: type[T], data: Any, source: str) -> T:
    """Validate `data` against `cls`'s schema, then build the dataclass."""
    validate(data, cls, source)
    return _build(cls, data)


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass → plain JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(obj)


def export_schemas(folder: Path, classes: dict[str, type]) -> list[Path]:
    """Write one `<name>.schema.json` per class; returns the paths written."""
    import json

    from nava_eval.rundir.files import atomic_write_text

    written = []
    for name, cls in classes.items():
        path = folder / f"{name}.schema.json"
        atomic_write_text(path, json.dumps(dataclass_schema(cls), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
