"""`nava-eval bench`: speed benchmarks (not tests). `model` lives here; the others load lazily."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from nava_eval.runners.cli.main import LazyGroup

#: Benchmarks that live in their own modules (imported only when run).
LAZY_BENCHMARKS: dict[str, tuple[str, str]] = {
    "sampler": (
        "nava_eval.runners.cli.bench_sampler:command",
        "Batched CFG passes vs sequential, per step.",
    ),
    "sync": (
        "nava_eval.runners.cli.bench_sync:command",
        "Sync-C/D seconds per clip: ours (batched) vs syncnet-python.",
    ),
    "ib": (
        "nava_eval.runners.cli.bench_ib:command",
        "IB-Score seconds per clip, batched vs one at a time.",
    ),
    "speech": (
        "nava_eval.runners.cli.bench_speech:command",
        "WER and SIM utterances/s, batched vs one at a time.",
    ),
    "audio": (
        "nava_eval.runners.cli.bench_audio:command",
        "audiobox, clap, wer_sensevoice seconds per clip, batched vs one at a time; set FD timing.",
    ),
    "parallel": (
        "nava_eval.runners.cli.bench_parallel:command",
        "Ulysses SP overhead on gloo/NCCL vs SP=1.",
    ),
    "scoring": (
        "nava_eval.runners.cli.bench_scoring:command",
        "Data-parallel scoring: clips/s with N processes vs one.",
    ),
    "harness": (
        "nava_eval.runners.cli.bench_harness:command",
        "Harness share of a smoke run (all but denoise+decode).",
    ),
    "identity": (
        "nava_eval.runners.cli.bench_identity:command",
        "Checking outputs on disk: sha256 of each vs the stat-gated index.",
    ),
    "gpu": (
        "nava_eval.runners.cli.bench_gpu:command",
        "NAVA-6B step, VAE decodes and scoring at the VerseBench shape (time-boxed; --small on CPU).",
    ),
}


@click.group(name="bench", cls=LazyGroup, lazy_commands=LAZY_BENCHMARKS)
def command() -> None:
    """Speed benchmarks; each subcommand records the machine it ran on."""


@command.command(name="model")
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
    "--repeats",
    type=click.IntRange(1, 1_000_000),
    default=5,
    show_default=True,
    help="Timed forwards per setting (median reported).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON lines.")
def model_command(
    config_name: str,
    devices: tuple[str, ...],
    grid: tuple[int, int, int] | None,
    audio_tokens: int | None,
    repeats: int,
    as_json: bool,
) -> None:
    """Time one NavaModel forward: tokens/s, and on GPU achieved FLOP/s ÷ peak; SDPA vs naive attention."""
    import torch

    from nava_eval.runners.perf.cpu_bench import bench_model

    if not devices:
        devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    for device in devices:
        result = bench_model(
            config_name, device=device, latent_grid=grid, audio_tokens=audio_tokens, repeats=repeats
        )
        if as_json:
            click.echo(json.dumps(asdict(result)))
            continue
        m = result.machine
        click.echo(
            f"{result.config_name} on {m.device} ({m.device_name}; cpu {m.cpu}, {m.cpu_threads} threads; "
            f"torch {m.torch_version})"
        )
        click.echo(
            f"  {result.num_parameters / 1e6:.1f} M params, {result.num_layers} layers, dim {result.dim}, "
            f"{result.video_tokens} video + {result.audio_tokens} audio tokens, "
            f"{result.flops / 1e9:.1f} GFLOP per forward"
        )
        for t in result.timings:
            peak = "" if t.peak_fraction is None else f", {100 * t.peak_fraction:.1f}% of peak"
            click.echo(
                f"  {t.label:<12} {t.seconds * 1e3:9.1f} ms  {t.tokens_per_s:10.1f} tokens/s  "
                f"{t.flops_per_s / 1e12:7.3f} TFLOP/s{peak}"
            )
        for i, t in enumerate(result.timings[1:], start=1):
            click.echo(f"  {result.timings[0].label} is {result.ratio(i):.2f}x the speed of {t.label}")
