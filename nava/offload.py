"""Group offload of the DiT blocks (the release's `--group_offload --offload_group_size N`).

The blocks' weights live in (pinned) CPU memory; before group g runs, a forward pre-hook makes sure g
is on the device, drops group g − 1 back to its CPU copy (no copy back: weights never change in
inference) and starts copying group g + 1 on a side stream, so transfers overlap compute. Only where
the weights live changes, never their values: outputs are identical with and without it. On a CPU
device the hooks still run (same code path, nothing to move).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nava_eval.errors import InvalidValue


@dataclass
class GroupOffload:
    """The installed hooks and counters (loads: group uploads started, for tests and logs)."""

    groups: list[list[nn.Module]]
    handles: list
    loads: int = 0

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def apply_group_offload(model: nn.Module, group_size: int, device: torch.device | str) -> GroupOffload:
    """Keep `model`'s blocks on the CPU and stream them to `device` `group_size` at a time."""
    if group_size < 1:
        raise InvalidValue(f"offload group size must be >= 1, got {group_size}")
    device = torch.device(device)
    blocks = [
        b for name in ("double_blocks", "single_blocks", "double_final_blocks") for b in getattr(model, name)
    ]
    groups = [blocks[i : i + group_size] for i in range(0, len(blocks), group_size)]
    cuda = device.type == "cuda"
    cpu_copies: list[dict[str, torch.Tensor]] = []
    for block in blocks:
        block.to("cpu")
        copies = {}
        for name, p in block.named_parameters():
            p.data = p.data.pin_memory() if cuda else p.data
            copies[name] = p.data
        cpu_copies.append(copies)
    index = {id(b): i for i, b in enumerate(blocks)}
    stream = torch.cuda.Stream(device=device) if cuda else None
    state = GroupOffload(groups, [])

    def load(g: int) -> None:
        state.loads += 1
        if stream is None:
            for b in groups[g]:
                b.to(device)
            return
        with torch.cuda.stream(stream):
            for b in groups[g]:
                b.to(device, non_blocking=True)

    def store(g: int) -> None:
        for b in groups[g]:
            for name, p in b.named_parameters():
                p.data = cpu_copies[index[id(b)]][name]

    def wait(g: int) -> None:
        if stream is None:
            return
        compute = torch.cuda.current_stream(device)
        compute.wait_stream(stream)
        # The group's device copies were allocated on the transfer stream: tell the allocator the
        # compute stream uses them, so a later prefetch cannot reuse that memory while they are read.
        for b in groups[g]:
            for p in b.parameters():
                if p.device == device:
                    p.data.record_stream(compute)

    def on_device(g: int) -> bool:
        first = next(groups[g][0].parameters(), None)
        return first is None or first.device == device

    load(0)
    wait(0)
    for g, group in enumerate(groups):
        previous, following = (g - 1) % len(groups), (g + 1) % len(groups)

        def pre_hook(module, args, g=g, previous=previous, following=following):
            if not on_device(g):  # e.g. the first call after a sample, or the prefetch was dropped
                load(g)
            wait(g)
            if len(groups) > 1:
                if previous != g and previous != following:
                    store(previous)
                if not on_device(following):
                    load(following)
            return args

        state.handles.append(group[0].register_forward_pre_hook(pre_hook))
    return state
