"""--gen-turn N, the release's `for gen_turn in range(args.gen_turn)` loop, keyed by Unit(item, run seed)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from nava_eval.benchmarks.base import Sample
from nava_eval.rundir.records import load_results, load_sample_records, load_score_records
from nava_eval.rundir.run_file import GenerationSettings
from nava_eval.rundir.unit import Unit
from nava_eval.runners.cli.main import cli
from nava_eval.runners.generate import plan_seed_replicates, replicate_items
from nava_eval.runners.run import RunRequest, prepare_run
from nava_eval.runners.seeds import sample_seed

TINY = GenerationSettings(model="nava-tiny", steps=1, width=64, height=32, latent_frames=3, fps=8)


def _samples() -> list[Sample]:
    out = []
    for set_name, count in (("set1", 3), ("set3", 2)):
        for i in range(count):
            out.append(Sample(id=f"{set_name}-{i}", set=set_name, prompt=f"p {i}", meta={"line": i + 1}))
    return out


def _official_loop(samples: list[Sample], world: int, seed: int, turns: int) -> dict[Unit, torch.Tensor]:
    """inference_nava.py's noise order with --gen_turn: set_seed(seed + rank) once per data file, then
    `for gen_turn in range(turns)` over the rank's items, video noise then audio noise per item. Pass t
    is keyed by run seed seed + t, the harness's label for it."""
    t, h, w = TINY.latent_frames, TINY.height // 16, TINY.width // 16
    audio_tokens = math.ceil(((t - 1) * 4 + 1) / 24 * 25)
    noise: dict[Unit, torch.Tensor] = {}
    for set_name in ("set1", "set3"):
        items = [s for s in samples if s.set == set_name]
        for rank in range(world):
            torch.manual_seed(seed + rank)
            for turn in range(turns):
                for i in range(rank, len(items), world):
                    torch.randn((t * h * w, 48))
                    noise[Unit(items[i].id, seed + turn)] = torch.randn((audio_tokens, 128))
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


@pytest.mark.parametrize("world", [1, 2])
def test_official_rank_passes_continue_the_stream(tiny_generator, world: int) -> None:
    samples = _samples()
    expected = _official_loop(samples, world, seed=100, turns=3)
    work = plan_seed_replicates(samples, set(), world, [100, 101, 102], 100, "official-rank", gen_turn=3)
    ours = {item.unit: item for group in work for item in replicate_items(group, tiny_generator)}
    assert ours.keys() == expected.keys() and len(ours) == 3 * len(samples)
    for unit, audio in expected.items():
        assert torch.equal(ours[unit].noise.audio, audio), unit
    # The passes are other noise for the same item, in one stream seeded `seed` (+ DP group).
    first = ours[Unit("set1-0", 100)]
    assert not torch.equal(first.noise.audio, ours[Unit("set1-0", 101)].noise.audio)
    assert first.noise_info == {"policy": "official-rank", "stream_seed": 100, "stream_position": 0}
    later = ours[Unit("set1-0", 102)].noise_info
    per_pass = math.ceil(3 / world)
    assert later == {
        "policy": "official-rank", "stream_seed": 100, "stream_position": 2 * per_pass, "gen_turn": 2,
    }  # fmt: skip


def test_resume_keeps_passes_apart(tiny_generator) -> None:
    """A unit done in pass 0 is not done in pass 1; what remains of pass 1 gets its full-run noise."""
    samples = _samples()
    expected = _official_loop(samples, 1, seed=7, turns=2)
    done = {Unit("set1-0", 7), Unit("set1-1", 8), Unit("set3-0", 8)}
    work = plan_seed_replicates(samples, done, 1, [7, 8], 7, "official-rank", gen_turn=2)
    items = list(replicate_items(work[0], tiny_generator))
    assert {i.unit for i in items} == set(expected) - done
    assert Unit("set1-0", 8) in {i.unit for i in items} and Unit("set1-1", 7) in {i.unit for i in items}
    for item in items:
        assert torch.equal(item.noise.audio, expected[item.unit]), item.unit


def test_per_sample_passes_are_run_seeds() -> None:
    samples = _samples()
    work = plan_seed_replicates(samples, set(), 1, [100, 101], 100, "per-sample", gen_turn=2)
    seeds = {(s.id, a.run_seed): seed for a in work[0] for s, seed in zip(a.samples, a.seeds, strict=True)}
    assert seeds == {(s.id, r): sample_seed(r, s.id) for s in samples for r in (100, 101)}
    assert len(set(seeds.values())) == len(seeds)  # every generation its own noise


