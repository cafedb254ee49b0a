"""The unit of work and of every score: one benchmark item under one run seed.

Generation, every metric batch, score records, aggregation, coverage, pairing in `compare` and
`check`, and submissions all key a sample by its `Unit`. A single-seed run has `seed=None` (its one
seed is the run's), so no sentinel value can collide with a user's seed; its key is the item id.
A multi-seed run's key is `item@seed` ('@' is refused in item ids, so the key is unambiguous).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Unit:
    """(item id, run seed): the key of one sample everywhere."""

    item: str
    seed: int | None = None

    @property
    def key(self) -> str:
        """The unit as one string: the item id, or `item@seed` for one seed of a multi-seed run."""
        return self.item if self.seed is None else f"{self.item}@{self.seed}"

    @classmethod
    def parse(cls, key: str) -> Unit:
        """Inverse of `key`."""
        item, sep, seed = key.partition("@")
        return cls(item, int(seed)) if sep else cls(item)

    @classmethod
    def of(cls, record: Any) -> Unit:
        """The unit a sample or score record describes (`id`, and `run_seed` when it has one)."""
        return cls(record.id, getattr(record, "run_seed", None))

    def __str__(self) -> str:
        return self.key
