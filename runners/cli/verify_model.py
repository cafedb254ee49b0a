"""`nava-eval verify-model`: NavaModel against reference vectors, or a preset against a key list."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import UserPath


@click.command(name="verify-model")
@click.argument("folder", required=False, type=UserPath(exists=True, file_okay=False, path_type=Path))
@click.option("--preset", help="Model preset to build on the meta device (with --keys), e.g. nava-6b.")
@click.option(
    "--keys",
    "key_file",
    type=UserPath(exists=True, dir_okay=False, path_type=Path),
    help="Key list (name<TAB>[shape] per line) to compare the preset's state dict with.",
)
@click.option("--device", default="cpu", show_default=True, help="Device for the reference forwards.")
def command(folder: Path | None, preset: str | None, key_file: Path | None, device: str) -> None:
    """Run every case of a reference FOLDER (config.json, weights.safetensors, cases.*) and compare.

    One line per case with max abs / max rel error and pass/fail against the README's tolerances;
    exit code 1 on any failure. With --preset and --keys, compare names and shapes instead.
    """
    from nava_eval.nava.verify.model import verify_folder, verify_keys

    if (folder is None) == (preset is None):
        raise click.UsageError("give either a reference FOLDER or --preset NAME --keys FILE")
    if preset is not None:
        if key_file is None:
            raise click.UsageError("--preset needs --keys FILE")
        try:
            check = verify_keys(preset, key_file)
        except UserError as err:
            raise click.ClickException(str(err)) from err
        click.echo(f"{check.model}: {check.num_tensors} tensors, {check.num_parameters:,} parameters")
        if check.expected_parameters is not None and check.expected_parameters != check.num_parameters:
            click.echo(f"parameter count differs: {check.key_file} states {check.expected_parameters:,}")
        click.echo(check.problems or f"names and shapes agree with {check.key_file}")
        raise SystemExit(0 if check.ok else 1)

    try:
        result = verify_folder(folder, device=device)
    except UserError as err:
        raise click.ClickException(str(err)) from err
    for case in result.results:
        click.echo(case.line())
    failed = sum(r.status == "FAIL" for r in result.results)
    pending = sum(r.status == "pending" for r in result.results)
    click.echo(f"{len(result.results) - failed - pending} passed, {failed} failed, {pending} pending")
    raise SystemExit(1 if failed else 0)
