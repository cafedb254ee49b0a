"""Ulysses sequence parallelism for NavaModel on `all_to_all_single` (NCCL and gloo alike).

How a forward runs on an SP group of size P (reference §7):

1. After the embeddings, each modality is zero-padded to a multiple of P and rank r keeps chunk r of the
   video tokens and chunk r of the audio tokens: the local sequence is [vid_r | aud_r]. The per-token
   time embeddings are chunked the same way. Cross-attention, FFN and modulation then run on local
   tokens with no communication.
2. In every self-attention, one all-to-all scatters heads and gathers the sequence for the stacked q, k, v:
   each rank then holds all tokens for H/P heads, ordered [vid_0, aud_0, vid_1, aud_1, ...]. They are
   regrouped to [full video | full audio], the pad tokens are dropped, and the model's own attention
   function runs unchanged (RoPE with global positions, joint or modality-masked attention). Its output
   is re-padded, un-regrouped and sent back by the inverse all-to-all (scatter sequence, gather heads).
3. After the output heads, an all-gather along the sequence gives every rank the full output, so every
   rank steps the sampler identically and only the group leader needs to decode and write.

Dropping the pad tokens before attention (instead of masking them as the official code does) computes
the same function with no mask support needed from the attention backend.
The collectives are not autograd-aware: this is for inference.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from nava_eval.nava.modeling.attention import SelfAttentionFn
from nava_eval.nava.modeling.rope import RopeFreqs

logger = logging.getLogger(__name__)


def check_heads(num_heads: int, sp_size: int) -> None:
    """Raise ValueError unless sp_size divides num_heads (Ulysses scatters heads across the group)."""
    if sp_size < 1 or num_heads % sp_size:
        valid = [s for s in range(1, num_heads + 1) if num_heads % s == 0]
        raise ValueError(
            f"sequence-parallel size {sp_size} does not divide the model's {num_heads} attention heads; "
            f"valid sizes: {valid}"
        )


def chunk_length(length: int, sp_size: int) -> int:
    """Tokens per rank after padding `length` to a multiple of sp_size."""
    return math.ceil(length / sp_size)


def pad_sequence(x: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad x [B, L, ...] along dim 1 to `length` (>= L)."""
    extra = length - x.shape[1]
    if extra < 0:
        raise ValueError(f"cannot pad a sequence of {x.shape[1]} tokens down to {length}")
    if extra == 0:
        return x
    return torch.cat([x, x.new_zeros(x.shape[0], extra, *x.shape[2:])], dim=1)


def _valid_in_chunk(rank: int, chunk: int, length: int) -> int:
    """How many of rank's `chunk` tokens are real (the rest is padding) for a modality of `length` tokens."""
    return min(chunk, max(0, length - rank * chunk))


def shard_sequence(x: torch.Tensor, sp_rank: int, sp_size: int) -> torch.Tensor:
    """Chunk sp_rank of x [B, L, ...] padded to a multiple of sp_size: [B, ceil(L / sp_size), ...]."""
    chunk = chunk_length(x.shape[1], sp_size)
    valid = _valid_in_chunk(sp_rank, chunk, x.shape[1])
    # Pad only this chunk (no full-size padded copy), and never return a view: it would keep the whole
    # sequence's storage alive (for the per-token modulation e0 that is 6·D values per token).
    return pad_sequence(x.narrow(1, min(sp_rank * chunk, x.shape[1]), valid), chunk).clone()


def to_global_order(recv: torch.Tensor, video_len: int, audio_len: int, sp_size: int) -> torch.Tensor:
    """Received chunks [P, ..., cv+ca, h, d] (rank r's [video chunk | audio chunk]) -> [..., Lv+La, h, d].

    The result is [full video | full audio] in global token order with the pad tokens dropped: exactly
    the unsharded sequence. One copy (a single cat over per-rank slices).
    """
    cv, ca = chunk_length(video_len, sp_size), chunk_length(audio_len, sp_size)
    parts = []
    for start, chunk, length in ((0, cv, video_len), (cv, ca, audio_len)):
        for rank in range(sp_size):
            valid = _valid_in_chunk(rank, chunk, length)
            if valid:
                parts.append(recv[rank].narrow(-3, start, valid))
    return torch.cat(parts, dim=-3)


def to_rank_chunks(x: torch.Tensor, video_len: int, audio_len: int, sp_size: int) -> torch.Tensor:
    """Inverse of to_global_order: [..., Lv+La, h, d] -> zero-padded [P, ..., cv+ca, h, d] per destination."""
    cv, ca = chunk_length(video_len, sp_size), chunk_length(audio_len, sp_size)
    out = x.new_zeros(sp_size, *x.shape[:-3], cv + ca, *x.shape[-2:])
    for start, chunk, offset, length in ((0, cv, 0, video_len), (cv, ca, video_len, audio_len)):
        for rank in range(sp_size):
            valid = _valid_in_chunk(rank, chunk, length)
            if valid:
                out[rank].narrow(-3, start, valid).copy_(x.narrow(-3, offset + rank * chunk, valid))
    return out


def _exchange(x: torch.Tensor, group: Any) -> torch.Tensor:
    """all_to_all_single over dim 0 (size P): out[r] is rank r's x[my rank]."""
    # contiguous before empty_like: empty_like keeps a permuted input's strides, the collective assumes none
    x = x.contiguous()
    out = torch.empty_like(x)
    dist.all_to_all_single(out, x, group=group)
    return out


