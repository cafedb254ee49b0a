"""The generate stage: benchmark samples → outputs/<set>/<id>.<ext> + sample records, resumable.

Works the same in one process, under torchrun, and under `nava-eval run --nproc N`: rank 0 plans
what is missing, every DP group takes a deterministic share of it, the SP ranks of a group
generate together and only the group leader writes. Each output is written to a temp name and
renamed, then recorded with its sha256, so a kill at any moment loses no finished sample and a
rerun (with any world size) does only what is missing.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nava_eval.benchmarks.base import Sample
from nava_eval.interrupts import reraise_interrupts
from nava_eval.rundir.files import as_write_failure, atomic_path, sha256_file
from nava_eval.rundir.layout import RunDir, append_record, output_relpath, verified_done
from nava_eval.rundir.provenance import now_iso
from nava_eval.rundir.records import SampleRecord, sample_key
from nava_eval.rundir.run_file import SeedPolicy
from nava_eval.runners.progress import JobProgress, StageTimer, summarize_timings
from nava_eval.runners.seeds import SEED_POLICIES, NoiseStream, official_streams, sample_seed

logger = logging.getLogger(__name__)


class GeneratedOutput(Protocol):
    """What a backend returns for one sample; only the group leader's `write` is called."""

    timings: dict[str, float]

    def write(self, path: Any) -> None: ...


class SampleGenerator(Protocol):
    """A loaded generator (NAVA pipeline, or a test double) for one benchmark's samples.

    The official-rank seed policy also needs `noise_stream(seed)` and `draw_noise(sample, stream)`,
    and passes the drawn noise to `generate(..., noise=...)`.
    """

    output_kind: str

    def generate(self, sample: Sample, seed: int, on_step: Callable[[int, int], None]) -> GeneratedOutput: ...


@dataclass(frozen=True)
class Assignment:
    """The samples one DP group generates, in order, with their seeds (and official noise streams)."""

    samples: list[Sample]
    seeds: list[int]
    streams: list[NoiseStream] = field(default_factory=list)


@dataclass(frozen=True)
class WorkItem:
    """One sample to generate: its seed, its pre-drawn noise (official streams) and how it was drawn."""

    sample: Sample
    seed: int
    noise: Any = None
    noise_error: BaseException | None = None
    noise_info: dict[str, Any] = field(default_factory=dict)


def plan_assignments(
    ordered: Sequence[Sample],
    done_ids: set[str],
    dp_size: int,
    seed: int,
    seed_policy: SeedPolicy = "per-sample",
    universe: Sequence[Sample] | None = None,
) -> list[Assignment]:
    """Split what is missing over DP groups, deterministically.

    per-sample: each sample gets its own generator seeded with `sample_seed(seed, id)`, so its output
    depends neither on the world size nor on which samples ran before; the missing samples are
    dealt round-robin in benchmark order.
    official-rank: the structure of NAVA's loop (not its noise values: docs/known-differences.md):
    per set (one official invocation per data file), group g takes items g, g+W, g+2W… in file order and draws every
    item's noise from one stream seeded seed + g (valid only for the same world size). `universe`:
    every item of the selected sets when --ids/--limit picked a subset; the unpicked items still
    advance the streams, so each picked item gets the noise it has in a full official run.
    """
    if seed_policy == "per-sample":
        missing = [s for s in ordered if s.id not in done_ids]
        return [
            Assignment(samples=mine, seeds=[sample_seed(seed, s.id) for s in mine])
            for mine in (missing[g::dp_size] for g in range(dp_size))
        ]
    if seed_policy == "official-rank":
        out = []
        wanted = {s.id for s in ordered} - set(done_ids)
        for g in range(dp_size):
            streams = official_streams(universe if universe is not None else ordered, dp_size, g, seed)
            mine = [s for stream in streams for s in stream.samples if s.id in wanted]
            out.append(Assignment(samples=mine, seeds=[seed + g] * len(mine), streams=streams))
        return out
    raise ValueError(f"unknown seed policy {seed_policy!r}; valid: {', '.join(SEED_POLICIES)}")


