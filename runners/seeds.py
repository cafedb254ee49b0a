"""Which noise each sample starts from: per-sample seeds, and NAVA's official batch-mode streams.

`sample_seed` is the one derivation of a sample's seed (a pure function of the run seed and the
sample id), so an output never depends on the world size, on the order samples ran in, or on which
ones were already done. `official_streams` follows the structure of NAVA's `inference_nava.py` loop
instead: `set_seed(seed + rank)` once per invocation (`seed` alone under `--use_sp`, which every benchmark
script passes: one DP group), then, item after item, the video noise and then the audio noise from that
one continuing stream. The released scripts run one invocation per data file, so a stream restarts at
every set (VerseBench set1/2/3, Seed-TTS en/zh/hard). The stream here starts fresh at the seed; the
release's CUDA generator has already been advanced by building umT5-XXL on the GPU after `set_seed`, so
the noise values differ (docs/known-differences.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SEED_POLICIES: tuple[str, ...] = ("per-sample", "official-rank")

#: The range of a run seed wherever it enters (--seed, --seeds, --num-seeds, a config file, a
#: run.json replay, the API): what numpy's legacy seeding takes, far inside torch's 64 bits even
#: after official-rank adds a rank, and short enough for the seed<S> folder names of a submission.
RUN_SEED_MIN, RUN_SEED_MAX = 0, 2**32 - 1


def check_run_seeds(seeds: Sequence[int], where: str = "--seeds") -> None:
    """ValueError naming the first run seed outside RUN_SEED_MIN..RUN_SEED_MAX (or not an integer)."""
    for value in seeds:
        if isinstance(value, bool) or not isinstance(value, int) or not RUN_SEED_MIN <= value <= RUN_SEED_MAX:
            from nava_eval.errors import InvalidValue

            raise InvalidValue(
                f"{where}: run seed {value!r} is outside {RUN_SEED_MIN}..{RUN_SEED_MAX} "
                "(the range --seed takes too)"
            )


# torch.manual_seed takes any value below 2**64; 63 bits keep the seed a non-negative JSON/int64 number.
_SEED_BITS = 63


def sample_seed(run_seed: int, sample_id: str) -> int:
    """The seed of one sample: sha256 of "<run seed>:<sample id>", first 63 bits; pure and stable."""
    digest = hashlib.sha256(f"{int(run_seed)}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SEED_BITS)


@dataclass(frozen=True)
class NoiseStream:
    """One official noise stream: seeded once with `seed`, then every item's noise drawn in order.

    `samples` holds every item the official rank would draw for, done or not: items generated in an
    earlier invocation still have their noise drawn (and discarded), so a resumed run starts the
    remaining items from the very noise a fresh run would have given them.
    """

    seed: int
    set: str
    samples: tuple[Any, ...]  # benchmarks.base.Sample, in the official order
    # --gen_turn: the passes over `samples` the stream drew before this one (their noise is drawn and
    # discarded first), so pass t continues the stream where pass t - 1 ended, as the release's loop.
    passes_before: int = 0


def official_order(samples: Sequence[Any]) -> dict[str, list[Any]]:
    """Samples grouped by set (first appearance order), each set in its data file's line order."""
    by_set: dict[str, list[Any]] = {}
    for sample in samples:
        by_set.setdefault(sample.set, []).append(sample)
    for set_name, items in by_set.items():
        if all("line" in s.meta for s in items):
            by_set[set_name] = sorted(items, key=lambda s: int(s.meta["line"]))
    return by_set


def official_rank_items(n_items: int, world_size: int, rank: int) -> list[int]:
    """The item indices torch's DistributedSampler(shuffle=False, drop_last=False) gives `rank`.

    It pads the index list by wrapping to a multiple of the world size and takes every
    `world_size`-th position from `rank`. The wrapped positions come last; the official loop skips
    them because their outputs already exist, so they draw no noise and are left out here.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in a world of size {world_size}")
    return list(range(rank, n_items, world_size))


def official_streams(
    samples: Sequence[Any], world_size: int, rank: int, seed: int, passes_before: int = 0
) -> list[NoiseStream]:
    """The official noise streams of DP group `rank`: one per set, seeded `seed + rank`.

    passes_before: the --gen_turn pass these streams draw for (0: the first); `inference_nava.py` seeds
    once and loops `for gen_turn in range(args.gen_turn)` over the whole data file, so pass t's noise
    follows the noise of every item of passes 0 … t − 1 in the same stream.
    """
    streams = []
    for set_name, items in official_order(samples).items():
        indices = official_rank_items(len(items), world_size, rank)
        streams.append(NoiseStream(seed + rank, set_name, tuple(items[i] for i in indices), passes_before))
    return streams


def turn_streams(run_seeds: Sequence[int | None], seed: int, gen_turn: int) -> list[tuple[int, int]]:
    """(stream base seed, passes before) of each run seed under official-rank.

    Without --gen-turn every run seed seeds its own streams. With --gen-turn N the run seeds are the
    release's N passes (seed, seed + 1, …, only labels in the key): every pass draws from the streams
    seeded `seed`, pass t after t full passes.
    """
    if gen_turn > 1:
        return [(seed, turn) for turn in range(len(run_seeds))]
    return [(seed if r is None else r, 0) for r in run_seeds]
