"""`nava-eval bench sampler`: guidance passes of one step, sequential vs one batched forward."""

from __future__ import annotations

import json
from dataclasses import asdict

import click


@click.command(name="sampler")
@click.option("--config", "config_name", default="mid", show_default=True, help="'mid' or a model preset.")
@click.option(
    "--device", "devices", multiple=True, help="cpu, cuda (repeatable). Default: cpu, plus cuda when present."
)
@click.option(
    "--grid",
    nargs=3,
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Video latent T H W (default depends on the device).",
)
@click.option("--audio-tokens", type=click.IntRange(1, 1_000_000), default=None, help="Audio latent length.")
@click.option(
    "--passes", default="CUMS", show_default=True, help="Guidance passes of the step (subset of CUMS)."
)
@click.option(
    "--repeats",
    type=click.IntRange(1, 1_000_000),
    default=5,
    show_default=True,
    help="Timed steps per setting (median reported).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON lines.")
def command(
    config_name: str,
    devices: tuple[str, ...],
    grid: tuple[int, int, int] | None,
    audio_tokens: int | None,
    passes: str,
    repeats: int,
    as_json: bool,
) -> None:
    """Time the C/U/M/S passes of one step run one by one (official) and batched; check they agree."""
    import torch

    from nava_eval.runners.perf.sampler import bench_cfg_batching

    unknown = set(passes) - set("CUMS")
    if unknown or not passes:
        raise click.BadParameter(f"passes must be letters of CUMS, got {passes!r}", param_hint="--passes")
    if not devices:
        devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    for device in devices:
        result = bench_cfg_batching(
            config_name,
            device=device,
            latent_grid=grid,
            audio_tokens=audio_tokens,
            passes=tuple(passes),
            repeats=repeats,
        )
        if as_json:
            click.echo(json.dumps(asdict(result)))
            continue
        m = result.machine
        click.echo(
            f"{result.config_name} {result.dtype} on {m.device} ({m.device_name}; {m.cpu_threads} threads; "
            f"torch {m.torch_version}): passes {''.join(result.passes)}, "
            f"{result.video_tokens} video + {result.audio_tokens} audio tokens"
        )
        for t in result.timings:
            memory = "" if t.peak_memory_bytes is None else f", peak {t.peak_memory_bytes / 2**30:.2f} GiB"
            click.echo(
                f"  {t.max_batch} pass(es)/forward: {t.seconds * 1e3:9.1f} ms per step  x{t.speedup:.2f}{memory}"
            )
        click.echo(f"  batched vs sequential max |diff|: {result.max_abs_diff:.2e}")