def work_items(assignment: Assignment, generator: Any) -> Iterator[WorkItem]:
    """The assignment's samples in generation order, each with its seed and (official streams) noise.

    Official streams draw the noise of every item in order, including items already done, so the
    remaining ones start from the noise a fresh official run gives them.
    """
    if not assignment.streams:
        for sample, seed in zip(assignment.samples, assignment.seeds, strict=True):
            yield WorkItem(sample, seed, noise_info={"policy": "per-sample"})
        return
    todo = {s.id for s in assignment.samples}
    for stream in assignment.streams:
        rng = generator.noise_stream(stream.seed)
        for position, sample in enumerate(stream.samples):
            info = {"policy": "official-rank", "stream_seed": stream.seed, "stream_position": position}
            try:
                noise, error = generator.draw_noise(sample, rng), None
            except Exception as exc:  # the stream cannot advance past this item faithfully
                reraise_interrupts(exc)
                noise, error = None, exc
                logger.error(
                    "noise for %s could not be drawn; later items of its stream shift: %s", sample.id, exc
                )
            if sample.id in todo:
                yield WorkItem(sample, stream.seed, noise, error, info)


Replicate = tuple[Assignment, int | None]  # a group's share of one run seed (None: single-seed run)


def plan_seed_replicates(
    ordered: Sequence[Sample],
    done_keys: set[str],
    dp_size: int,
    run_seeds: Sequence[int | None],
    seed: int,
    seed_policy: SeedPolicy = "per-sample",
    universe: Sequence[Sample] | None = None,
) -> list[list[Replicate]]:
    """Per DP group: its assignment for every run seed, with that run seed.

    A multi-seed run is the single-seed plan repeated with each seed of the list as the run seed
    (`plan_assignments` derives the per-sample seeds, or the official streams, from it); `run_seeds`
    [None] is a single-seed run with `seed`. Groups take their share of each seed's plan in turn, so
    the load stays balanced.
    """
    work: list[list[Replicate]] = [[] for _ in range(dp_size)]
    for run_seed in run_seeds:
        done_ids = {s.id for s in ordered if sample_key(s.id, run_seed) in done_keys}
        base = seed if run_seed is None else run_seed
        plan = plan_assignments(ordered, done_ids, dp_size, base, seed_policy, universe)
        for group, assignment in enumerate(plan):
            work[group].append((assignment, run_seed))
    return work


def replicate_items(replicates: Sequence[Replicate], generator: Any) -> Iterator[tuple[WorkItem, int | None]]:
    """`work_items` of each of a group's replicates in turn, with the run seed they belong to."""
    for assignment, run_seed in replicates:
        for item in work_items(assignment, generator):
            yield item, run_seed


def planned_noise(assignments: Sequence[Assignment]) -> dict[str, tuple[int, dict[str, Any]]]:
    """sample id → (seed, noise description) as `work_items` gives them, without drawing any noise."""
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    for assignment in assignments:
        if not assignment.streams:
            for sample, seed in zip(assignment.samples, assignment.seeds, strict=True):
                out[sample.id] = (seed, {"policy": "per-sample"})
            continue
        for stream in assignment.streams:
            for position, sample in enumerate(stream.samples):
                info = {"policy": "official-rank", "stream_seed": stream.seed, "stream_position": position}
                out.setdefault(sample.id, (stream.seed, info))
    return out


