"""`~` in a path means the home folder wherever the path enters: flags, --config, run.json replays, mappings."""

from __future__ import annotations

import importlib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from media_files import write_clip

from nava_eval.runners.cli.main import COMMANDS, cli
from nava_eval.runners.cli.options import UserPath
from nava_eval.runners.cli.run import command as run_command
from nava_eval.runners.config_file import resolved_config


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME is a fresh folder; the working directory another, where a literal `~` folder would appear."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return folder


def _commands():
    for name, (target, _) in sorted(COMMANDS.items()):
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        yield name, command
        for sub in getattr(command, "commands", {}).values():
            yield f"{name} {sub.name}", sub


def test_every_path_option_of_every_command_expands_the_home_folder():
    plain = [
        f"{name} {param.name}"
        for name, command in _commands()
        for param in command.params
        if isinstance(param.type, click.Path) and not isinstance(param.type, UserPath)
    ]
    assert plain == []


@pytest.mark.parametrize("source", ["flag", "config", "replay"])
def test_run_dir_with_a_tilde_is_the_home_folder_from_a_flag_a_config_and_a_replay(
    home: Path, tmp_path: Path, source: str
):
    if source == "flag":
        args = ["versebench", "--run-dir=~/runs/x"]  # the shell leaves `~` after `=` alone
    elif source == "config":
        cfg = tmp_path / "run.yaml"
        cfg.write_text("benchmark: versebench\nrun-dir: ~/runs/x\n")
        args = ["--config", str(cfg)]
    else:
        run_json = tmp_path / "run.json"
        run_json.write_text(
            '{"schema": "nava-eval/run/v1", "config": {"benchmark": "versebench", "run_dir": "~/runs/x"}}'
        )
        args = ["--config", str(run_json)]
    ctx = run_command.make_context("run", args)
    assert ctx.params["run_dir"] == home / "runs" / "x"
    assert resolved_config(ctx)["run_dir"] == str(home / "runs" / "x")


def test_import_then_score_with_tilde_paths_use_one_folder_and_never_a_literal_tilde(
    home: Path, tmp_path: Path
):
    src = home / "outs"
    write_clip(src / "00000.mp4", seed=1)
    write_clip(src / "clip_b.mp4", seed=2)
    mapping = tmp_path / "map.csv"
    mapping.write_text("id,path\n00000,00000.mp4\n00001,~/outs/clip_b.mp4\n")
    result = CliRunner().invoke(
        cli, ["import", "versebench", "~/outs", "--model", "M", "--preset", "smoke", "--sets", "set1",
              "--mapping", str(mapping), "--run-dir=~/runs/m"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "imported 2 of 2" in result.output
    assert (home / "runs" / "m" / "run.json").is_file()
    result = CliRunner().invoke(cli, ["score", "~/runs/m", "--metrics", "video_quality", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (home / "runs" / "m" / "scores" / "video_quality.jsonl").is_file()
    assert not (Path.cwd() / "~").exists()


def test_a_jsonl_prompt_set_under_the_home_folder(home: Path):
    from nava_eval.benchmarks.base import get_benchmark

    assert get_benchmark("jsonl:~/prompts.jsonl").path == home / "prompts.jsonl"


def test_check_against_a_baseline_under_the_home_folder(home: Path, monkeypatch: pytest.MonkeyPatch):
    from nava_eval.reports import regression

    (home / "base").mkdir()
    (home / "base" / "results.json").write_text("{}")
    seen: list[Path] = []

    def load_run(path):
        seen.append(Path(path))
        raise RuntimeError("stop here")

    monkeypatch.setattr(regression, "load_run", load_run)
    with pytest.raises(RuntimeError, match="stop here"):
        regression.resolve_baseline("~/base", None)  # type: ignore[arg-type]
    assert seen == [home / "base"]