def test_gen_turn_is_recorded_and_hashed(tmp_path: Path) -> None:
    def spec(**kw):
        request = RunRequest("versebench", preset="smoke", run_dir=tmp_path / "r", **kw)
        return prepare_run(request, write=False, smoke_data_root=tmp_path / "d").spec

    plain, turns, seeds = spec(), spec(overrides={"gen_turn": 3}), spec(seeds=(100, 101, 102))
    assert turns.generation.gen_turn == 3 and turns.seeds == [100, 101, 102]
    assert plain.seeds is None and plain.generation.gen_turn == 1
    # official-rank passes are not --num-seeds runs: the spec says so and hashes differently.
    assert len({plain.output_hash(), turns.output_hash(), seeds.output_hash()}) == 3
    # Run directories made before --gen-turn existed keep their hash (pinned from before the option).
    assert plain.output_hash() == "78464d901f818cab"
    assert spec(overrides={"gen_turn": 2, "seed": 5}).seeds == [5, 6]
    with pytest.raises(ValueError, match="not both"):
        spec(overrides={"gen_turn": 2}, seeds=(1, 2))
    with pytest.raises(ValueError, match="does not apply to seedtts"):
        prepare_run(
            RunRequest("seedtts", preset="smoke", run_dir=tmp_path / "s", overrides={"gen_turn": 2}),
            write=False,
            smoke_data_root=tmp_path / "d2",
        )
    with pytest.raises(ValueError, match="gen_turn must be an integer of at least 1"):
        GenerationSettings(gen_turn=0)


@pytest.mark.parametrize("policy", ["per-sample", "official-rank"])
def test_dry_run_shows_the_passes_as_generation_plans_them(tmp_path: Path, policy: str) -> None:
    from nava_eval.runners.dry_run import dry_run_plan

    request = RunRequest(
        "versebench", preset="smoke", run_dir=tmp_path / "r", nproc=2,
        overrides={"seed_policy": policy, "gen_turn": 2},
    )  # fmt: skip
    plan = dry_run_plan(request)
    prepared = prepare_run(request, write=False, smoke_data_root=tmp_path / "data")
    assert plan["gen_turn"] == 2 and plan["seeds"] == [100, 101]
    assert plan["n_samples"] == 2 * len(prepared.samples)
    work = plan_seed_replicates(prepared.samples, set(), 2, [100, 101], 100, policy, gen_turn=2)
    generated = {item.unit: item.seed for group in work for item in replicate_items(group, _NoNoise())}
    dry = {Unit(s["id"], s["run_seed"]): s["seed"] for s in plan["samples"]}
    assert dry == generated
    assert {s["gen_turn"] for s in plan["samples"] if s["run_seed"] == 101} == {1}
    if policy == "official-rank":  # both passes draw from the streams of seed 100 (+ DP group)
        assert {s["seed"] for s in plan["samples"]} <= {100, 101} and all(
            s["seed"] == 100 + s["dp_group"] for s in plan["samples"]
        )


class _NoNoise:
    def noise_stream(self, seed: int) -> None:
        return None

    def draw_noise(self, sample: Sample, rng: None) -> None:
        return None


@pytest.mark.slow
def test_smoke_run_with_two_passes(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("00000\n")
    run = tmp_path / "gt"
    args = ["run", "versebench", "--preset", "smoke", "--ids", str(ids), "--gen-turn", "2",
            "--seed-policy", "official-rank", "--metrics", "audio_amplitude", "--run-dir", str(run),
            "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = load_sample_records(run / "samples.jsonl")
    assert sorted((r.id, r.run_seed, r.output) for r in records) == [
        ("00000", 100, "outputs/seed100/set1/00000.mp4"),
        ("00000", 101, "outputs/seed101/set1/00000.mp4"),
    ]
    by_pass = {r.run_seed: r for r in records}
    assert by_pass[100].output_sha256 != by_pass[101].output_sha256
    assert by_pass[100].inputs_sha256 != by_pass[101].inputs_sha256
    assert by_pass[101].inputs["noise"]["gen_turn"] == 1
    scores = load_score_records(run / "scores/audio_amplitude.jsonl")
    assert sorted((r.id, r.run_seed) for r in scores) == [("00000", 100), ("00000", 101)]
    assert load_results(run).seeds == [100, 101]
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0 and "0 generated" in again.output and "2 cached" in again.output
    (run / "outputs/seed101/set1/00000.mp4").unlink()  # only that pass is made again
    third = CliRunner().invoke(cli, args, catch_exceptions=False)
    # the same noise gives the same bytes, so the pass's score (keyed by output sha256) stays valid
    assert "1 generated" in third.output and "2 cached" in third.output, third.output
    remade = {r.run_seed: r for r in load_sample_records(run / "samples.jsonl")}
    assert remade[101].output_sha256 == by_pass[101].output_sha256  # the same noise, the same bytes
