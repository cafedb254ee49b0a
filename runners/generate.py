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
from nava_eval.rundir.layout import RunDir, output_relpath
from nava_eval.rundir.provenance import now_iso
from nava_eval.rundir.records import SampleRecord
from nava_eval.rundir.run_file import SeedPolicy
from nava_eval.rundir.unit import Unit
from nava_eval.runners.progress import JobProgress, StageTimer, summarize_timings
from nava_eval.runners.seeds import SEED_POLICIES, NoiseStream, official_streams, sample_seed, turn_streams

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
    """The samples one DP group generates under one run seed (None: a single-seed run), in order, with
    their seeds (and official noise streams)."""

    samples: list[Sample]
    seeds: list[int]
    streams: list[NoiseStream] = field(default_factory=list)
    run_seed: int | None = None


@dataclass(frozen=True)
class WorkItem:
    """One unit to generate: its sample and run seed, its seed, its pre-drawn noise (official streams)
    and how it was drawn."""

    sample: Sample
    seed: int
    noise: Any = None
    noise_error: BaseException | None = None
    noise_info: dict[str, Any] = field(default_factory=dict)
    run_seed: int | None = None

    @property
    def unit(self) -> Unit:
        return Unit(self.sample.id, self.run_seed)


def plan_assignments(
    ordered: Sequence[Sample],
    done_ids: set[str],
    dp_size: int,
    seed: int,
    seed_policy: SeedPolicy = "per-sample",
    universe: Sequence[Sample] | None = None,
    run_seed: int | None = None,
    passes_before: int = 0,
) -> list[Assignment]:
    """Split what is missing (`done_ids`: the items done under `run_seed`) over DP groups, deterministically.

    per-sample: each sample gets its own generator seeded with `sample_seed(seed, id)`, so its output
    depends neither on the world size nor on which samples ran before; the missing samples are
    dealt round-robin in benchmark order.
    official-rank: the structure of NAVA's loop (not its noise values: docs/known-differences.md):
    per set (one official invocation per data file), group g takes items g, g+W, g+2W… in file order and draws every
    item's noise from one stream seeded seed + g (valid only for the same world size). `universe`:
    every item of the selected sets when --ids/--limit picked a subset; the unpicked items still
    advance the streams, so each picked item gets the noise it has in a full official run.
    passes_before (official-rank, --gen-turn): the passes the streams drew before this one.
    """
    if seed_policy == "per-sample":
        missing = [s for s in ordered if s.id not in done_ids]
        return [
            Assignment(samples=mine, seeds=[sample_seed(seed, s.id) for s in mine], run_seed=run_seed)
            for mine in (missing[g::dp_size] for g in range(dp_size))
        ]
    if seed_policy == "official-rank":
        out = []
        wanted = {s.id for s in ordered} - set(done_ids)
        for g in range(dp_size):
            streams = official_streams(
                universe if universe is not None else ordered, dp_size, g, seed, passes_before
            )
            mine = [s for stream in streams for s in stream.samples if s.id in wanted]
            out.append(
                Assignment(samples=mine, seeds=[seed + g] * len(mine), streams=streams, run_seed=run_seed)
            )
        return out
    raise ValueError(f"unknown seed policy {seed_policy!r}; valid: {', '.join(SEED_POLICIES)}")


def work_items(assignment: Assignment, generator: Any) -> Iterator[WorkItem]:
    """The assignment's samples in generation order, each with its seed and (official streams) noise.

    Official streams draw the noise of every item in order, including items already done, so the
    remaining ones start from the noise a fresh official run gives them.
    """
    if not assignment.streams:
        for sample, seed in zip(assignment.samples, assignment.seeds, strict=True):
            yield WorkItem(sample, seed, noise_info={"policy": "per-sample"}, run_seed=assignment.run_seed)
        return
    todo = {s.id for s in assignment.samples}
    for stream in assignment.streams:
        rng = generator.noise_stream(stream.seed)
        for _ in range(stream.passes_before):  # --gen-turn: the earlier passes' noise, discarded
            for sample in stream.samples:
                try:
                    generator.draw_noise(sample, rng)
                except Exception as exc:  # the same item fails again in this pass and is reported there
                    reraise_interrupts(exc)
        for position, sample in enumerate(stream.samples):
            info = _stream_info(stream, position)
            try:
                noise, error = generator.draw_noise(sample, rng), None
            except Exception as exc:  # the stream cannot advance past this item faithfully
                reraise_interrupts(exc)
                noise, error = None, exc
                logger.error(
                    "noise for %s could not be drawn; later items of its stream shift: %s", sample.id, exc
                )
            if sample.id in todo:
                yield WorkItem(sample, stream.seed, noise, error, info, assignment.run_seed)


def plan_seed_replicates(
    ordered: Sequence[Sample],
    done: set[Unit],
    dp_size: int,
    run_seeds: Sequence[int | None],
    seed: int,
    seed_policy: SeedPolicy = "per-sample",
    universe: Sequence[Sample] | None = None,
    gen_turn: int = 1,
) -> list[list[Assignment]]:
    """Per DP group: its assignment under every run seed (each assignment names its run seed).

    A multi-seed run is the single-seed plan repeated with each seed of the list as the run seed
    (`plan_assignments` derives the per-sample seeds, or the official streams, from it); `run_seeds`
    [None] is a single-seed run with `seed`. Groups take their share of each seed's plan in turn, so
    the load stays balanced. gen_turn > 1: the run seeds are the release's passes (`turn_streams`).
    """
    work: list[list[Assignment]] = [[] for _ in range(dp_size)]
    for run_seed, (base, passes) in zip(
        run_seeds, _bases(run_seeds, seed, seed_policy, gen_turn), strict=True
    ):
        done_ids = {s.id for s in ordered if Unit(s.id, run_seed) in done}
        plan = plan_assignments(ordered, done_ids, dp_size, base, seed_policy, universe, run_seed, passes)
        for group, assignment in enumerate(plan):
            work[group].append(assignment)
    return work


