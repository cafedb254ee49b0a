"""Running the generate stage in one process, under torchrun, or as `--nproc N` local workers.

`--nproc N` uses torch's own elastic launcher (the machinery behind torchrun), so a worker that
dies takes the job down with a message naming the rank and the sample it was generating (read
from the per-rank heartbeat files in the run directory).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from nava_eval.interrupts import as_interrupt, is_interrupt, restored_signal_handlers
from nava_eval.ranks import launched
from nava_eval.runners.generate import GenerationSummary, generate_samples
from nava_eval.runners.run import PreparedRun, RunRequest, prepare_run, prompt_sha256, stream_universe

logger = logging.getLogger(__name__)


class GenerationFailed(RuntimeError):
    """A generation worker died; the message names the rank and its sample."""


def _num_heads(prepared: PreparedRun) -> int | None:
    if prepared.spec.generation is None:
        return None
    try:
        from nava_eval.nava.config import NavaConfig
    except ImportError:
        return None
    return NavaConfig.for_model(prepared.spec.generation.model).num_heads


def generate_in_process(prepared: PreparedRun, *, keep_process_group: bool = False) -> GenerationSummary:
    """Generate on this process's share (single process, or one rank launched by torchrun).

    keep_process_group: leave the process group up for the score stage of the same process. torch
    cannot re-create a gloo group after one with subgroups was destroyed (the new group's rendezvous
    meets the old keys in the launcher's store and times out), so the score stage reuses this one.
    """
    from nava_eval.rundir.inputs_hash import InputsHasher
    from nava_eval.runners.distributed import destroy, init_distributed, pinned_cpu_threads
    from nava_eval.runners.nava_backend import load_nava_generator

    request = prepared.request
    backend = "gloo" if (request.device or "").startswith("cpu") else None
    ctx = init_distributed(
        request.sp, request.timeout_s, backend, num_heads=_num_heads(prepared), device=request.device
    )
    try:
        with pinned_cpu_threads(ctx.device):
            return generate_samples(
                prepared.run_dir,
                prepared.samples,
                lambda: load_nava_generator(prepared, ctx),
                ctx,
                seed=prepared.spec.generation.seed,
                seed_policy=prepared.spec.generation.seed_policy,
                fail_fast=request.fail_fast,
                progress=request.progress,
                prompt_hash=prompt_sha256,
                stream_universe=stream_universe(prepared),
                inputs_hash=InputsHasher(prepared.spec.output_hash()),
                seeds=prepared.spec.seeds,
                gen_turn=prepared.spec.generation.gen_turn,
            )
    finally:
        if not (keep_process_group and ctx.world_size > 1):
            destroy(ctx)


def _elastic_worker(request: RunRequest) -> dict[str, Any]:
    prepared = prepare_run(request, write=False)
    summary = generate_in_process(prepared)
    return {"done": summary.done, "failed": summary.failed, "timings": summary.timings}


def generate_with_workers(prepared: PreparedRun) -> dict[int, Any]:
    """Launch `nproc` local workers with torch's elastic launcher; returns each rank's return value."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import elastic_launch

    from nava_eval.runners.distributed import check_sp_size, local_launch_config

    request = prepared.request
    # Fail before spawning anything (and before any weights load) on an impossible layout.
    check_sp_size(request.sp, request.nproc, _num_heads(prepared))
    config = local_launch_config(request.nproc, "nava-eval")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // request.nproc)))
    # The launcher installs SIGINT/SIGTERM handlers that raise an Exception subclass and never
    # removes them: left in place, a later Ctrl-C (while scoring) would be caught as a sample failure.
    try:
        with restored_signal_handlers():
            return elastic_launch(config, _elastic_worker)(request)
    except Exception as exc:
        if is_interrupt(exc):
            raise as_interrupt(exc) from None
        if not isinstance(exc, ChildFailedError):
            raise
        beats = prepared.run_dir.heartbeats()
        lines = []
        for rank, failure in sorted(exc.failures.items()):
            where = beats.get(rank, "no sample started")
            lines.append(
                f"rank {rank} (exit code {failure.exitcode}) while on {where}: {failure.message or ''}".strip()
            )
        raise GenerationFailed(
            "generation worker(s) died:\n  "
            + "\n  ".join(lines)
            + "\nFinished samples are kept; rerun to resume."
        ) from None


def run_generation(
    prepared: PreparedRun, *, keep_process_group: bool = False
) -> GenerationSummary | dict[int, Any]:
    """Pick the launch mode: inside torchrun or with --nproc 1 run here, else spawn local workers.

    keep_process_group: under torchrun, leave the group up for a score stage in the same processes
    (see generate_in_process); the caller releases it with distributed.release_process_group().
    """
    if prepared.spec.imported is not None:
        raise GenerationFailed(
            f"{prepared.run_dir.run_json}: this run directory holds imported outputs of "
            f"{prepared.spec.imported.model!r} (from {prepared.spec.imported.source_dir}); there is nothing to "
            f"generate. Score it with `nava-eval score {prepared.run_dir.root}`."
        )
    if prepared.request.nproc > 1 and not launched():
        return generate_with_workers(prepared)
    return generate_in_process(prepared, keep_process_group=keep_process_group)
