"""Hostile --config files: alias bombs, duplicate keys, huge values; every error short and naming the file."""

from __future__ import annotations

import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nava_eval.runners.cli.main import cli
from nava_eval.runners.cli.run import command as run_command


def _load(path: Path) -> str:
    started = time.monotonic()
    with pytest.raises(click.BadParameter) as err:
        run_command.make_context("run", ["--config", str(path)])
    assert time.monotonic() - started < 5
    message = err.value.format_message()
    assert str(path) in message and len(message) < 600, message[:2000]
    return message


def _nested_aliases(levels: int, width: int) -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    lines.append(f"sets: *l{levels - 1}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("levels", "width"), [(9, 9), (30, 2), (5, 20)])
def test_an_alias_bomb_is_refused_quickly_with_a_short_message(tmp_path: Path, levels: int, width: int):
    path = tmp_path / "bomb.yaml"
    path.write_text(_nested_aliases(levels, width))
    assert path.stat().st_size < 1000
    message = _load(path)
    assert "alias" in message


def test_many_aliases_are_refused(tmp_path: Path):
    path = tmp_path / "many.yaml"
    path.write_text("x: &x 1\nmetrics: [" + ", ".join(["*x"] * 500) + "]\n")
    assert "aliases" in _load(path)


def test_a_few_aliases_still_work(tmp_path: Path):
    path = tmp_path / "ok.yaml"
    path.write_text("benchmark: &b versebench\nsets: set1\nmetrics: *b\n")
    ctx = run_command.make_context("run", ["--config", str(path)])
    assert ctx.params["benchmark"] == "versebench" and ctx.params["metrics"] == "versebench"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("benchmark: versebench\nsteps: 3\nsteps: 4\n", "'steps'"),
        ('{"benchmark": "versebench", "steps": 3, "steps": 4}', "'steps'"),
        ("benchmark: versebench\nweights: [a=b]\nweights: [c=d]\n", "'weights'"),
    ],
)
def test_a_duplicate_key_is_refused_naming_it(tmp_path: Path, text: str, key: str):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    message = _load(path)
    assert f"key {key} appears twice" in message


@pytest.mark.parametrize(
    "text",
    [
        "benchmark: versebench\nsteps: " + "9" * 100_000 + "\n",
        "benchmark: versebench\nsets: [" + ", ".join(["[x]"] * 5000) + "]\n",
        "benchmark: versebench\n" + "k" * 50_000 + ": 1\n",
        "benchmark: versebench\nseed_policy: " + "r" * 100_000 + "\n",
    ],
    ids=["long-int", "many-lists", "long-key", "long-choice"],
)
def test_errors_quote_a_huge_value_briefly(tmp_path: Path, text: str):
    path = tmp_path / "huge.yaml"
    path.write_text(text)
    _load(path)


def test_a_config_over_the_size_limit_is_refused(tmp_path: Path):
    path = tmp_path / "big.yaml"
    path.write_text("benchmark: versebench\n" + "# padding\n" * 200_000)
    assert "at most" in _load(path)


def test_the_cli_never_prints_an_unbounded_message(tmp_path: Path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_nested_aliases(9, 9))
    result = CliRunner().invoke(cli, ["run", "--config", str(path)])
    assert result.exit_code == 2 and len(result.output) < 2000, result.output[:3000]


def test_brief_never_builds_a_full_repr():
    from nava_eval.user_files import brief

    bomb: list = ["x"]
    for _ in range(40):
        bomb = [bomb, bomb]
    assert len(brief(bomb)) <= 81 and len(brief("y" * 10**6)) < 120
