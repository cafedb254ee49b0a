"""Run config files: `nava-eval run --config run.yaml`, read generically from the command's own params.

A config file is a YAML (or JSON) mapping from option names to values: `steps: 10`, `sets: set3`,
`weights: [syncnet=/w/syncnet_v2.model]`; dashes or underscores (`run-dir` = `run_dir`) and the
argument (`benchmark: versebench`) work too. Nothing here lists `run`'s options: every parameter
of the click command is accepted, typed by its own click type, so an option added to `run` later
works from a file without more code. Values become click's `default_map`, so a flag given on the
command line wins over the file.

The resolved configuration (file + command line + defaults) is written to run.json under
`config`; `nava-eval run --config RUN/run.json` replays it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

CONFIG_PARAM = "config"
RUN_SCHEMA_PREFIX = "nava-eval/run/"


class ConfigFileError(click.BadParameter):
    """A config file that cannot be used; the message names the file, the key and the expected type."""


def _read_mapping(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"{path}: expected a mapping of option names to values, got {type(data).__name__}"
        )
    if str(data.get("schema", "")).startswith(RUN_SCHEMA_PREFIX):
        # A run directory's run.json: replay the configuration it recorded.
        config = data.get(CONFIG_PARAM)
        if not isinstance(config, dict):
            raise ConfigFileError(
                f"{path}: this run.json records no `config` (only `nava-eval run` records one; an imported run has none); "
                "pass the options on the command line instead"
            )
        return config
    return data


def _choices(param: click.Parameter) -> list[str] | None:
    return list(param.type.choices) if isinstance(param.type, click.Choice) else None


def _range_text(ptype: click.ParamType) -> str:
    """ " (x>=1)" for click's IntRange/FloatRange bounds, "" for an unbounded type."""
    low, high = getattr(ptype, "min", None), getattr(ptype, "max", None)
    if low is None and high is None:
        return ""
    parts = []
    if low is not None:
        parts.append(f"{low}{'<' if getattr(ptype, 'min_open', False) else '<='}")
    parts.append("x")
    if high is not None:
        parts.append(f"{'<' if getattr(ptype, 'max_open', False) else '<='}{high}")
    text = "".join(parts)
    if high is None:  # read "x>=1" rather than "1<=x"
        text = f"x{'>' if getattr(ptype, 'min_open', False) else '>='}{low}"
    return f" ({text})"


def describe_type(param: click.Parameter) -> str:
    """What a config value for `param` must be, in words (for error messages)."""
    ptype = param.type
    if getattr(param, "is_flag", False) and not getattr(param, "multiple", False):
        base = "true or false"
    elif isinstance(ptype, click.Choice):
        base = "one of " + ", ".join(map(str, ptype.choices))
    elif isinstance(ptype, click.types.IntParamType):
        base = "an integer" + _range_text(ptype)
    elif isinstance(ptype, click.types.FloatParamType):
        base = "a number" + _range_text(ptype)
    elif isinstance(ptype, click.types.BoolParamType):
        base = "true or false"
    elif isinstance(ptype, click.Path):
        base = "a path (string)"
    else:
        base = "a string"
    if getattr(param, "multiple", False) or param.nargs != 1:
        return f"a list of {base.removeprefix('a ').removeprefix('an ')} (one item per value)"
    return base


def _json_type_ok(param: click.Parameter, value: Any) -> bool:
    """The YAML/JSON type matches what the option takes (click would silently convert "5" or 1)."""
    ptype = param.type
    if isinstance(value, bool) or (
        getattr(param, "is_flag", False) and not getattr(param, "multiple", False)
    ):
        return isinstance(value, bool) and (
            getattr(param, "is_flag", False) or isinstance(ptype, click.types.BoolParamType)
        )
    if isinstance(ptype, click.types.IntParamType):
        return isinstance(value, int)
    if isinstance(ptype, click.types.FloatParamType):
        return isinstance(value, (int, float))
    if isinstance(ptype, click.Choice):
        return isinstance(value, str) or (
            isinstance(value, (int, float)) and str(value) in map(str, ptype.choices)
        )
    return isinstance(value, str)


def convert_value(ctx: click.Context, param: click.Parameter, value: Any, source: Path) -> Any:
    """Check one config value against `param` and convert it as click would; ConfigFileError otherwise."""
    key = min(_keys(param), key=len).replace("_", "-")
    many = getattr(param, "multiple", False) or param.nargs != 1

    def fail(detail: str) -> ConfigFileError:
        return ConfigFileError(f"{source}: key {key!r}: expected {describe_type(param)}, {detail}")

    if value is None:
        if param.required:
            raise fail("got null (this one is required)")
        return None
    items = value if many else [value]
    if many and not isinstance(value, list):
        raise fail(f"got {type(value).__name__} {value!r}")
    converted = []
    for item in items:
        if isinstance(item, (dict, list)) or not _json_type_ok(param, item):
            raise fail(f"got {type(item).__name__} {item!r}")
        try:
            converted.append(param.type.convert(item, param, ctx))
        except click.BadParameter as exc:
            raise fail(f"got {item!r} ({exc.format_message()})") from None
    return tuple(converted) if many else converted[0]


def _keys(param: click.Parameter) -> set[str]:
    """The names a config file may use for `param`: its flag (`run-dir`, `weights`) or its param name."""
    names = {param.name or ""}
    names |= {opt.lstrip("-") for opt in param.opts if opt.startswith("--")}
    return {n.replace("-", "_") for n in names if n}


def load_config(ctx: click.Context, path: Path) -> dict[str, Any]:
    """The config file's values, checked against the command's params and keyed by param name."""
    command = ctx.command
    params = [p for p in command.params if p.name and p.name != CONFIG_PARAM]
    by_key = {key: p for p in params for key in _keys(p)}
    values: dict[str, Any] = {}
    for raw_key, value in _read_mapping(path).items():
        param = by_key.get(str(raw_key).replace("-", "_"))
        if param is None:
            valid = sorted(min(_keys(p), key=len).replace("_", "-") for p in params)
            raise ConfigFileError(
                f"{path}: unknown key {raw_key!r}; `{command.name}` takes: {', '.join(valid)}"
            )
        if param.name in values:
            raise ConfigFileError(f"{path}: key {raw_key!r} sets {param.name!r} a second time")
        values[param.name] = convert_value(ctx, param, value, path)
    return values


def _apply_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is None:
        return None
    # Eager, so this runs before the other params read their values; default_map makes every value
    # from the file a default that the command line overrides (arguments included).
    ctx.default_map = {**(ctx.default_map or {}), **load_config(ctx, value)}
    return value


def config_option(func):
    """`--config FILE`: read option values from a YAML/JSON file (or a run.json) before the others."""
    return click.option(
        "--config",
        CONFIG_PARAM,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        is_eager=True,
        expose_value=True,
        callback=_apply_config,
        help="YAML/JSON file of option values (any option of this command; flags given here win). "
        "A run directory's run.json replays that run's settings.",
    )(func)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value.expanduser().resolve())
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def resolved_config(ctx: click.Context, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every parameter's final value (file, command line or default) as JSON; paths made absolute."""
    values = ctx.params if params is None else params
    return {name: _jsonable(value) for name, value in values.items() if name != CONFIG_PARAM}
