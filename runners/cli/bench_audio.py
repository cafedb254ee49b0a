"""`nava-eval bench audio`: seconds per clip of audiobox, clap and wer_sensevoice, batched vs one at a time."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from nava_eval.runners.cli.options import FiniteFloatRange


@click.command(name="audio")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    type=click.Choice(["audiobox", "clap", "wer_sensevoice", "dnsmos", "kl", "audio_is", "clap_mova"]),
    help="Default: all of them (dnsmos always on its real ONNX networks).",
)
@click.option(
    "--clips",
    type=click.IntRange(1, 1_000_000),
    default=8,
    show_default=True,
    help="Number of synthetic clips (each with a ground truth).",
)
@click.option(
    "--seconds", type=FiniteFloatRange(min=0.1, max=1e6), default=5.0, show_default=True, help="Clip length."
)
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), default=8, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option(
    "--size",
    type=click.Choice(["smoke", "full_size", "real"]),
    default="smoke",
    show_default=True,
    help="smoke: tiny random networks; full_size: official architectures with random weights (no "
    "download); real: the registered weights (must be present).",
)
@click.option(
    "--fd-items",
    type=click.IntRange(0, 1_000_000),
    default=300,
    show_default=True,
    help="Items for the set-level FD timing (0: skip).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def command(
    metrics: tuple[str, ...],
    clips: int,
    seconds: float,
    batch_size: int,
    device: str,
    size: str,
    fd_items: int,
    as_json: bool,
) -> None:
    """Time the audio metrics with batching and one clip at a time, on this machine."""
    from nava_eval.runners.perf.audio import AUDIO_METRICS, bench_audio

    result = bench_audio(
        metrics or AUDIO_METRICS,
        n_clips=clips,
        seconds=seconds,
        batch_size=batch_size,
        device=device,
        size=size,  # type: ignore[arg-type]
        fd_items=fd_items,
    )
    if as_json:
        data = asdict(result)
        for row, t in zip(data["timings"], result.timings, strict=True):
            row.update(
                batched_s_per_clip=t.batched_s_per_clip,
                single_s_per_clip=t.single_s_per_clip,
                speedup=t.speedup,
            )
        click.echo(json.dumps(data))
        return
    m = result.machine
    click.echo(
        f"audio metrics ({result.size}) on {m.device} ({m.device_name}; cpu {m.cpu}, {m.cpu_threads} threads; "
        f"torch {m.torch_version}); {len(result.timings) and result.timings[0].n_clips} clips of "
        f"{result.clip_seconds} s"
    )
    for t in result.timings:
        click.echo(
            f"  {t.metric:<15} {t.protocol:<55} batch {t.batch_size:>3}: {t.batched_s_per_clip:7.3f} s/clip   "
            f"one at a time: {t.single_s_per_clip:7.3f} s/clip   speed-up {t.speedup:.2f}x"
        )
    if result.fd is not None:
        f = result.fd
        click.echo(
            f"  set-level FD, {f.n_items} items × {f.dims}-d: one value {f.point_s * 1000:.1f} ms, "
            f"bootstrap CI ({f.n_resamples} resamples) {f.bootstrap_s:.2f} s"
        )
