"""The `nava-eval` command line: a thin click group (main.py) and one module per subcommand."""

from nava_eval.runners.cli.main import cli, main

__all__ = ["cli", "main"]
