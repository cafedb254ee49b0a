import json
import subprocess
import sys

from click.testing import CliRunner

from nava_eval.rundir.files import atomic_write_json
from nava_eval.rundir.records import MetricResult, Results
from nava_eval.rundir.schema import to_dict
from nava_eval.runners.cli.main import COMMANDS, cli


def test_help_lists_every_command_without_importing_torch():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from nava_eval.runners.cli.main import cli\n"
        "result = CliRunner().invoke(cli, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(result.output)\n"
        "print('TORCH_LOADED=' + str('torch' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "TORCH_LOADED=False" in out
    for name in COMMANDS:
        assert name in out


def test_help_and_ls_never_import_torch():
    """`nava-eval ls` reads every metric's fields from its class: the metric modules must stay torch-free."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from nava_eval.runners.cli.main import cli\n"
        "for args in (['--help'], ['ls'], ['ls', 'metrics']):\n"
        "    result = CliRunner().invoke(cli, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "    print(result.output)\n"
        "print('TORCH_LOADED=' + str('torch' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "TORCH_LOADED=False" in out
    assert "sync_c_mova" in out and "protocol sync/syncnet-lse-pass-v2" in out  # fields read from the classes


def test_every_registered_command_module_exists():
    import importlib

    import click

    for name, (target, _) in COMMANDS.items():
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command), name


def test_unknown_command_lists_valid_names():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "valid commands:" in result.output and "report" in result.output


def test_report_published_prints_table():
    result = CliRunner().invoke(cli, ["report", "--published", "--benchmark", "versebench"])
    assert result.exit_code == 0, result.output
    assert "| NAVA " in result.output and "Sync-C ↑¹" in result.output and "**7.791**" in result.output


def test_report_published_json_is_parseable_and_bad_format_lists_choices():
    result = CliRunner().invoke(cli, ["report", "--published", "--benchmark", "seedtts", "--format", "json"])
    data = json.loads(result.output)
    assert "NAVA" in json.dumps(data) and "62.4" in json.dumps(data)
    bad = CliRunner().invoke(cli, ["report", "--published", "--format", "xlsx"])
    assert bad.exit_code == 2 and "'md', 'html', 'csv', 'parquet', 'jsonl', 'latex', 'json'" in bad.output


def test_report_adds_runs_as_rows_and_flags_smoke(tmp_path):
    res = Results(
        run_name="mine",
        benchmark="versebench",
        model="nava-tiny",
        smoke=True,
        metrics={"sync_c": MetricResult(name="sync_c", protocol="p", direction="higher", value=9.5, n=3)},
    )
    atomic_write_json(tmp_path / "results.json", to_dict(res))
    result = CliRunner().invoke(cli, ["report", str(tmp_path), "--published"])
    assert result.exit_code == 0, result.output
    assert "nava-tiny [smoke]" in result.output and "9.500" in result.output
    assert "**9.5" not in result.output  # a smoke row never takes "best", even with the highest value
    assert "**7.791**" in result.output  # the best published Sync-C keeps the mark
    assert "smoke: random weights, numbers are not meaningful" in result.output


def test_report_bad_results_file_is_a_clear_error(tmp_path):
    (tmp_path / "results.json").write_text('{"run_name": 3}')
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert "results.json" in result.output and "$.run_name" in result.output


def test_ls_shows_metrics_with_protocols_and_presets():
    result = CliRunner().invoke(cli, ["ls", "metrics"])
    assert result.exit_code == 0, result.output
    assert "sync/syncnet-lse-v1" in result.output and "sync_d: ↓ lower is better" in result.output
    presets = CliRunner().invoke(cli, ["ls", "presets"])
    assert "smoke" in presets.output and "nava-tiny" in presets.output


def test_doctor_reports_checks_and_finds_ffmpeg_without_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(cli, ["doctor", "--no-weights"])
    assert "✓ python" in result.output and "torch" in result.output
    assert "✓ ffmpeg" in result.output and "imageio_ffmpeg" in result.output


def test_doctor_lists_nava_and_scorer_weights_with_the_fetch_command(monkeypatch, tmp_path):
    monkeypatch.setenv("NAVA_WEIGHTS_DIR", str(tmp_path / "no-such-folder"))
    monkeypatch.setenv("NAVA_EVAL_WEIGHTS_DIR", str(tmp_path / "scorer-cache"))
    result = CliRunner().invoke(cli, ["doctor"])
    assert "✗ weights:nava-6b" in result.output and "nava-eval weights download nava" in result.output
    assert "weights:syncnet" in result.output and "nava-eval weights download syncnet" in result.output
    assert result.exit_code == 0  # missing weights warn; they are not required for the smoke preset


def _all_options():
    import importlib

    import click

    def walk(command, path):
        for param in command.params:
            if isinstance(param, click.Option):
                yield path, param
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):  # lazy groups import their subcommands here
                yield from walk(command.get_command(ctx, name), f"{path} {name}")

    for name, (target, _) in COMMANDS.items():
        module_name, _, attr = target.partition(":")
        yield from walk(getattr(importlib.import_module(module_name), attr), name)


def test_every_numeric_option_states_its_valid_range():
    """A number a user types is checked where it is parsed, so `--batch-size -1` cannot drop a file."""
    import click

    unbounded = [
        f"{path} {param.opts[0]}"
        for path, param in _all_options()
        if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType)
        and not isinstance(param.type, click.types._NumberRangeBase)
    ]
    assert unbounded == [], f"numeric options without a range: {unbounded}"


def test_bad_numbers_and_unknown_names_are_refused_before_any_work(tmp_path):
    result = CliRunner().invoke(cli, ["score-files", "sync", "--batch-size", "-1", str(tmp_path)])
    assert result.exit_code == 2 and "--batch-size" in result.output
    result = CliRunner().invoke(cli, ["compare", str(tmp_path), str(tmp_path), "--resamples", "0"])
    assert result.exit_code == 2 and "--resamples" in result.output
    result = CliRunner().invoke(cli, ["report", "--published", "--metrics", "nosuch"])
    assert result.exit_code == 1 and "nosuch" in result.output and "sync_c" in result.output
