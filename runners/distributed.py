"""Process-group setup for generation: world = DP groups x SP groups.

Ranks are laid out SP-major: rank = dp_rank * sp_size + sp_rank, so one SP group is a run of consecutive
ranks and, with torchrun's node-major rank order, stays inside one node where the all-to-alls of Ulysses
attention run over NVLink. `dp_group` joins the ranks that hold the same sp_rank across DP groups; the
one with sp_rank 0 is the group of leaders (the ranks that decode and write).

Launch modes: `torchrun` (single or multi-node; RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
from the environment), torch's elastic launcher (same variables), an already initialised default process
group (reused, never destroyed here), or a plain single process (no process group at all).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import pickle
import queue
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from nava_eval.errors import InvalidValue
from nava_eval.ranks import launched_local_rank, launched_rank, launched_world_size

logger = logging.getLogger(__name__)

# Longest wait on one collective. Ranks of an SP group meet at every attention layer, but while the
# leader decodes and writes a sample the others wait at the next sample's first collective; a long
# video decode takes minutes, hence the generous default.
DEFAULT_TIMEOUT_S = 1800.0
_ENV_REQUIRED = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the DP x SP grid. Groups are None in a single process."""

    rank: int
    world_size: int
    local_rank: int
    dp_rank: int
    dp_size: int
    sp_rank: int
    sp_size: int
    device: torch.device
    backend: str | None
    sp_group: Any = field(default=None, repr=False, compare=False)
    dp_group: Any = field(default=None, repr=False, compare=False)
    # True when init_distributed created the default group (and destroy() should tear it down).
    owns_process_group: bool = field(default=False, repr=False, compare=False)

    @property
    def is_group_leader(self) -> bool:
        """The rank of its SP group that decodes, writes and records samples."""
        return self.sp_rank == 0

    @property
    def is_main(self) -> bool:
        """Global rank 0: owns the summary files and the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def sp_leader_rank(self) -> int:
        """Global rank of this SP group's leader."""
        return self.dp_rank * self.sp_size

    def describe(self) -> dict[str, Any]:
        """Plain values for run.json provenance."""
        return {
            "world_size": self.world_size,
            "dp_size": self.dp_size,
            "sp_size": self.sp_size,
            "backend": self.backend,
            "device": str(self.device),
        }


def check_sp_size(sp_size: int, world_size: int, num_heads: int | None = None) -> None:
    """Raise ValueError (naming the valid choices) unless sp_size splits both the world and the heads."""
    if sp_size < 1:
        raise InvalidValue(f"--sp must be >= 1, got {sp_size}")
    if world_size % sp_size:
        valid = [s for s in range(1, world_size + 1) if world_size % s == 0]
        raise InvalidValue(
            f"--sp {sp_size} does not divide the world size {world_size} (DP groups = world / sp); "
            f"valid --sp for this world: {valid}"
        )
    if num_heads is not None and num_heads % sp_size:
        valid = [s for s in range(1, num_heads + 1) if num_heads % s == 0]
        raise InvalidValue(
            f"--sp {sp_size} does not divide the model's {num_heads} attention heads (Ulysses scatters heads "
            f"across the SP group); valid --sp: {valid}"
        )


def grid_position(rank: int, sp_size: int) -> tuple[int, int]:
    """(dp_rank, sp_rank) of a global rank in the SP-major layout."""
    return rank // sp_size, rank % sp_size


