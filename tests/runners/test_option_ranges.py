"""Numbers from every route (flags, --config, run.json replay, --seeds, the API) meet one finite range;
no NaN or infinity is ever written as JSON; a refused submission leaves no file."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nava_eval.runners.cli.main import COMMANDS, cli
from nava_eval.runners.cli.options import FiniteFloatRange


def _commands():
    for name, (target, _) in sorted(COMMANDS.items()):
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        yield name, command
        for sub in getattr(command, "commands", {}).values():
            yield f"{name} {sub.name}", sub


def test_every_numeric_option_of_every_command_is_finite_and_bounded_both_ways():
    loose = []
    for name, command in _commands():
        for param in command.params:
            ptype = param.type
            if not isinstance(ptype, (click.types.IntParamType, click.types.FloatParamType)):
                continue
            bounded = getattr(ptype, "min", None) is not None and getattr(ptype, "max", None) is not None
            finite = not isinstance(ptype, click.types.FloatParamType) or isinstance(ptype, FiniteFloatRange)
            if not (bounded and finite):
                loose.append(f"{name} --{param.name}")
    assert loose == []


def _dry_run(tmp_path: Path, *args: str):
    return CliRunner().invoke(
        cli,
        ["run", "versebench", "--preset", "smoke", "--dry-run", "--run-dir", str(tmp_path / "run"), *args],
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--seeds=-1,2"],
        ["--seeds", "4294967296"],
        ["--seed", "-1"],
        ["--seed", "4294967296"],
        ["--seed", "4294967295", "--num-seeds", "2"],
        ["--timeout", "inf"],
        ["--timeout", "nan"],
        ["--timeout", "1e400"],
        ["--steps", "100000000"],
    ],
    ids=lambda a: " ".join(a),
)
def test_a_number_out_of_range_is_a_usage_error_from_a_flag(tmp_path: Path, args: list[str]):
    result = _dry_run(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "text",
    [
        "seeds: '-1,2'\n",
        "seed: -1\n",
        "seed: 4294967296\n",
        "timeout: .inf\n",
        "timeout: .nan\n",
        "steps: 0\n",
    ],
)
@pytest.mark.parametrize("route", ["yaml", "replay"])
def test_the_same_range_holds_from_a_config_file_and_a_replay(tmp_path: Path, text: str, route: str):
    import yaml

    values = {"benchmark": "versebench", "preset": "smoke", **yaml.safe_load(text)}
    if route == "yaml":
        path = tmp_path / "run.yaml"
        path.write_text(f"benchmark: versebench\npreset: smoke\n{text}")
    else:
        path = tmp_path / "replay" / "run.json"
        path.parent.mkdir()
        as_json = {
            k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()
        }
        path.write_text(json.dumps({"schema": "nava-eval/run/v1", "config": as_json}))
    result = CliRunner().invoke(
        cli, ["run", "--config", str(path), "--dry-run", "--run-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 2, result.output


def test_the_api_takes_the_same_seed_range():
    from nava_eval.runners.run import RunRequest, _check_request

    with pytest.raises(ValueError, match="outside 0..4294967295"):
        _check_request(RunRequest("versebench", preset="smoke", seeds=(-1, 2)))
    with pytest.raises(ValueError, match="finite"):
        _check_request(RunRequest("versebench", preset="smoke", timeout_s=math.inf))


@pytest.mark.parametrize("value", ["1e400", "inf", "nan", "0", "-3"])
def test_import_params_b_must_be_finite_and_positive(tmp_path: Path, value: str):
    from media_files import write_clip

    write_clip(tmp_path / "outs" / "00000.mp4", seed=1)
    run = tmp_path / "run"
    result = CliRunner().invoke(
        cli, ["import", "versebench", str(tmp_path / "outs"), "--model", "M", "--preset", "smoke", "--sets", "set1",
              "--params-b", value, "--run-dir", str(run)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert not run.exists()


def test_the_import_api_refuses_an_infinite_parameter_count(tmp_path: Path):
    from media_files import write_clip

    from nava_eval.runners.importing import ImportRefused, ImportRequest, import_outputs

    write_clip(tmp_path / "outs" / "00000.mp4", seed=1)
    with pytest.raises(ImportRefused, match="params-b"):
        import_outputs(
            ImportRequest("versebench", tmp_path / "outs", "M", run_dir=tmp_path / "run", preset="smoke",
                          params_b=float("inf"))
        )  # fmt: skip
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_json_writers_refuse_non_finite_numbers_and_write_nothing(tmp_path: Path, bad: float):
    from nava_eval.rundir.files import NonFiniteJSON, append_jsonl, atomic_write_json

    target = tmp_path / "x.json"
    with pytest.raises(NonFiniteJSON, match=r"x\.json: not written: \$\.a\.b\[1\]"):
        atomic_write_json(target, {"a": {"b": [1.0, bad]}})
    assert list(tmp_path.iterdir()) == []
    log = tmp_path / "x.jsonl"
    append_jsonl(log, {"v": 1.0})
    with pytest.raises(NonFiniteJSON, match=r"\$\.v"):
        append_jsonl(log, {"v": bad})
    assert log.read_text() == '{"v": 1.0}\n'


def test_a_hand_edited_run_json_seed_meets_the_same_range(tmp_path: Path):
    from media_files import write_clip

    from nava_eval.runners.importing import ImportRequest, import_outputs
    from nava_eval.runners.run import load_prepared

    write_clip(tmp_path / "outs" / "00000.mp4", seed=1)
    run = tmp_path / "run"
    import_outputs(ImportRequest("versebench", tmp_path / "outs", "M", run_dir=run, preset="smoke"))
    data = json.loads((run / "run.json").read_text())
    data["spec"]["seeds"] = [-1, 2]
    (run / "run.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"run\.json: seeds: run seed -1 is outside 0\.\.4294967295"):
        load_prepared(run)
