"""Data-parallel scoring: the score stage over `--nproc N` local processes or a torchrun world.

Every rank reads the same run directory state, so every rank derives the same to-do list per metric
(runners.score.pending_units) without any message; rank r scores items r, r+W, r+2W… of it with its
metric loaded once and appends each batch to its own shard (scores/.shards/<metric>.rank<r>.jsonl, whole
lines, fsynced). After a barrier rank 0 folds the shards into scores/<metric>.jsonl in plan order (one
atomic rewrite), so the folded file is the one a single process writes. A killed scorer leaves its
shards; the next run, whatever its world size, folds them first and scores only what is still missing.
Set-level statistics (FD) are computed once, by rank 0, when results.json is aggregated after the fold.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nava_eval.errors import InvalidValue
from nava_eval.interrupts import as_interrupt, is_interrupt, restored_signal_handlers
from nava_eval.ranks import launched_world_size
from nava_eval.rundir.files import atomic_write_text, read_jsonl
from nava_eval.rundir.layout import RunDir, check_distinct_outputs
from nava_eval.rundir.unit import Unit
from nava_eval.runners.score import ScoreSummary, score_metric

logger = logging.getLogger(__name__)

#: How far a clip's score may move with the batch it lands in (`--nproc`, `--batch-size`, thread
#: count): batched float32 networks (audiobox, CLAP, the speaker-similarity encoder) round
#: differently for another batch shape or thread split, by about 1e-8 relative on the smoke runs.
#: |a - b| <= PARALLEL_ATOL + PARALLEL_RTOL * |b| for every per-clip value and every aggregate
#: (docs/guarantees.md; tests/runners/test_score_nproc_tolerance.py checks every metric).
PARALLEL_RTOL = 1e-5
PARALLEL_ATOL = 1e-6


class ScoringFailed(RuntimeError):
    """A scoring worker died; finished batches are kept in its shard and folded on the next run."""


def _complete_lines(path: Path) -> list[str]:
    """The records of a JSONL file as canonical lines, read by the one repairing JSONL reader.

    `read_jsonl` drops a torn last line (also one cut inside a multi-byte UTF-8 character) with a
    warning and names the file and line of real corruption; each record is written back exactly as
    `append_jsonl` wrote it (sorted keys, UTF-8), so a line folded once is recognised again.
    """
    return [json.dumps(record, sort_keys=True, ensure_ascii=False) for record in read_jsonl(path)]


def _line_unit(line: str) -> Unit:
    record = json.loads(line)
    return Unit(str(record.get("id")), record.get("run_seed"))


def fold_score_shards(run_dir: RunDir, metric: str, order: Mapping[Unit, int] | None = None) -> int:
    """Fold every rank's shard of `metric` into scores/<metric>.jsonl; returns the lines added.

    New lines are sorted by their unit's position in `order` (the scoring plan), so the result equals
    a single process's appends. Lines already in the file (a fold interrupted after its write) are not
    added twice. The file is rewritten atomically, then the shards are removed.
    """
    shards = sorted(run_dir.score_shards_dir.glob(f"{metric}.rank*.jsonl"))
    if not shards:
        return 0
    main = run_dir.scores(metric)
    existing = _complete_lines(main)
    seen = set(existing)
    new: list[str] = []
    for shard in shards:
        for line in _complete_lines(shard):
            if line not in seen:
                seen.add(line)
                new.append(line)
    if order is not None:
        last = len(order)
        new.sort(key=lambda line: order.get(_line_unit(line), last))  # stable: shard order among equals
    if new:
        atomic_write_text(main, "".join(f"{line}\n" for line in [*existing, *new]))
    for shard in shards:
        shard.unlink()
    try:
        run_dir.score_shards_dir.rmdir()  # only when no other metric's shard is left
    except OSError:
        pass
    return len(new)


def fold_all_shards(run_dir: RunDir) -> int:
    """Fold the shards a killed data-parallel scorer left behind, for every metric."""
    if not run_dir.score_shards_dir.is_dir():
        return 0
    metrics = sorted({p.name.split(".rank", 1)[0] for p in run_dir.score_shards_dir.glob("*.rank*.jsonl")})
    added = sum(fold_score_shards(run_dir, name) for name in metrics)
    if added:
        logger.info("folded %d score lines left by an interrupted scorer into %s", added, run_dir.scores_dir)
    return added


def _scoring_device(request_device: str | None, local_rank: int, world: int) -> str:
    """cpu, or one GPU per local rank (an explicit cuda:N only makes sense for one process)."""
    import torch

    if request_device is not None and request_device.startswith("cpu"):
        return "cpu"
    if not torch.cuda.is_available():
        if request_device is not None and request_device.startswith("cuda"):
            raise InvalidValue(f"--device {request_device}: torch sees no CUDA GPU; use --device cpu")
        return "cpu"
    if world == 1:
        return request_device or "cuda"
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise InvalidValue(
            f"scoring rank with LOCAL_RANK {local_rank} but only {count} GPU(s) visible: launch at most one "
            "process per GPU (--nproc / torchrun --nproc-per-node), or --device cpu"
        )
    return f"cuda:{local_rank}"


def _merge(summaries: Sequence[Sequence[ScoreSummary]]) -> list[ScoreSummary]:
    """Totals over ranks: cached / not generated are the same on every rank (one plan), work is summed."""
    merged = [
        dataclasses.replace(s, not_generated=list(s.not_generated), changed=list(s.changed))
        for s in summaries[0]
    ]
    for other in summaries[1:]:
        for total, part in zip(merged, other, strict=True):
            total.scored += part.scored
            total.skipped += part.skipped
            total.failed += part.failed
            total.seconds = max(total.seconds, part.seconds)
    return merged


def score_in_process(prepared: Any, metrics: Sequence[str] | None = None) -> list[ScoreSummary]:
    """Score this process's share: the whole plan in one process, or one rank of a torchrun / --nproc world.

    Returns the summaries totalled over ranks on rank 0 and [] on the other ranks.
    """
    from nava_eval.metrics.base import get_metric
    from nava_eval.runners import distributed as dist_utils
    from nava_eval.runners.run import _weight_hashes, record_weight_hashes, scoring_plan

    request = prepared.request
    run_dir: RunDir = prepared.run_dir
    plan = scoring_plan(prepared, metrics)
    world_env = launched_world_size()
    ctx = None
    if world_env > 1:
        # gloo carries the two small collectives (a barrier, a gather); metrics run on the rank's own GPU.
        ctx = dist_utils.init_distributed(1, request.timeout_s, "gloo")
    rank, world = (ctx.rank, ctx.world_size) if ctx is not None else (0, 1)
    local_rank = ctx.local_rank if ctx is not None else 0
    try:
        if rank == 0:
            fold_all_shards(run_dir)
        if ctx is not None:
            dist_utils.barrier(ctx)
        device = _scoring_device(request.device, local_rank, world)
        records = run_dir.records()
        check_distinct_outputs(run_dir, records)
        # One stat-gated identity index for every metric's check of the files on disk; rank 0 saves it.
        index = run_dir.file_index()
        summaries: list[ScoreSummary] = []
        used: dict[str, str] = {}
        metrics_by_name = {
            name: get_metric(
                name,
                smoke=prepared.spec.smoke,
                weights=dict(request.scorer_weights),
                benchmark=prepared.benchmark.name,
                **metric_channel_options(name, request.channel),
            )
            for name in plan
        }
        shared = sharing_group(metrics_by_name.values())
        common = {
            "batch_size": request.batch_size,
            "device": device,
            "share": (rank, world),
            "index": index,
        }
        by_name: dict[str, ScoreSummary] = {}
        if shared:
            by_name.update(
                score_decoding_once(
                    run_dir, prepared.samples, records, shared, {m.name: plan[m.name] for m in shared},
                    progress=request.progress and rank == 0, world=world, **common,
                )
            )  # fmt: skip
            if rank == 0:
                index.save()
        for name, units in plan.items():
            metric = metrics_by_name[name]
            if name not in by_name:
                by_name[name] = score_metric(
                    run_dir,
                    prepared.samples,
                    records,
                    metric,
                    units=units,
                    progress=request.progress and rank == 0,
                    out_path=run_dir.score_shard(name, rank) if world > 1 else None,
                    **common,
                )
                if rank == 0:
                    index.save()
            summaries.append(by_name[name])
            used.update(_weight_hashes(metric))
        if ctx is None:
            record_weight_hashes(run_dir, used)
            return summaries
        dist_utils.barrier(ctx)
        gathered = dist_utils.gather_objects_to_main((summaries, used), ctx)
        if not ctx.is_main or gathered is None:
            return []
        for name, units in plan.items():
            order = {unit: i for i, unit in enumerate(units)}
            fold_score_shards(run_dir, name, order)
        record_weight_hashes(run_dir, {k: v for _, part in gathered for k, v in part.items()})
        return _merge([part for part, _ in gathered])
    finally:
        if ctx is not None:
            dist_utils.destroy(ctx)


def metric_channel_options(name: str, channel: str | None) -> dict[str, str]:
    """`channel=` for a metric that offers another channel reading; a metric that does not keeps
    its official reading (logged, so a user asking for one knows which metrics ignored it)."""
    from nava_eval.metrics.base import metric_class
    from nava_eval.metrics.channels import channel_options

    options = channel_options(metric_class(name), channel)
    if channel is not None and not options:
        logger.warning(
            "--channel %s: %s has no channel option; it reads as its official protocol", channel, name
        )
    return options


def sharing_group(metrics: Any) -> list[Any]:
    """The metrics that read clips through a shared decode (`media_frame_rates`/`media_audio`), if two or more."""
    group = [m for m in metrics if getattr(m, "media_frame_rates", ()) or getattr(m, "media_audio", False)]
    return group if len(group) > 1 else []


def score_decoding_once(
    run_dir: RunDir,
    samples: Sequence[Any],
    records: Mapping[Unit, Any],
    metrics: Sequence[Any],
    units_by_metric: Mapping[str, Sequence[Unit]],
    *,
    batch_size: int,
    device: str,
    share: tuple[int, int],
    index: Any,
    progress: bool,
    world: int,
    media_bytes: int | None = None,
) -> dict[str, ScoreSummary]:
    """Score `metrics` over the same chunks of units in turn, every clip decoded once for all of them.

    One `MediaCache` is shared; the metrics take turns on each chunk of `batch_size` units (in the
    benchmark's order), so a clip's decode is still in memory when the next metric reads it, and at
    most a chunk's decodes are held (bounded by `media_bytes` in any case). Each metric's records,
    caching and summaries are exactly those of `score_metric` over its own units.
    """
    from nava_eval.metrics.shared_media import DEFAULT_MAX_BYTES, MediaCache

    cache = MediaCache(media_bytes or DEFAULT_MAX_BYTES)
    for metric in metrics:
        metric.share_media(cache)
    order = list(dict.fromkeys(u for name in units_by_metric for u in units_by_metric[name]))
    wanted = {name: set(units) for name, units in units_by_metric.items()}
    totals: dict[str, ScoreSummary] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        names = "+".join(m.name for m in metrics)
        bar = tqdm(total=len(order), desc=f"score {names} (decoded once)", unit="sample", dynamic_ncols=True)
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            for metric in metrics:
                mine = [u for u in chunk if u in wanted[metric.name]]
                if not mine:
                    continue
                part = score_metric(
                    run_dir, samples, records, metric, units=mine, batch_size=batch_size, device=device,
                    progress=False, share=share, index=index,
                    out_path=run_dir.score_shard(metric.name, share[0]) if world > 1 else None,
                )  # fmt: skip
                _add(totals, part)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    for metric in metrics:
        totals.setdefault(metric.name, ScoreSummary(metric=metric.name, protocol=metric.protocol))
    logger.info(
        "shared decode for %s: %d decodes, %d reuses, %d evictions, peak %.1f MiB",
        "+".join(m.name for m in metrics), cache.stats.decodes, cache.stats.hits, cache.stats.evictions,
        cache.stats.peak_bytes / 2**20,
    )  # fmt: skip
    return totals


def _add(totals: dict[str, ScoreSummary], part: ScoreSummary) -> None:
    total = totals.get(part.metric)
    if total is None:
        totals[part.metric] = part
        return
    total.scored += part.scored
    total.cached += part.cached
    total.skipped += part.skipped
    total.failed += part.failed
    total.not_generated += part.not_generated
    total.changed += part.changed
    total.seconds += part.seconds


def _score_worker(run_root: Path, overrides: dict[str, Any], metrics: tuple[str, ...] | None) -> Any:
    from nava_eval.runners.run import load_prepared

    prepared = load_prepared(run_root, overrides)
    return score_in_process(prepared, metrics)


def scoring_overrides(request: Any) -> dict[str, Any]:
    """The RunRequest fields a scoring worker needs on top of run.json (load_prepared)."""
    names = ("metrics", "scorer_weights", "device", "batch_size", "progress", "timeout_s", "nproc", "channel")
    return {name: getattr(request, name) for name in names}


def score_with_workers(
    prepared: Any, metrics: Sequence[str] | None = None, *, threads: int | None = None
) -> list[ScoreSummary]:
    """Launch `nproc` local scoring workers with torch's elastic launcher; returns rank 0's totals.

    `threads` per worker defaults to an equal share of the cores.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import elastic_launch

    from nava_eval.runners.distributed import local_launch_config

    request = prepared.request
    config = local_launch_config(request.nproc, "nava-eval-score")
    # One share of the cores per worker: N processes × all cores would only fight over them.
    share = threads if threads is not None else max(1, (os.cpu_count() or 1) // request.nproc)
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(share)
    try:
        # The launcher installs SIGINT/SIGTERM handlers that raise an Exception subclass and never
        # removes them: left in place, a later Ctrl-C would be caught as a sample failure.
        with restored_signal_handlers():
            returned = elastic_launch(config, _score_worker)(
                prepared.run_dir.root, scoring_overrides(request), tuple(metrics) if metrics else None
            )
    except Exception as exc:
        if is_interrupt(exc):
            raise as_interrupt(exc) from None
        if not isinstance(exc, ChildFailedError):
            raise
        lines = [
            f"rank {rank} (exit code {failure.exitcode}): {failure.message or ''}".strip()
            for rank, failure in sorted(exc.failures.items())
        ]
        raise ScoringFailed(
            "scoring worker(s) died:\n  "
            + "\n  ".join(lines)
            + "\nScored batches are kept; rerun to resume (only what is missing is scored)."
        ) from None
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous
    return list(returned.get(0) or [])


def score_run(prepared: Any, metrics: Sequence[str] | None = None) -> list[ScoreSummary]:
    """Pick the launch mode: a torchrun rank scores its share here; --nproc N > 1 spawns N workers."""
    from nava_eval.metrics.registry import METRICS
    from nava_eval.runners.run import scoring_plan

    # A typo must fail here, with the valid names, not as N workers' tracebacks.
    METRICS.check(sorted(scoring_plan(prepared, metrics)))
    if launched_world_size() > 1 or prepared.request.nproc <= 1:
        return score_in_process(prepared, metrics)
    return score_with_workers(prepared, metrics)