def scatter_heads(tensors: Sequence[torch.Tensor], sp_size: int, group: Any) -> torch.Tensor:
    """N tensors [B, Lc, H, d] (local tokens, all heads) -> [P (source rank), N, B, Lc, H/P, d] (own heads).

    The N tensors travel in one all-to-all; the send buffer is built with a single copy.
    """
    batch, chunk, heads, head_dim = tensors[0].shape
    per_dest = [t.reshape(batch, chunk, sp_size, heads // sp_size, head_dim).movedim(2, 0) for t in tensors]
    return _exchange(torch.stack(per_dest, dim=1), group)


def gather_heads(chunks: torch.Tensor, group: Any) -> torch.Tensor:
    """Inverse of scatter_heads for one tensor: [P (destination rank), B, Lc, H/P, d] -> [B, Lc, H, d]."""
    recv = _exchange(chunks, group)  # [P (head group of the source), B, Lc, H/P, d]
    sp_size, batch, chunk, heads, head_dim = recv.shape
    return recv.permute(1, 2, 0, 3, 4).reshape(batch, chunk, sp_size * heads, head_dim)


class UlyssesAttention:
    """Wraps a layer's SelfAttentionFn: all-to-all q/k/v to head-sharded full sequence, attend, return.

    The true (unpadded) modality lengths come from the RoPE tables, which the model builds from global
    positions before sharding; the local lengths must be their chunk sizes.
    """

    def __init__(self, inner: SelfAttentionFn, group: Any, sp_size: int) -> None:
        self.inner = inner
        self.group = group
        self.sp_size = sp_size

    def __call__(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        rope: RopeFreqs,
        video_len: int,
        modality_mask: torch.Tensor,
        backend: str = "auto",
    ) -> torch.Tensor:
        sp = self.sp_size
        full_video = 0 if rope.video is None else rope.video.shape[0]
        full_audio = 0 if rope.audio is None else rope.audio.shape[0]
        cv, ca = chunk_length(full_video, sp), chunk_length(full_audio, sp)
        if (video_len, q.shape[1] - video_len) != (cv, ca):
            raise RuntimeError(
                f"sequence-parallel attention got local lengths video {video_len}, audio {q.shape[1] - video_len} "
                f"but the global ones ({full_video}, {full_audio}) give chunks ({cv}, {ca}) for SP {sp}: "
                "the model's inputs were not sharded by SequenceParallel.shard"
            )
        if q.shape[2] % sp:
            raise RuntimeError(f"{q.shape[2]} heads cannot be split over SP {sp}")

        recv = scatter_heads((q, k, v), sp, self.group)  # [P, 3, B, cv+ca, H/P, d]
        q_full, k_full, v_full = to_global_order(recv, full_video, full_audio, sp).unbind(0)
        # The model's own attention on [B, Lv + La, H/P, d]: RoPE, joint or modality-masked.
        out = self.inner(q_full, k_full, v_full, rope, full_video, modality_mask, backend)
        return gather_heads(to_rank_chunks(out, full_video, full_audio, sp), self.group)


class SequenceParallel:
    """The model-level half: shard tokens after the embeddings, all-gather outputs after the heads."""

    def __init__(self, group: Any) -> None:
        self.group = group
        self.size = dist.get_world_size(group)
        self.rank = dist.get_rank(group)

    def shard(self, *tensors: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        """Keep this rank's chunk (dim 1, padded to a multiple of P) of each [B, L, ...] tensor; None passes."""
        return tuple(None if t is None else shard_sequence(t, self.rank, self.size) for t in tensors)

    def gather(self, local: torch.Tensor, length: int) -> torch.Tensor:
        """All-gather [B, Lc, ...] chunks along dim 1 and cut the padding: [B, length, ...] on every rank."""
        local = local.contiguous()
        parts = [torch.empty_like(local) for _ in range(self.size)]
        dist.all_gather(parts, local, group=self.group)
        return torch.cat(parts, dim=1)[:, :length]


def _attention_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if hasattr(m, "attn_fn")]


def enable_sequence_parallel(model: nn.Module, group: Any) -> SequenceParallel | None:
    """Make `model` (a NavaModel) run Ulysses SP over `group`; every rank of the group must call it.

    All ranks of the group must then call the model with identical inputs (same latents, context, timestep);
    each returns the full output. Returns None and leaves the model untouched when the group has one rank.
    Raises ValueError if the group size does not divide the heads (before any communication).
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError("sequence parallelism needs an initialised process group (runners.distributed)")
    size = dist.get_world_size(group)
    check_heads(model.config.num_heads, size)
    if getattr(model, "sequence_parallel", None) is not None:
        raise ValueError("sequence parallelism is already enabled on this model")
    if size == 1:
        return None
    sp = SequenceParallel(group)
    for layer in _attention_layers(model):
        layer.attn_fn = UlyssesAttention(layer.attn_fn, group, size)
    model.sequence_parallel = sp
    logger.info("Ulysses sequence parallel: rank %d of %d", sp.rank, size)
    return sp


def disable_sequence_parallel(model: nn.Module) -> None:
    """Undo enable_sequence_parallel (a no-op when it was not enabled)."""
    for layer in _attention_layers(model):
        if isinstance(layer.attn_fn, UlyssesAttention):
            layer.attn_fn = layer.attn_fn.inner
    model.sequence_parallel = None
