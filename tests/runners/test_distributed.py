"""Process-group layout (DP x SP), env handling, collective helpers and the local launcher, on gloo."""

from __future__ import annotations

import os
import time

import pytest
import torch

from nava_eval.runners.distributed import (
    DistContext,
    WorkerError,
    check_sp_size,
    dp_group_ranks,
    grid_position,
    init_distributed,
    sp_group_ranks,
    spawn_workers,
)


def test_grid_layout_is_sp_major() -> None:
    assert sp_group_ranks(8, 4) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert dp_group_ranks(8, 4) == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert sp_group_ranks(6, 1) == [[0], [1], [2], [3], [4], [5]]
    assert [grid_position(r, 2) for r in range(4)] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_check_sp_size_names_valid_choices() -> None:
    check_sp_size(4, 8, num_heads=24)
    with pytest.raises(ValueError, match=r"does not divide the world size 8.*\[1, 2, 4, 8\]"):
        check_sp_size(3, 8)
    with pytest.raises(ValueError, match=r"24 attention heads.*\[1, 2, 3, 4, 6, 8, 12, 24\]"):
        check_sp_size(5, 10, num_heads=24)
    with pytest.raises(ValueError, match=">= 1"):
        check_sp_size(0, 4)


def test_single_process_fallback() -> None:
    ctx = init_distributed(sp_size=1, env={}, backend="gloo")
    assert (ctx.rank, ctx.world_size, ctx.dp_size, ctx.sp_size) == (0, 1, 1, 1)
    assert ctx.is_group_leader and ctx.is_main and not ctx.distributed
    assert ctx.sp_group is None and ctx.device == torch.device("cpu")


def test_single_process_rejects_sp_and_bad_heads_before_anything() -> None:
    with pytest.raises(ValueError, match="needs 2 processes"):
        init_distributed(sp_size=2, env={})
    # the heads check fires first, so a bad --sp is reported even before the launch problem
    with pytest.raises(ValueError, match="24 attention heads"):
        init_distributed(sp_size=5, env={}, num_heads=24)


def test_missing_rendezvous_env_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="MASTER_ADDR, MASTER_PORT not set; launch with torchrun"):
        init_distributed(sp_size=1, env={"WORLD_SIZE": "2", "RANK": "0"})
    with pytest.raises(ValueError, match="WORLD_SIZE='two' is not an integer"):
        init_distributed(env={"WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match="timeout must be positive"):
        init_distributed(timeout_s=0, env={})


# --- spawned workers (module level so spawn can import them) ---------------------------------------


def _layout_worker(sp_size: int) -> dict:
    from nava_eval.runners import distributed as d

    ctx = d.init_distributed(sp_size=sp_size, timeout_s=60, backend="gloo", num_heads=4)
    # The SP group must contain exactly the ranks of this DP slot: sum their ranks over the SP group.
    t = torch.tensor([float(ctx.rank)])
    torch.distributed.all_reduce(t, group=ctx.sp_group)
    u = torch.tensor([float(ctx.rank)])
    torch.distributed.all_reduce(u, group=ctx.dp_group)
    noise = torch.full((3,), float(ctx.rank))
    d.broadcast_from_leader(noise, ctx)
    plan = d.broadcast_object_from_main({"from": ctx.rank}, ctx)
    leader_obj = d.broadcast_object_from_leader(f"leader-{ctx.rank}", ctx)
    gathered = d.gather_objects_to_main((ctx.rank, ctx.is_group_leader), ctx)
    summed = d.all_reduce_sum([1.0, float(ctx.is_group_leader)], ctx)
    d.barrier(ctx)
    info = {
        "ctx": (ctx.rank, ctx.dp_rank, ctx.dp_size, ctx.sp_rank, ctx.sp_size, ctx.is_group_leader),
        "sp_sum": t.item(),
        "dp_sum": u.item(),
        "noise": noise.tolist(),
        "plan": plan,
        "leader_obj": leader_obj,
        "gathered": gathered,
        "summed": summed,
        "env_ok": os.environ["WORLD_SIZE"] == "4",
    }
    d.destroy(ctx)
    return info


def _failing_worker() -> None:
    if int(os.environ["RANK"]) == 1:
        raise RuntimeError("boom on purpose")
    time.sleep(30)  # rank 0 would wait; the launcher must not


def _hanging_worker() -> None:
    time.sleep(30)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_spawned_grid_2x2_groups_and_helpers() -> None:
    infos = spawn_workers(_layout_worker, 4, 2, timeout_s=50)
    assert [i["ctx"] for i in infos] == [
        (0, 0, 2, 0, 2, True),
        (1, 0, 2, 1, 2, False),
        (2, 1, 2, 0, 2, True),
        (3, 1, 2, 1, 2, False),
    ]
    assert [i["sp_sum"] for i in infos] == [1.0, 1.0, 5.0, 5.0]  # {0,1} and {2,3}
    assert [i["dp_sum"] for i in infos] == [2.0, 4.0, 2.0, 4.0]  # {0,2} and {1,3}
    assert [i["noise"] for i in infos] == [[0.0] * 3, [0.0] * 3, [2.0] * 3, [2.0] * 3]
    assert all(i["plan"] == {"from": 0} for i in infos)
    assert [i["leader_obj"] for i in infos] == ["leader-0", "leader-0", "leader-2", "leader-2"]
    assert infos[0]["gathered"] == [(0, True), (1, False), (2, True), (3, False)]
    assert all(i["gathered"] is None for i in infos[1:])
    assert all(i["summed"] == [4.0, 2.0] for i in infos)
    assert all(i["env_ok"] for i in infos)


@pytest.mark.timeout(60)
def test_launcher_reports_the_failing_rank_without_waiting() -> None:
    start = time.monotonic()
    with pytest.raises(WorkerError, match=r"rank 1 raised:[\s\S]*boom on purpose"):
        spawn_workers(_failing_worker, 2, timeout_s=25)
    assert time.monotonic() - start < 20


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_launcher_times_out_a_hang() -> None:
    with pytest.raises(WorkerError, match=r"rank\(s\) \[0, 1\] did not finish within 5 s"):
        spawn_workers(_hanging_worker, 2, timeout_s=5)


def test_context_describe_for_provenance() -> None:
    ctx = DistContext(3, 8, 3, 1, 2, 3, 4, torch.device("cpu"), "gloo")
    assert ctx.sp_leader_rank == 4 and not ctx.is_group_leader and not ctx.is_main
    assert ctx.describe() == {"world_size": 8, "dp_size": 2, "sp_size": 4, "backend": "gloo", "device": "cpu"}


def test_apply_sequence_parallel_is_a_no_op_at_sp1() -> None:
    from nava_eval.runners.distributed import apply_sequence_parallel

    ctx = init_distributed(sp_size=1, env={})
    model = torch.nn.Linear(2, 2)
    assert apply_sequence_parallel(model, ctx) is False
    assert not hasattr(model, "sequence_parallel")
