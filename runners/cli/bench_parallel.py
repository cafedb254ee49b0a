"""`nava-eval bench parallel`: time one forward at SP=1 and SP=N (Ulysses) on local processes."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from nava_eval.errors import UserError


@click.command(name="parallel")
@click.option(
    "--sp",
    "sp_sizes",
    type=click.IntRange(1, 1_000_000),
    multiple=True,
    help="SP size to time (repeatable). Default: 2.",
)
@click.option("--config", "config_name", default="nava-tiny", show_default=True, help="Model preset.")
@click.option(
    "--heads",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Override the preset's head count (SP must divide it).",
)
@click.option(
    "--grid",
    nargs=3,
    type=click.IntRange(1, 1_000_000),
    default=(3, 16, 16),
    show_default=True,
    help="Video latent T H W.",
)
@click.option(
    "--audio-tokens",
    type=click.IntRange(1, 1_000_000),
    default=50,
    show_default=True,
    help="Audio latent length.",
)
@click.option("--repeats", type=click.IntRange(1, 1_000_000), default=5, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def command(
    sp_sizes: tuple[int, ...],
    config_name: str,
    heads: int | None,
    grid: tuple[int, int, int],
    audio_tokens: int,
    repeats: int,
    device: str,
    as_json: bool,
) -> None:
    """Sequence-parallel overhead: SP=1 references vs SP=N, with the time spent in collectives."""
    from nava_eval.runners.perf.parallel import bench_parallel

    try:
        result = bench_parallel(
            sp_sizes or (2,),
            config_name=config_name,
            num_heads=heads,
            latent_grid=grid,
            audio_tokens=audio_tokens,
            repeats=repeats,
            device=device,
        )
    except UserError as err:
        raise click.UsageError(str(err)) from err
    if as_json:
        click.echo(json.dumps(asdict(result)))
        return
    m = result.machine
    click.echo(
        f"{result.config_name} ({result.num_heads} heads, {result.num_layers} layers), "
        f"{result.video_tokens} video + {result.audio_tokens} audio tokens, median of {result.repeats}; "
        f"{m.device} ({m.device_name}; cpu {m.cpu}; torch {m.torch_version})"
    )
    for i, t in enumerate(result.timings):
        coll = ""
        if t.collective_seconds is not None:
            coll = f"  collectives {t.collective_seconds * 1e3:7.1f} ms ({100 * t.collective_seconds / t.seconds:4.1f}%)"
        click.echo(
            f"  {t.label:<16} {t.processes} proc x {t.threads_per_process} thr  {t.seconds * 1e3:8.1f} ms/forward  "
            f"speedup vs {result.timings[0].label}: {result.speedup(i):5.2f}x  "
            f"cpu {t.cpu_seconds * 1e3:8.1f} ms ({result.work_ratio(i):4.2f}x work){coll}"
        )
