from click.testing import CliRunner

from nava_eval.runners.cli.bench import LAZY_BENCHMARKS, command
from nava_eval.runners.perf.harness import bench_harness


def test_harness_split_is_consistent():
    result = bench_harness("seedtts", score=False, limit=1)
    assert result.samples == 1 and result.score_wall_s is None
    assert 0 < result.model_s < result.generate_wall_s
    assert result.overhead_share == round(1 - result.model_s / result.generate_wall_s, 4)
    assert result.machine.torch_version


def test_every_bench_subcommand_loads():
    import importlib

    import click

    for name, (target, _) in LAZY_BENCHMARKS.items():
        module_name, _, attr = target.partition(":")
        assert isinstance(getattr(importlib.import_module(module_name), attr), click.Command), name
    assert CliRunner().invoke(command, ["--help"]).exit_code == 0