def sp_group_ranks(world_size: int, sp_size: int) -> list[list[int]]:
    """Global ranks of every SP group, in DP order."""
    return [list(range(d * sp_size, (d + 1) * sp_size)) for d in range(world_size // sp_size)]


def dp_group_ranks(world_size: int, sp_size: int) -> list[list[int]]:
    """Global ranks of every DP group (same sp_rank across SP groups), in sp_rank order."""
    return [list(range(s, world_size, sp_size)) for s in range(sp_size)]


def _resolve_backend(backend: str | None) -> str:
    if backend is None:
        return "nccl" if torch.cuda.is_available() else "gloo"
    if backend not in ("nccl", "gloo"):
        raise InvalidValue(f"backend {backend!r} unsupported; use 'nccl' (CUDA) or 'gloo' (CPU)")
    if backend == "nccl" and not torch.cuda.is_available():
        raise InvalidValue("backend 'nccl' needs CUDA, but torch sees no GPU; use 'gloo' to run on CPU")
    return backend


def _device_for(backend: str, local_rank: int) -> torch.device:
    if backend != "nccl":
        return torch.device("cpu")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise InvalidValue(
            f"LOCAL_RANK {local_rank} but only {count} GPU(s) visible on this node; "
            "launch at most one process per GPU (torchrun --nproc-per-node)"
        )
    return torch.device("cuda", local_rank)


def init_distributed(
    sp_size: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    backend: str | None = None,
    *,
    num_heads: int | None = None,
    env: Mapping[str, str] | None = None,
    device: str | None = None,
) -> DistContext:
    """Join (or create) the process group and build the SP and DP subgroups.

    backend None picks NCCL when CUDA is available, else gloo. num_heads, when given, is checked against
    sp_size before anything else so a bad --sp fails before any weights load. env defaults to os.environ.
    device (cpu, cuda, cuda:N) places a plain single process; launched ranks use cuda:LOCAL_RANK.
    """
    env = os.environ if env is None else env
    if timeout_s <= 0:
        raise InvalidValue(f"collective timeout must be positive, got {timeout_s} s")
    timeout = datetime.timedelta(seconds=timeout_s)

    if dist.is_available() and dist.is_initialized():
        # Someone (a test harness, an outer launcher) already set up the default group: reuse it.
        world_size, rank = dist.get_world_size(), dist.get_rank()
        # A group made with "cpu:gloo,cuda:nccl" reports both; the CUDA one decides the device.
        backend_name = "nccl" if "nccl" in str(dist.get_backend()) else "gloo"
        local_rank = launched_local_rank(env) if "LOCAL_RANK" in env else rank
        owns = False
    else:
        world_size = launched_world_size(env)
        if world_size <= 1:
            check_sp_size(sp_size, sp_size, num_heads)
            if sp_size != 1:
                raise InvalidValue(
                    f"--sp {sp_size} needs {sp_size} processes, but this is a single process (no WORLD_SIZE); "
                    f"launch with `torchrun --nproc-per-node {sp_size} ...` or `nava-eval run --nproc {sp_size}`"
                )
            if device is not None:
                chosen = torch.device(device)
                if chosen.type == "cuda":
                    chosen = torch.device("cuda", chosen.index or 0)
                    torch.cuda.set_device(chosen)
            elif backend != "gloo" and torch.cuda.is_available():
                chosen = torch.device("cuda", 0)
            else:
                chosen = torch.device("cpu")
            device = chosen
            logger.info("single process (no WORLD_SIZE from a launcher): dp=1 sp=1 on %s", device)
            return DistContext(0, 1, 0, 0, 1, 0, 1, device, None)
        missing = [name for name in _ENV_REQUIRED if name not in env]
        if missing:
            raise InvalidValue(
                f"WORLD_SIZE={world_size} but {', '.join(missing)} not set; launch with torchrun "
                "(or `nava-eval run --nproc N`), which sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT"
            )
        rank = launched_rank(env)
        local_rank = launched_local_rank(env)
        backend_name = _resolve_backend(backend)
        owns = True

    check_sp_size(sp_size, world_size, num_heads)
    device = _device_for(backend_name, local_rank)
    if owns:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(
            backend=backend_name,
            init_method="env://",
            timeout=timeout,
            world_size=world_size,
            rank=rank,
            device_id=device if device.type == "cuda" else None,
        )

    # new_group is collective: every rank creates every group, in the same order.
    sp_group = dp_group = None
    dp_rank, sp_rank = grid_position(rank, sp_size)
    for ranks in sp_group_ranks(world_size, sp_size):
        group = dist.new_group(ranks, timeout=timeout)
        if rank in ranks:
            sp_group = group
    for ranks in dp_group_ranks(world_size, sp_size):
        group = dist.new_group(ranks, timeout=timeout)
        if rank in ranks:
            dp_group = group

    ctx = DistContext(
        rank=rank,
        world_size=world_size,
        local_rank=local_rank,
        dp_rank=dp_rank,
        dp_size=world_size // sp_size,
        sp_rank=sp_rank,
        sp_size=sp_size,
        device=device,
        backend=backend_name,
        sp_group=sp_group,
        dp_group=dp_group,
        owns_process_group=owns,
    )
    logger.info(
        "rank %d/%d (local %d): dp %d/%d sp %d/%d, %s on %s, collective timeout %.0f s",
        rank, world_size, local_rank, dp_rank, ctx.dp_size, sp_rank, sp_size, backend_name, device, timeout_s,
    )  # fmt: skip
    return ctx


def destroy(ctx: DistContext | None = None) -> None:
    """Tear down the default process group if init_distributed created it (idempotent)."""
    if ctx is not None and not ctx.owns_process_group:
        return
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def release_process_group() -> None:
    """Destroy a default group a torchrun rank kept up between generate and score (idempotent)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def apply_sequence_parallel(model: torch.nn.Module, ctx: DistContext) -> bool:
    """Enable Ulysses SP on a NavaModel over ctx.sp_group when sp_size > 1; returns whether it did.

    Call on every rank after the weights are loaded (and moved to ctx.device); every rank of an SP group
    must then feed the model identical inputs (same seed-derived noise, context and timesteps).
    """
    if ctx.sp_size == 1:
        return False
    from nava_eval.nava.parallel import enable_sequence_parallel

    enable_sequence_parallel(model, ctx.sp_group)
    return True


#: Intra-op threads of every process that generates on CPU, whatever the layout. A float reduction
#: split over threads is summed in another order, so with the default (cores / processes) the same
#: sample came out with other bytes under --nproc 1 and --nproc 2. One thread is the only count that
#: every layout (and every machine) can share.
CPU_GENERATION_THREADS = 1


@contextlib.contextmanager
def pinned_cpu_threads(device: torch.device | str) -> Iterator[None]:
    """Run the block with CPU_GENERATION_THREADS intra-op threads when generating on CPU; restore after."""
    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(CPU_GENERATION_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------------
# Collective helpers. All are no-ops (returning their input) in a single process.


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def broadcast_from_leader(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Overwrite `tensor` in place on every SP rank with the leader's copy (e.g. initial noise)."""
    if ctx.sp_size > 1:
        dist.broadcast(tensor, src=ctx.sp_leader_rank, group=ctx.sp_group)
    return tensor


def broadcast_object_from_leader(obj: T, ctx: DistContext) -> T:
    """The leader's `obj` on every rank of its SP group (small picklable values between our own ranks)."""
    if ctx.sp_size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=ctx.sp_leader_rank, group=ctx.sp_group)
    return box[0]


def broadcast_object_from_main(obj: T, ctx: DistContext) -> T:
    """Rank 0's `obj` on every rank (e.g. the plan of missing samples, so all ranks agree on it)."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects_to_main(obj: T, ctx: DistContext) -> list[T] | None:
    """Every rank's `obj`, in rank order, on rank 0; None elsewhere."""
    if not ctx.distributed:
        return [obj]
    out: list[T] | None = [None] * ctx.world_size if ctx.is_main else None  # type: ignore[list-item]
    dist.gather_object(obj, out, dst=0)
    return out


def all_reduce_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Element-wise sum over all ranks (e.g. samples done per DP group for the progress bar)."""
    if not ctx.distributed:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


# --------------------------------------------------------------------------------------------------
# Local launcher for tests and benchmarks: N spawned processes on this machine, gloo by default, with a
# deadline so a hung collective fails loudly instead of blocking forever. Production launches go
# through torchrun or torch's elastic launcher instead.


def local_launch_config(nproc: int, job: str) -> Any:
    """torch's elastic-launcher config for `nproc` workers on this machine (what `--nproc N` uses).

    One node, c10d rendezvous on a free local port, no restarts (a dead worker fails the job with its
    rank), spawn start method (CUDA-safe). `job` prefixes the run id.
    """
    import uuid

    from torch.distributed.launcher.api import LaunchConfig

    return LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=f"{job}-{uuid.uuid4().hex[:8]}",
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",
        max_restarts=0,
        monitor_interval=0.5,
        start_method="spawn",
    )


class WorkerError(RuntimeError):
    """A spawned worker raised, died or missed the deadline; the message names the rank(s)."""


def free_port() -> int:
    """A TCP port that was free a moment ago (the small race is acceptable for local launches)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawned_worker(
    rank: int, world_size: int, port: int, threads: int, fn: Callable[..., Any], args: tuple, results: Any
) -> None:
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "LOCAL_WORLD_SIZE": str(world_size),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    torch.set_num_threads(threads)
    try:
        # Plain pickle bytes, not the queue's own pickler: that one passes tensors as shared-memory file
        # descriptors, which break ("connection reset") when this process exits before the parent reads.
        results.put((rank, True, pickle.dumps(fn(*args))))
    except BaseException:  # report everything, including KeyboardInterrupt, to the parent
        results.put((rank, False, traceback.format_exc()))
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def spawn_workers(
    fn: Callable[..., T], world_size: int, *args: Any, timeout_s: float = 120.0, threads: int = 1
) -> list[T]:
    """Run fn(*args) in world_size spawned processes with torchrun-style env; return results in rank order.

    fn must be importable by name (module level) and its result picklable; it typically calls
    init_distributed(). Raises WorkerError naming the ranks that failed, died or did not finish within
    timeout_s (all workers are then terminated).
    """
    import torch.multiprocessing as mp

    spawn = mp.get_context("spawn")
    results = spawn.Queue()
    port = free_port()
    procs = [
        spawn.Process(
            target=_spawned_worker, args=(rank, world_size, port, threads, fn, args, results), daemon=True
        )
        for rank in range(world_size)
    ]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + timeout_s
    outcomes: dict[int, tuple[bool, Any]] = {}
    try:
        # Drain the queue before joining: a child blocks at exit until its queued result is consumed.
        while len(outcomes) < world_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(set(range(world_size)) - set(outcomes))
                raise WorkerError(
                    f"rank(s) {missing} did not finish within {timeout_s:.0f} s (hung collective?)"
                )
            try:
                rank, ok, value = results.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                dead = [r for r, p in enumerate(procs) if r not in outcomes and p.exitcode not in (None, 0)]
                if dead:
                    codes = {r: procs[r].exitcode for r in dead}
                    raise WorkerError(f"rank(s) {dead} died without a result (exit codes {codes})") from None
                continue
            if not ok:
                # Fail now: the other ranks are likely stuck in a collective waiting for this one.
                raise WorkerError(f"rank {rank} raised:\n{value}")
            outcomes[rank] = (ok, pickle.loads(value))  # bytes from our own child process
        for proc in procs:
            proc.join(timeout=max(deadline - time.monotonic(), 1.0))
        return [outcomes[r][1] for r in range(world_size)]
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        results.close()
