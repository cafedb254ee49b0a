"""`nava-eval bench scoring`: clips/s of data-parallel scoring with N processes vs one."""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import click


@click.command(name="scoring")
@click.option(
    "--nproc",
    type=click.IntRange(2, 1_000_000),
    default=2,
    show_default=True,
    help="Processes to compare with one.",
)
@click.option(
    "--clips",
    type=click.IntRange(2, 1_000_000),
    default=16,
    show_default=True,
    help="Synthetic clips scored.",
)
@click.option(
    "--metric", default="video_quality", show_default=True, help="Metric (smoke networks), CPU-bound."
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 1_000_000),
    default=2,
    show_default=True,
    help="Alternating rounds; best kept.",
)
@click.option(
    "--threads", type=click.IntRange(1, 1_000_000), default=1, show_default=True, help="Threads per process."
)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option(
    "--decode-once",
    is_flag=True,
    help="Instead: the audio-visual metrics that share a decode (IB-Score, DeSync), each clip decoded once "
    "for all of them vs once per metric (--clips, --rounds, --device apply).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def command(
    nproc: int,
    clips: int,
    metric: str,
    rounds: int,
    threads: int,
    device: str,
    decode_once: bool,
    as_json: bool,
) -> None:
    """Score the same synthetic clips with 1 and with N processes (`score --nproc` path); clips/s and ratio.

    With --decode-once: the pass's metrics that share decoded frames and audio, decoded once vs per metric.
    """
    from nava_eval.runners.perf.scoring import bench_scoring

    if decode_once:
        _decode_once(clips, rounds, device, as_json)
        return

    if clips < nproc:
        raise click.UsageError(f"--clips {clips} is fewer than --nproc {nproc}: some processes would idle")
    result = bench_scoring(nproc, clips=clips, metric=metric, rounds=rounds, threads=threads, device=device)
    if as_json:
        click.echo(json.dumps(asdict(result)))
        return
    m = result.machine
    click.echo(
        f"{result.metric} (smoke networks) on {result.clips} clips, best of {result.rounds} alternating rounds; "
        f"{m.device} ({m.device_name}; cpu {m.cpu}, {m.cpu_threads} threads; torch {m.torch_version})"
    )
    click.echo(
        "  load average before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}".format(
            *result.load_before, *result.load_after
        )
    )
    for i, t in enumerate(result.timings):
        ratio = ""
        if i:
            ratio = (
                f"  speed-up {result.speedup(i):4.2f}x = {100 * result.scaling(i):5.1f}% of linear "
                f"(scoring loops: {100 * result.score_scaling(i):5.1f}%)"
            )
        click.echo(
            f"  {t.processes} proc x {t.threads_per_process} thr  wall {t.wall_s:7.2f} s = {t.clips_per_s:6.3f} "
            f"clips/s  scoring {t.score_s:7.2f} s = {t.score_clips_per_s:6.3f} clips/s  cpu {t.cpu_s:7.2f} s{ratio}"
        )
    if max(result.load_before[0], result.load_after[0]) > 0.5 * (os.cpu_count() or 1):
        click.echo(
            "  note: other processes were running (load average above half the cores): wall-clock ratios are "
            "unreliable; rerun on a quiet machine"
        )


def _decode_once(clips: int, rounds: int, device: str, as_json: bool) -> None:
    from nava_eval.errors import UserError
    from nava_eval.runners.perf.decode import bench_decode

    try:
        result = bench_decode(clips=clips, rounds=rounds, device=device)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(asdict(result) | {"speedup": result.speedup}))
        return
    m = result.machine
    click.echo(
        f"{'+'.join(result.metrics)} (smoke networks) on {result.clips} synthetic {result.seconds_per_clip:g}-s "
        f"{result.size[0]}x{result.size[1]} clips, chunks of {result.chunk}, best of {len(result.per_metric.wall_all)} "
        f"alternating rounds; {m.device} ({m.device_name}; cpu {m.cpu}, {m.cpu_threads} threads; torch {m.torch_version})"
    )
    for s in (result.per_metric, result.decoded_once):
        click.echo(
            f"  {s.label:<13} wall {s.wall_s:7.2f} s  file decodes {s.decodes:4d}  peak held {s.peak_mib:8.1f} MiB"
            f"  rounds {list(s.wall_all)}"
        )
    click.echo(f"  decoded once / per metric: {result.speedup:4.2f}x faster (same process, same clips)")
