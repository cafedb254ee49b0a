"""A jsonl line's own width/height/frames enter the sample's inputs hash (resume regenerates an edited shape)."""

from __future__ import annotations

from nava_eval.benchmarks.base import Sample
from nava_eval.rundir.inputs_hash import InputsHasher


def test_line_shape_enters_the_inputs_hash() -> None:
    hasher = InputsHasher("settings")
    plain = Sample(id="a", set="default", prompt="p")
    portrait = Sample(id="a", set="default", prompt="p", meta={"width": 704, "height": 1280})
    longer = Sample(id="a", set="default", prompt="p", meta={"width": 704, "height": 1280, "frames": 61})
    hashes = {hasher(s, 1) for s in (plain, portrait, longer)}
    assert len(hashes) == 3
    # Samples without a shape of their own hash as before (other meta keys do not count).
    assert hasher(Sample(id="a", set="default", prompt="p", meta={"line": 3}), 1) == hasher(plain, 1)