def resume_plan(
    run_dir: RunDir,
    samples: Sequence[Sample],
    dp_size: int,
    seed: int,
    seed_policy: SeedPolicy = "per-sample",
    inputs_hash: Callable[[Sample, int, dict[str, Any]], str] | None = None,
    universe: Sequence[Sample] | None = None,
    run_seeds: Sequence[int | None] = (None,),
) -> tuple[set[str], list[list[Replicate]]]:
    """(sample keys already done, each DP group's replicates of the rest) on rank 0.

    Done means: the output is on disk with its recorded sha256 and, with `inputs_hash`, it was made
    from the inputs this sample has now and the seed and noise the plan gives it on this world size
    (under official-rank another world size moves items to other streams: they are made again).
    Keys are `sample_key(id, run_seed)`: one per sample and run seed of a multi-seed run.
    """
    expected = None
    if inputs_hash is not None:
        expected = {}
        for run_seed in run_seeds:
            base = seed if run_seed is None else run_seed
            noise = planned_noise(plan_assignments(samples, set(), dp_size, base, seed_policy, universe))
            expected.update(
                {sample_key(s.id, run_seed): inputs_hash(s, *noise[s.id]) for s in samples if s.id in noise}
            )
    done = verified_done(run_dir, expected_inputs=expected)
    done_keys = set(done) & {sample_key(s.id, r) for s in samples for r in run_seeds}
    return done_keys, plan_seed_replicates(
        samples, done_keys, dp_size, run_seeds, seed, seed_policy, universe
    )


@dataclass
class GenerationSummary:
    """What the generate stage did in this invocation (rank 0's view after merging)."""

    total: int
    already_done: int
    done: int = 0
    failed: int = 0
    failed_ids: list[str] = field(default_factory=list)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0


def _failure_record(
    sample: Sample, seed: int, error: BaseException, seconds: float, rank: int
) -> SampleRecord:
    return SampleRecord(
        id=sample.id,
        set=sample.set,
        status="failed",
        seed=seed,
        error=f"{type(error).__name__}: {error}",
        seconds=round(seconds, 3),
        rank=rank,
        finished_at=now_iso(),
        inputs={"traceback_tail": traceback.format_exc(limit=3)[-2000:]},
    )


