"""Per-sample seeds and the official-rank noise streams, against a re-implementation of NAVA's loop."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from nava_eval.benchmarks.base import Sample
from nava_eval.rundir.run_file import GenerationSettings
from nava_eval.runners.generate import Assignment, plan_assignments, work_items
from nava_eval.runners.seeds import official_rank_items, official_streams, sample_seed

TINY = GenerationSettings(model="nava-tiny", steps=1, width=64, height=32, latent_frames=3, fps=8)


def test_sample_seed_is_a_pure_function_of_run_seed_and_id() -> None:
    assert sample_seed(100, "00001") == sample_seed(100, "00001")
    seeds = {sample_seed(100, f"{i:05d}") for i in range(1000)}
    assert len(seeds) == 1000 and all(0 <= s < 2**63 for s in seeds)
    assert sample_seed(101, "00001") != sample_seed(100, "00001")
    # Pinned: changing the derivation changes every output of every run; it must be deliberate.
    assert sample_seed(100, "set1/abc") == 5950803595861973216


def test_official_rank_items_follow_distributed_sampler() -> None:
    # DistributedSampler(shuffle=False, drop_last=False) over 7 items and 3 ranks pads to 9 with 0, 1.
    assert [official_rank_items(7, 3, r) for r in range(3)] == [[0, 3, 6], [1, 4], [2, 5]]
    with pytest.raises(ValueError, match="rank 3"):
        official_rank_items(7, 3, 3)


def _samples() -> list[Sample]:
    # Two data files (sets) listed out of file order: official order is each file's line order.
    out = []
    for set_name, count in (("set1", 5), ("set3", 4)):
        for i in reversed(range(count)):
            out.append(Sample(id=f"{set_name}-{i}", set=set_name, prompt=f"p {i}", meta={"line": i + 1}))
    return out


def _official_loop(
    samples: list[Sample], world: int, seed: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """NAVA's inference_nava.py, noise only: one invocation per data file, set_seed(seed + rank) once,
    DistributedSampler's items, and per item torch.randn video noise then audio noise."""
    t, h, w = TINY.latent_frames, TINY.height // 16, TINY.width // 16
    audio_tokens = math.ceil(((t - 1) * 4 + 1) / 24 * 25)  # T2AVDataset: video duration at yaml fps 24
    noise: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for set_name in ("set1", "set3"):
        items = sorted((s for s in samples if s.set == set_name), key=lambda s: s.meta["line"])
        total = math.ceil(len(items) / world) * world
        indices = list(range(len(items))) + list(range(len(items)))[: total - len(items)]
        for rank in range(world):
            torch.manual_seed(seed + rank)
            for i in indices[rank:total:world]:
                if items[i].id in noise:  # "[Resume] skip existing": the wrapped duplicates
                    continue
                video = torch.randn((t * h * w, 48), dtype=torch.float32)
                audio = torch.randn((audio_tokens, 128), dtype=torch.float32)
                noise[items[i].id] = (video, audio)
    return noise


@pytest.fixture(scope="module")
def tiny_generator():
    from nava_eval.nava.components import build_components
    from nava_eval.nava.pipeline import NavaPipeline, PipelineOptions
    from nava_eval.runners.nava_backend import NavaGenerator

    pipeline = NavaPipeline(build_components("nava-tiny"), PipelineOptions(image_size=64))
    generator = NavaGenerator(pipeline, TINY, "mp4")
    yield generator
    generator.close()


@pytest.mark.parametrize("world", [1, 2, 3])
def test_official_rank_reproduces_the_official_noise_stream(tiny_generator, world: int) -> None:
    samples = _samples()
    expected = _official_loop(samples, world, seed=100)
    ours: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for assignment in plan_assignments(samples, set(), world, 100, "official-rank"):
        for item in work_items(assignment, tiny_generator):
            assert item.noise_error is None
            ours[item.sample.id] = (item.noise.video, item.noise.audio)
    assert ours.keys() == expected.keys() == {s.id for s in samples}
    for sample_id, (video, audio) in expected.items():
        assert torch.equal(ours[sample_id][0], video), sample_id
        assert torch.equal(ours[sample_id][1], audio), sample_id


def test_official_rank_resume_replays_the_stream(tiny_generator) -> None:
    samples = _samples()
    expected = _official_loop(samples, 2, seed=7)
    done = {"set1-0", "set1-2", "set3-1"}
    for assignment in plan_assignments(samples, done, 2, 7, "official-rank"):
        items = list(work_items(assignment, tiny_generator))
        assert {i.sample.id for i in items}.isdisjoint(done)
        for item in items:
            assert torch.equal(item.noise.audio, expected[item.sample.id][1]), item.sample.id
            assert item.noise_info["policy"] == "official-rank" and item.seed in (7, 8)


def test_per_sample_noise_differs_between_samples_and_ignores_the_world(tiny_generator) -> None:
    samples = _samples()[:4]
    drawn = {}
    for world in (1, 3):
        for assignment in plan_assignments(samples, set(), world, 100):
            for item in work_items(assignment, tiny_generator):
                request_noise = tiny_generator.draw_noise(item.sample, tiny_generator.noise_stream(item.seed))
                drawn.setdefault(item.sample.id, []).append(request_noise.video)
    for per_world in drawn.values():
        assert torch.equal(per_world[0], per_world[1])  # same noise on 1 and 3 groups
    firsts = [v[0] for v in drawn.values()]
    assert all(not torch.equal(firsts[0], other) for other in firsts[1:])  # same shape, other noise


def test_official_streams_restart_per_set() -> None:
    samples = _samples()
    streams = official_streams(samples, 2, 1, 100)
    assert [(s.set, s.seed, [x.id for x in s.samples]) for s in streams] == [
        ("set1", 101, ["set1-1", "set1-3"]),
        ("set3", 101, ["set3-1", "set3-3"]),
    ]
    assert Assignment([], []).streams == []


def test_a_sample_whose_noise_cannot_be_drawn_is_reported(tiny_generator, tmp_path: Path) -> None:
    bad = Sample(
        id="img", set="set1", prompt="p", mode="i2av", image=tmp_path / "missing.jpg", meta={"line": 1}
    )
    (assignment,) = plan_assignments([bad], set(), 1, 0, "official-rank")
    (item,) = list(work_items(assignment, tiny_generator))
    assert item.noise is None and item.noise_error is not None


def test_official_rank_on_a_subset_keeps_each_items_full_run_noise(tiny_generator) -> None:
    """--ids/--limit: the items left out still advance the stream (universe = the whole sets)."""
    samples = _samples()
    expected = _official_loop(samples, 2, seed=3)
    subset = [s for s in samples if s.id in {"set1-3", "set3-2"}]
    got = {}
    for assignment in plan_assignments(subset, set(), 2, 3, "official-rank", universe=samples):
        for item in work_items(assignment, tiny_generator):
            got[item.sample.id] = item.noise.audio
    assert got.keys() == {"set1-3", "set3-2"}
    for sample_id, audio in got.items():
        assert torch.equal(audio, expected[sample_id][1]), sample_id
