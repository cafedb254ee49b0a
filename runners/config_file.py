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

from nava_eval.runners.cli.options import UserPath
from nava_eval.user_files import brief, cut

CONFIG_PARAM = "config"
RUN_SCHEMA_PREFIX = "nava-eval/run/"


class ConfigFileError(click.BadParameter):
    """A config file that cannot be used; the message names the file, the key and the expected type."""


#: A config is a page of options; a run.json (replayed) lists every imported file, so JSON may be larger.
MAX_YAML_BYTES = 1 << 20
MAX_JSON_BYTES = 64 << 20
#: Aliases and the nodes they expand to: a 329-byte file of nested aliases expands to 2**30 strings.
MAX_ALIASES = 100
MAX_NODES = 100_000


class _Refused(Exception):
    """Raised inside the YAML loader; turned into a ConfigFileError naming the file."""


def _yaml_loader():
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader that refuses duplicate keys, more than MAX_ALIASES aliases and documents that
        expand to more than MAX_NODES nodes (counted on the node graph, before any object is built)."""

        aliases = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    mark = self.peek_event().start_mark
                    raise _Refused(
                        f"more than {MAX_ALIASES} aliases (line {mark.line + 1}); write the values out"
                    )
            return super().compose_node(parent, index)

        def get_single_node(self):
            node = super().get_single_node()
            if node is not None and _expanded_size(node, {}) > MAX_NODES:
                raise _Refused(f"its aliases expand to more than {MAX_NODES} values; write the values out")
            return node

        def construct_mapping(self, node, deep=False):
            seen: dict[str, int] = {}
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    line = key_node.start_mark.line + 1
                    if key_node.value in seen:
                        raise _Refused(
                            f"key {brief(key_node.value)} appears twice (lines {seen[key_node.value]} and "
                            f"{line}); keep one"
                        )
                    seen[key_node.value] = line
            return super().construct_mapping(node, deep)

    BoundedLoader.add_constructor("tag:yaml.org,2002:map", BoundedLoader.construct_yaml_map)
    return BoundedLoader


def _expanded_size(node, memo: dict[int, int]) -> int:
    """Number of nodes `node` stands for once every alias is expanded (capped just past MAX_NODES)."""
    import yaml

    if id(node) in memo:
        return memo[id(node)]
    total = 1
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        total += _expanded_size(child, memo)
        if total > MAX_NODES:
            break
    memo[id(node)] = total
    return total


def _json_object(text: str) -> dict[str, Any] | None:
    """A JSON object with no duplicate key, or None when the text is not JSON (then it is read as YAML)."""
    import json

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _Refused(f"key {brief(key)} appears twice; keep one")
            out[key] = value
        return out

    def not_finite(token: str) -> float:
        raise _Refused(f"{token} is not a finite number")

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=not_finite)
    except json.JSONDecodeError:
        return None
    except RecursionError:
        raise _Refused("nested too deeply") from None
    return data if isinstance(data, dict) else None


def _read_mapping(path: Path) -> dict[str, Any]:
    import yaml

    from nava_eval.user_files import UserFileError, read_text

    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ConfigFileError(f"{path}: {size} bytes; a config file has at most {MAX_JSON_BYTES} bytes")
        text = read_text(path)
    except UserFileError as exc:  # a FIFO, a device, not UTF-8
        raise ConfigFileError(str(exc)) from None
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = _json_object(text) if text.lstrip().startswith("{") else None
        if data is None:
            if len(text.encode("utf-8")) > MAX_YAML_BYTES:
                raise ConfigFileError(
                    f"{path}: {len(text.encode('utf-8'))} bytes of YAML; a config file has at most "
                    f"{MAX_YAML_BYTES} bytes (a run.json may be larger)"
                )
            data = yaml.load(text, Loader=_yaml_loader()) if text.strip() else {}  # noqa: S506 - a SafeLoader
    except _Refused as exc:
        raise ConfigFileError(f"{path}: refused: {exc}") from None
    except RecursionError:
        raise ConfigFileError(f"{path}: nested too deeply") from None
    except ValueError as exc:  # Python's own limit on an integer's digits, among others
        raise ConfigFileError(f"{path}: unusable value ({cut(str(exc), 200)})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(f"{path}: not valid YAML{where}: {cut(str(problem))}") from None
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
        raise fail(f"got {type(value).__name__} {brief(value)}")
    converted = []
    for item in items:
        if isinstance(item, (dict, list)) or not _json_type_ok(param, item):
            raise fail(f"got {type(item).__name__} {brief(item)}")
        try:
            converted.append(param.type.convert(item, param, ctx))
        except click.BadParameter as exc:
            raise fail(f"got {brief(item)} ({cut(exc.format_message())})") from None
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
                f"{path}: unknown key {brief(raw_key)}; `{command.name}` takes: {', '.join(valid)}"
            )
        if param.name in values:
            raise ConfigFileError(f"{path}: key {brief(raw_key)} sets {param.name!r} a second time")
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
        type=UserPath(exists=True, dir_okay=False, path_type=Path),
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
