"""`nava-eval bench speech`: utterances/s of the WER and SIM metrics, batched vs one at a time."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from nava_eval.runners.cli.options import FiniteFloatRange


@click.command(name="speech")
@click.option("--metric", "metrics", multiple=True, type=click.Choice(["wer", "sim"]), help="Default: both.")
@click.option(
    "--utterances",
    type=click.IntRange(1, 1_000_000),
    default=16,
    show_default=True,
    help="Number of synthetic utterances.",
)
@click.option(
    "--seconds",
    type=FiniteFloatRange(min=0.1, max=1e6),
    default=3.0,
    show_default=True,
    help="Mean utterance length (0.6-1.4x spread).",
)
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), default=8, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option(
    "--real-weights",
    is_flag=True,
    help="Use Whisper-large-v3 / WavLM-Large (weights must be present); default: tiny random models.",
)
@click.option(
    "--full-size-sim",
    is_flag=True,
    help="SIM with the real WavLM-Large+ECAPA architecture and random weights (no download).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def command(
    metrics: tuple[str, ...],
    utterances: int,
    seconds: float,
    batch_size: int,
    device: str,
    real_weights: bool,
    full_size_sim: bool,
    as_json: bool,
) -> None:
    """Time WER and SIM scoring with batching and one utterance at a time, on this machine."""
    from nava_eval.runners.perf.speech import bench_speech

    result = bench_speech(
        metrics or ("wer", "sim"),
        n_utterances=utterances,
        seconds=seconds,
        batch_size=batch_size,
        device=device,
        smoke=not real_weights,
        full_size_sim=full_size_sim,
    )
    if as_json:
        data = asdict(result)
        for row, t in zip(data["timings"], result.timings, strict=True):
            row.update(
                batched_utt_per_s=t.batched_utt_per_s, single_utt_per_s=t.single_utt_per_s, speedup=t.speedup
            )
        click.echo(json.dumps(data))
        return
    m = result.machine
    click.echo(
        f"speech metrics on {m.device} ({m.device_name}; cpu {m.cpu}, {m.cpu_threads} threads; torch {m.torch_version})"
    )
    click.echo(
        f"  {len(result.audio_seconds)} utterances of {min(result.audio_seconds)}-{max(result.audio_seconds)} s"
    )
    for t in result.timings:
        click.echo(
            f"  {t.metric:<4} {t.protocol:<45} batch {t.batch_size:>3}: {t.batched_utt_per_s:8.2f} utt/s   "
            f"one at a time: {t.single_utt_per_s:8.2f} utt/s   speed-up {t.speedup:.2f}x"
        )