def _bases(
    run_seeds: Sequence[int | None], seed: int, seed_policy: SeedPolicy, gen_turn: int
) -> list[tuple[int, int]]:
    """(base seed, passes before) per run seed: per-sample seeds derive from the run seed itself, so
    a --gen-turn pass t is run seed seed + t; official-rank passes continue the streams of `seed`."""
    if seed_policy == "official-rank":
        return turn_streams(run_seeds, seed, gen_turn)
    return [(seed if r is None else r, 0) for r in run_seeds]


def replicate_items(assignments: Sequence[Assignment], generator: Any) -> Iterator[WorkItem]:
    """`work_items` of each of a group's assignments (one per run seed) in turn."""
    for assignment in assignments:
        yield from work_items(assignment, generator)


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
                out.setdefault(sample.id, (stream.seed, _stream_info(stream, position)))
    return out


def _stream_info(stream: NoiseStream, position: int) -> dict[str, Any]:
    """How an official-rank item's noise is drawn: its stream and place in it (counting earlier passes)."""
    info: dict[str, Any] = {
        "policy": "official-rank",
        "stream_seed": stream.seed,
        "stream_position": stream.passes_before * len(stream.samples) + position,
    }
    if stream.passes_before:
        info["gen_turn"] = stream.passes_before
    return info


def planned_unit_seeds(
    samples: Sequence[Sample],
    dp_size: int,
    seed: int,
    seed_policy: SeedPolicy = "per-sample",
    universe: Sequence[Sample] | None = None,
    run_seeds: Sequence[int | None] = (None,),
    gen_turn: int = 1,
) -> dict[Unit, tuple[int, dict[str, Any]]]:
    """unit → (seed, noise description) that generation gives it, without drawing any noise.

    The one place a unit's seed is decided: generation's resume check and `--dry-run` both read it.
    A run seed (even 0) replaces `seed` as the base of its units' seeds; None is a single-seed run.
    """
    out: dict[Unit, tuple[int, dict[str, Any]]] = {}
    for run_seed, (base, passes) in zip(
        run_seeds, _bases(run_seeds, seed, seed_policy, gen_turn), strict=True
    ):
        plan = plan_assignments(samples, set(), dp_size, base, seed_policy, universe, None, passes)
        noise = planned_noise(plan)
        out.update({Unit(s.id, run_seed): noise[s.id] for s in samples if s.id in noise})
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
    gen_turn: int = 1,
) -> tuple[set[Unit], list[list[Assignment]]]:
    """(units already done, each DP group's replicates of the rest) on rank 0.

    Done means: the output is on disk with its recorded sha256 and, with `inputs_hash`, it was made
    from the inputs this sample has now and the seed and noise the plan gives it on this world size
    (under official-rank another world size moves items to other streams: they are made again).
    Keyed by `Unit`: one per sample and run seed of a multi-seed run.
    """
    expected = None
    if inputs_hash is not None:
        by_id = {s.id: s for s in samples}
        planned = planned_unit_seeds(samples, dp_size, seed, seed_policy, universe, run_seeds, gen_turn)
        expected = {unit: inputs_hash(by_id[unit.item], *noise) for unit, noise in planned.items()}
    done = run_dir.verified_done(expected)
    done_keys = set(done) & {Unit(s.id, r) for s in samples for r in run_seeds}
    return done_keys, plan_seed_replicates(
        samples, done_keys, dp_size, run_seeds, seed, seed_policy, universe, gen_turn
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
    gen_turn: int = 1,
) -> GenerationSummary:
    """Generate every sample of `samples` that is not verifiably done. Call on every rank.

    `ctx` is a runners.distributed.DistContext. `load_generator` runs only if there is work.
    stream_universe: see `plan_assignments` (official-rank with a subset of the sets).
    `seeds` (a multi-seed run): every sample once per run seed, each into its own outputs/seed<S>/
    folder and recorded with its `run_seed`.
    `inputs_hash(sample, seed, noise)` (runners.inputs_hash) is recorded with each output and checked
    on resume; without it only the output file itself is checked.
    gen_turn > 1: `seeds` are the release's --gen_turn passes (see `plan_seed_replicates`).
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
            run_dir,
            samples,
            ctx.dp_size,
            seed,
            seed_policy,
            inputs_hash,
            stream_universe,
            run_seeds,
            gen_turn,
        )
        already = len(plan[0])
    done_keys, work = dist_utils.broadcast_object_from_main(plan, ctx)
    already = dist_utils.broadcast_object_from_main(already, ctx)
    mine = work[ctx.dp_rank]
    total = len(samples) * len(run_seeds)
    summary = GenerationSummary(total=total, already_done=len(done_keys))
    total_work = sum(len(a.samples) for group in work for a in group)
    if total_work == 0:
        logger.info("all %d samples are already done", total)
        summary.seconds = time.perf_counter() - started
        return summary

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
        for item in replicate_items(mine, generator):
            sample, seed_used, run_seed = item.sample, item.seed, item.run_seed
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
                summary.failed_ids.append(str(item.unit))
                if ctx.is_group_leader:
                    run_dir.append_sample(record, ctx.dp_rank)
                if fail_fast:
                    raise
                bar.sample_finished()
                continue
            if record is not None:
                run_dir.append_sample(record, ctx.dp_rank)
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
