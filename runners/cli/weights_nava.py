"""`nava-eval weights download nava`: the release weights (HF ernie-research/NAVA) and ReDimNet."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import UserPath


@click.command(name="nava")
@click.option(
    "--dir", "local_dir", type=UserPath(path_type=Path), default=None, help="Folder (default: HF cache)."
)
@click.option(
    "--weight-dtype",
    type=click.Choice(["auto", "fp8_e4m3fn", "all"]),
    default="auto",
    show_default=True,
    help="Which DiT file: NAVA.safetensors, NAVA_fp8.safetensors, or both.",
)
@click.option("--no-redimnet", is_flag=True, help="Skip the ReDimNet speaker model (torch hub).")
@click.option("--dry-run", is_flag=True, help="Only list the files that would be fetched.")
@click.option(
    "--offline",
    is_flag=True,
    help="Never touch the network: check the files already in the HF cache (also NAVA_EVAL_OFFLINE=1).",
)
def command(
    local_dir: Path | None, weight_dtype: str, no_redimnet: bool, dry_run: bool, offline: bool = False
) -> None:
    """Fetch every file the nava-6b preset reads (tens of GB), resuming, and say where they went."""
    from nava_eval.nava.weights_download import download_nava_weights, nava_download_plan, offline_requested

    plan = nava_download_plan(weight_dtype)
    if dry_run:
        for path in plan:
            click.echo(path)
        if not no_redimnet:
            click.echo("torch.hub IDRnD/ReDimNet (model M, ft_mix, vb2+vox2+cnc)")
        return
    try:
        folder = download_nava_weights(
            local_dir,
            weight_dtype=weight_dtype,
            redimnet=not no_redimnet,
            offline=offline or offline_requested(),
        )
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"NAVA weights in {folder}")
    click.echo(f"use them with: --weights-dir {folder}  (or leave it out to read the HF cache)")
