"""BaseMetric: the one place for smoke mode, weight overrides, device, batch size and loading once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nava_eval.metrics.base import BaseMetric, MetricField, ScoreOutcome


class Counting(BaseMetric):
    name = "counting"
    protocol = "counting/test-v1"
    fields = (MetricField("n", "higher"),)
    description = "test"
    requires = frozenset({"audio"})
    weight_names = ("syncnet",)

    def __init__(self, *, variant: str = "", **common) -> None:
        super().__init__(**common)
        self.loads: list[str] = []
        self.protocol = self.protocol_id(variant=variant)

    def _loaded(self) -> bool:
        return bool(self.loads)

    def _load(self, device: str) -> None:
        self.loads.append(device)

    def score_batch(self, items):
        return [ScoreOutcome.ok(n=len(items)) for _ in items]


class Sticky(Counting):
    reload_on_new_device = False


def test_protocol_variants_then_the_smoke_suffix() -> None:
    assert Counting().protocol == "counting/test-v1"
    assert Counting(variant="+stride2").protocol == "counting/test-v1+stride2"
    assert (
        Counting(variant="+stride2", smoke=True).protocol == "counting/test-v1+stride2+smoke-random-weights"
    )
    assert Counting.protocol == "counting/test-v1"  # the class keeps the default that `ls` shows


def test_setup_loads_once_per_device() -> None:
    metric = Counting()
    metric.setup("cpu")
    metric.setup("cpu")
    assert metric.loads == ["cpu"] and metric.device == "cpu"
    metric.setup("cuda:1")
    assert metric.loads == ["cpu", "cuda:1"] and metric.device == "cuda:1"
    sticky = Sticky()
    sticky.setup("cpu")
    sticky.setup("cuda")  # networks put in place by hand (the speed benches) must stay
    assert sticky.loads == ["cpu"] and sticky.device == "cpu"


def test_batch_size_default_per_device_and_bad_values() -> None:
    assert Counting().batch_size_on("cuda:0", gpu=64, cpu=8) == 64
    assert Counting().batch_size_on("cpu", gpu=64, cpu=8) == 8
    assert Counting(batch_size=3).batch_size_on("cuda", gpu=64, cpu=8) == 3
    with pytest.raises(ValueError, match="counting: batch_size must be >= 1, got 0"):
        Counting(batch_size=0)
    with pytest.raises(TypeError, match=r"counting: unknown option\(s\) \['frobs'\]; valid: variant"):
        Counting().reject_options({"frobs": 1}, "variant")


def test_a_user_weight_file_is_used_and_its_provenance_kept(tmp_path: Path) -> None:
    own = tmp_path / "my_syncnet.model"
    own.write_bytes(b"my own weights")
    metric = Counting(weights={"syncnet": str(own)})
    assert metric.resolve_weight("syncnet") == own
    prov = metric.weights_provenance["syncnet"]
    assert prov["path"] == str(own) and prov["source"] == "override"
    assert prov["sha256"] == hashlib.sha256(b"my own weights").hexdigest()
    with pytest.raises(FileNotFoundError, match="--weights syncnet=.*: no such file"):
        Counting(weights={"syncnet": str(tmp_path / "missing")}).resolve_weight("syncnet")
