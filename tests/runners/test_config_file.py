"""Run config files: every option of `run` from YAML, CLI flags win, clear errors, generic over params."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml

from nava_eval.runners.cli.run import command as run_command
from nava_eval.runners.config_file import ConfigFileError, load_config, resolved_config


def _context(args: list[str]) -> click.Context:
    """Parse like the CLI does (eager --config, types, defaults) without running the command."""
    return run_command.make_context("run", args)


def _value_for(param: click.Parameter, tmp_path: Path):
    """A valid, non-default config value for any click parameter, from its type alone."""
    ptype = param.type
    if getattr(param, "is_flag", False):
        value = not bool(param.default)
    elif isinstance(ptype, click.Choice):
        value = list(ptype.choices)[-1]
    elif isinstance(ptype, click.types.IntParamType):
        value = (ptype.min if isinstance(ptype, click.IntRange) and ptype.min is not None else 0) + 2
    elif isinstance(ptype, click.types.FloatParamType):
        value = 12.5
    elif isinstance(ptype, click.Path):
        path = tmp_path / f"{param.name}.txt"
        path.write_text("00001\n")
        value = str(path)
    elif param.name == "scorer_weights":
        value = "syncnet=/w/syncnet_v2.model"
    else:
        value = f"value-of-{param.name}"
    return [value] if getattr(param, "multiple", False) else value


def test_every_option_of_run_is_accepted_from_a_file(tmp_path: Path) -> None:
    params = [p for p in run_command.params if p.name != "config"]
    config = {p.name: _value_for(p, tmp_path) for p in params}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    ctx = _context(["--config", str(path)])
    for p in params:
        expected = p.type_cast_value(ctx, config[p.name])
        assert ctx.params[p.name] == expected, p.name
    assert ctx.params["benchmark"] == "value-of-benchmark"  # the argument comes from the file too


def test_command_line_flags_override_the_file_and_dashes_work(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("benchmark: versebench\nsteps: 10\nrun-dir: out/x\nvae-tiling: false\nt5_offload: true\n")
    ctx = _context(["--config", str(path), "seedtts", "--steps", "3"])
    assert ctx.params["benchmark"] == "seedtts" and ctx.params["steps"] == 3
    assert ctx.params["run_dir"] == Path("out/x") and ctx.params["vae_tiling"] is False
    assert ctx.params["t5_offload"] is True and ctx.params["cfg_batch"] is None
    resolved = resolved_config(ctx)
    assert resolved["run_dir"] == str(Path("out/x").resolve()) and "config" not in resolved


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("benchmark: versebench\nstepz: 3\n", ["unknown key 'stepz'", "steps"]),
        ("steps: ten\n", ["key 'steps'", "expected an integer", "got str 'ten'"]),
        ("steps: 0\n", ["key 'steps'", "expected an integer (1<=x<=10000)", "got 0"]),
        ("steps: 2.5\n", ["key 'steps'", "got float 2.5"]),
        ("fail_fast: 'yes'\n", ["key 'fail-fast'", "expected true or false"]),
        ("seed_policy: random\n", ["key 'seed-policy'", "one of per-sample, official-rank"]),
        ("weights: syncnet=/x\n", ["key 'weights'", "a list of"]),
        ("timeout: [1]\n", ["key 'timeout'", "expected a number"]),
        ("steps: 1\nsteps-x: 2\n", ["unknown key 'steps-x'", "run-dir", "weights"]),
        ("- a\n- b\n", ["expected a mapping"]),
        ("steps: [1\n", ["not valid YAML at line"]),
    ],
)
def test_bad_config_names_file_key_and_expected_type(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(click.BadParameter) as err:
        _context(["--config", str(path), "versebench"])
    message = err.value.format_message()
    assert str(path) in message
    for needle in needles:
        assert needle in message


def test_a_run_json_replays_its_config_and_an_old_one_says_so(tmp_path: Path) -> None:
    run_json = tmp_path / "run.json"
    run_json.write_text('{"schema": "nava-eval/run/v1", "config": {"benchmark": "seedtts", "steps": 7}}')
    ctx = _context(["--config", str(run_json)])
    assert ctx.params["benchmark"] == "seedtts" and ctx.params["steps"] == 7
    run_json.write_text('{"schema": "nava-eval/run/v1", "spec": {}}')
    with pytest.raises(ConfigFileError, match="records no `config`"):
        load_config(click.Context(run_command), run_json)