def generate_samples(
    run_dir: RunDir,
    samples: Sequence[Sample],
    load_generator: Callable[[], SampleGenerator],
    ctx: Any,
    *,
    seed: int = 100,
    seed_policy: SeedPolicy = "per-sample",
    fail_fast: bool = False,
    progress: bool = True,
    prompt_hash: Callable[[Sample], str] | None = None,
    stream_universe: Sequence[Sample] | None = None,
    seeds: Sequence[int] | None = None,
    inputs_hash: Callable[[Sample, int, dict[str, Any]], str] | None = None,
) -> GenerationSummary:
    """Generate every sample of `samples` that is not verifiably done. Call on every rank.

    `ctx` is a runners.distributed.DistContext. `load_generator` runs only if there is work.
    stream_universe: see `plan_assignments` (official-rank with a subset of the sets).
    `seeds` (a multi-seed run): every sample once per run seed, each into its own outputs/seed<S>/
    folder and recorded with its `run_seed`.
    `inputs_hash(sample, seed, noise)` (runners.inputs_hash) is recorded with each output and checked
    on resume; without it only the output file itself is checked.
    """
    from nava_eval.runners import distributed as dist_utils

    started = time.perf_counter()
    run_dir.root.mkdir(parents=True, exist_ok=True)
    run_seeds: list[int | None] = list(seeds) if seeds else [None]
    plan = None
    already = 0
    if ctx.is_main:
        added = run_dir.merge_shards()
        if added:
            logger.info("folded %d records from an earlier run's shards into %s", added, run_dir.samples)
        plan = resume_plan(
            run_dir, samples, ctx.dp_size, seed, seed_policy, inputs_hash, stream_universe, run_seeds
        )
        already = len(plan[0])
    done_keys, work = dist_utils.broadcast_object_from_main(plan, ctx)
    already = dist_utils.broadcast_object_from_main(already, ctx)
    mine = work[ctx.dp_rank]
    total = len(samples) * len(run_seeds)
    summary = GenerationSummary(total=total, already_done=len(done_keys))
    total_work = sum(len(a.samples) for group in work for a, _ in group)
    if total_work == 0:
        logger.info("all %d samples are already done", total)
        summary.seconds = time.perf_counter() - started
        return summary

    shard = run_dir.shard(ctx.dp_rank)

    def count_done_everywhere() -> int:
        # Rank 0 reads every group's shard: progress without collectives.
        return already + sum(
            1 for path in run_dir.root.glob("samples.shard-*.jsonl") for _ in open(path, "rb")
        )

    bar = JobProgress(
        total=total,
        initial=already,
        desc=f"generate {run_dir.root.name}",
        enabled=progress and ctx.is_main,
        count_done=count_done_everywhere,
    )
    generator = load_generator()
    timings_done: list[dict[str, float]] = []
    try:
        for item, run_seed in replicate_items(mine, generator):
            sample, seed_used = item.sample, item.seed
            replicate = "" if run_seed is None else f", run seed {run_seed}"
            run_dir.write_heartbeat(
                ctx.rank, f"sample {sample.id} (set {sample.set}{replicate}) since {now_iso()}"
            )
            t0 = time.perf_counter()
            timer = StageTimer()
            try:
                if item.noise_error is not None:
                    raise item.noise_error
                if item.noise is not None:
                    output = generator.generate(sample, seed_used, bar.on_step, noise=item.noise)
                else:
                    output = generator.generate(sample, seed_used, bar.on_step)
                timer.add(output.timings)
                record = None
                if ctx.is_group_leader:
                    relpath = output_relpath(sample.set, sample.id, generator.output_kind, run_seed)
                    with timer.stage("write"), atomic_path(run_dir.output(relpath)) as tmp:
                        output.write(tmp)
                    record = SampleRecord(
                        id=sample.id,
                        set=sample.set,
                        status="done",
                        output=relpath,
                        output_sha256=sha256_file(run_dir.output(relpath)),
                        prompt_sha256=prompt_hash(sample) if prompt_hash else None,
                        seed=seed_used,
                        inputs_sha256=inputs_hash(sample, seed_used, item.noise_info)
                        if inputs_hash
                        else None,
                        inputs={
                            **_inputs_summary(sample),
                            "noise": item.noise_info,
                            **dict(getattr(output, "record_meta", None) or {}),
                        },
                        seconds=round(time.perf_counter() - t0, 3),
                        timings=timer.as_dict(),
                        rank=ctx.rank,
                        finished_at=now_iso(),
                        run_seed=run_seed,
                    )
                summary.done += 1
                timings_done.append(timer.as_dict())
            except Exception as exc:  # one bad sample is recorded, not fatal
                reraise_interrupts(exc)
                if as_write_failure(exc) is not None:  # a full or read-only disk fails every sample alike
                    raise
                logger.error("sample %s failed: %s", sample.id, exc)
                record = _failure_record(sample, seed_used, exc, time.perf_counter() - t0, ctx.rank)
                record = dataclasses.replace(record, run_seed=run_seed)
                summary.failed += 1
                summary.failed_ids.append(sample_key(sample.id, run_seed))
                if ctx.is_group_leader:
                    append_record(shard, record)
                if fail_fast:
                    raise
                bar.sample_finished()
                continue
            if record is not None:
                append_record(shard, record)
            bar.sample_finished()
    finally:
        bar.close()
        close = getattr(generator, "close", None)
        if close is not None:
            close()
    run_dir.clear_heartbeat(ctx.rank)
    dist_utils.barrier(ctx)
    if ctx.is_main:
        run_dir.merge_shards()
    gathered = dist_utils.gather_objects_to_main(
        (summary.done, summary.failed, summary.failed_ids, timings_done), ctx
    )
    if ctx.is_main and gathered is not None:
        leaders = [g for rank, g in enumerate(gathered) if rank % ctx.sp_size == 0]
        summary.done = sum(g[0] for g in leaders)
        summary.failed = sum(g[1] for g in leaders)
        summary.failed_ids = sorted({i for g in leaders for i in g[2]})
        summary.timings = summarize_timings([t for g in leaders for t in g[3]])
    summary.seconds = time.perf_counter() - started
    return summary


def _inputs_summary(sample: Sample) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": sample.mode}
    if sample.image is not None:
        out["image"] = str(sample.image)
    if sample.speaker_wavs:
        out["speaker_wavs"] = [str(p) for p in sample.speaker_wavs]
    return out
