"""The generate loop: planning, resume, atomic outputs, failures, DP on gloo, kill -9 and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nava_eval.benchmarks.base import Sample
from nava_eval.rundir.layout import RunDir
from nava_eval.rundir.records import load_sample_records
from nava_eval.runners.distributed import init_distributed, spawn_workers
from nava_eval.runners.generate import generate_samples, plan_assignments
from nava_eval.runners.seeds import sample_seed


def make_samples(n: int) -> list[Sample]:
    return [Sample(id=f"{i:03d}", set="set1" if i % 2 else "set2", prompt=f"prompt {i}") for i in range(n)]


@dataclass
class Written:
    text: str
    timings: dict = field(default_factory=lambda: {"denoise": 0.001, "decode": 0.001})

    def write(self, path) -> None:
        Path(path).write_text(self.text)


class EchoGenerator:
    """Output = prompt and seed; fails on prompts containing 'boom'; can pause on one sample."""

    output_kind = "txt"

    def __init__(self, pause_on: str | None = None):
        self.pause_on = pause_on
        self.calls: list[str] = []

    def generate(self, sample, seed, on_step):
        self.calls.append(sample.id)
        for step in (1, 2):
            on_step(step, 2)
        if "boom" in sample.prompt:
            raise ValueError(f"request {sample.id}: field 'prompt' cannot be generated")
        if self.pause_on == sample.id:
            print("PAUSED", flush=True)
            time.sleep(60)
        return Written(f"{sample.prompt}|seed={seed}")


def single_ctx():
    return init_distributed(sp_size=1, env={}, backend="gloo")


def done_counts(run_dir: RunDir) -> Counter:
    return Counter(r.id for r in load_sample_records(run_dir.samples) if r.status == "done")


def test_plan_is_deterministic_and_world_size_independent():
    samples = make_samples(7)
    one = plan_assignments(samples, {"001"}, dp_size=1, seed=100)
    three = plan_assignments(samples, {"001"}, dp_size=3, seed=100)
    assert [s.id for s in one[0].samples] == ["000", "002", "003", "004", "005", "006"]
    assert sorted(s.id for a in three for s in a.samples) == [s.id for s in one[0].samples]
    # Each sample's seed is a function of (run seed, id) alone: the same on any world size.
    seeds_one = dict(zip((s.id for s in one[0].samples), one[0].seeds, strict=True))
    seeds_three = {s.id: seed for a in three for s, seed in zip(a.samples, a.seeds, strict=True)}
    assert seeds_one == seeds_three == {s: sample_seed(100, s) for s in seeds_one}
    assert len(set(seeds_one.values())) == len(seeds_one)  # every sample starts from its own noise
    official = plan_assignments(samples, set(), dp_size=2, seed=100, seed_policy="official-rank")
    # One official invocation per set (set2 = 000 002 004 006, set1 = 001 003 005); group 1 takes
    # every second item of each from the second on, its streams seeded 100 + 1.
    assert [s.id for s in official[1].samples] == ["002", "006", "003"] and official[1].seeds[0] == 101
    assert [(st.set, st.seed, [s.id for s in st.samples]) for st in official[1].streams] == [
        ("set2", 101, ["002", "006"]),
        ("set1", 101, ["003"]),
    ]
    with pytest.raises(ValueError, match="valid: per-sample, official-rank"):
        plan_assignments(samples, set(), 1, 0, seed_policy="random")


def test_generate_writes_records_and_resume_skips_verified_outputs(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    samples = make_samples(4)
    gen = EchoGenerator()
    summary = generate_samples(run_dir, samples, lambda: gen, single_ctx(), seed=7, progress=False)
    assert (summary.done, summary.failed, summary.already_done) == (4, 0, 0)
    assert (run_dir.root / "outputs/set1/001.txt").read_text() == f"prompt 1|seed={sample_seed(7, '001')}"
    records = {r.id: r for r in load_sample_records(run_dir.samples)}
    assert records["001"].seed == sample_seed(7, "001")  # samples.jsonl records each sample's seed
    assert records["001"].inputs["noise"] == {"policy": "per-sample"}
    assert records["002"].status == "done" and len(records["002"].output_sha256) == 64
    assert set(records["002"].timings) == {"denoise", "decode", "write"}
    assert not list(run_dir.root.glob("samples.shard-*"))
    assert not list(run_dir.root.glob(".ranks/rank*.txt"))  # finished ranks leave no heartbeat behind

    # Tamper with one output: only that one is regenerated.
    (run_dir.root / "outputs/set2/002.txt").write_text("corrupted")
    gen2 = EchoGenerator()
    summary2 = generate_samples(run_dir, samples, lambda: gen2, single_ctx(), seed=7, progress=False)
    assert gen2.calls == ["002"] and summary2.already_done == 3
    assert (run_dir.root / "outputs/set2/002.txt").read_text() == f"prompt 2|seed={sample_seed(7, '002')}"

    # Nothing missing: the generator is never even loaded.
    def must_not_load():
        raise AssertionError("loaded although nothing was missing")

    assert generate_samples(run_dir, samples, must_not_load, single_ctx(), progress=False).already_done == 4


def test_failed_sample_is_recorded_and_run_continues(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    samples = make_samples(3)
    samples[1] = Sample(id="001", set="set1", prompt="boom")
    summary = generate_samples(run_dir, samples, EchoGenerator, single_ctx(), progress=False)
    assert (summary.done, summary.failed, summary.failed_ids) == (2, 1, ["001"])
    failed = [r for r in load_sample_records(run_dir.samples) if r.status == "failed"]
    assert failed[0].id == "001" and "field 'prompt'" in failed[0].error
    assert not (run_dir.root / "outputs/set1/001.txt").exists()
    with pytest.raises(ValueError, match="field 'prompt'"):
        generate_samples(run_dir, samples, EchoGenerator, single_ctx(), progress=False, fail_fast=True)


def _dp_worker(run_root: str, n: int, seed: int) -> tuple[int, int]:
    ctx = init_distributed(sp_size=1, backend="gloo", timeout_s=60)
    summary = generate_samples(
        RunDir(Path(run_root)), make_samples(n), EchoGenerator, ctx, seed=seed, progress=False
    )
    return summary.done, summary.already_done


@pytest.mark.slow
def test_dp2_produces_the_same_outputs_as_dp1(tmp_path):
    one, two = RunDir(tmp_path / "dp1"), RunDir(tmp_path / "dp2")
    generate_samples(one, make_samples(5), EchoGenerator, single_ctx(), seed=3, progress=False)
    results = spawn_workers(_dp_worker, 2, str(two.root), 5, 3, timeout_s=120)
    assert results[0] == (5, 0)  # rank 0 reports the totals over both groups
    for path in sorted((one.root / "outputs").rglob("*.txt")):
        assert (two.root / path.relative_to(one.root)).read_text() == path.read_text()
    assert done_counts(two) == Counter({s.id: 1 for s in make_samples(5)})


@pytest.mark.slow
def test_killed_run_resumed_with_another_world_size_does_each_sample_once(tmp_path):
    run_root = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_generate import EchoGenerator, make_samples, single_ctx
        from nava_eval.runners.generate import generate_samples
        from nava_eval.rundir.layout import RunDir
        generate_samples(RunDir(__import__("pathlib").Path({str(run_root)!r})), make_samples(6),
                         lambda: EchoGenerator(pause_on="003"), single_ctx(), progress=False)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=os.getcwd())
    assert child.stdout.readline().strip() == b"PAUSED"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    run_dir = RunDir(run_root)
    # The killed run left its finished samples in its shard, none in samples.jsonl yet.
    assert {r.id for r in run_dir.all_records()} == {"000", "001", "002"}
    results = spawn_workers(_dp_worker, 2, str(run_root), 6, 100, timeout_s=120)
    assert results[0] == (3, 3)
    assert done_counts(run_dir) == Counter({s.id: 1 for s in make_samples(6)})
    assert not list(run_root.rglob("*.tmp"))


# --- resume checks each sample's inputs, not only its output file


def _hashed_generate(run_dir, samples, gen, *, seed=7, seed_policy="per-sample", settings="s1"):
    from nava_eval.rundir.inputs_hash import InputsHasher

    hasher = InputsHasher(settings)
    return generate_samples(
        run_dir, samples, lambda: gen, single_ctx(), seed=seed, seed_policy=seed_policy, progress=False,
        inputs_hash=hasher,
    )  # fmt: skip


def test_an_edited_prompt_regenerates_only_that_sample(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    samples = make_samples(3)
    _hashed_generate(run_dir, samples, EchoGenerator())
    records = {r.id: r for r in load_sample_records(run_dir.samples)}
    assert all(len(r.inputs_sha256 or "") == 64 for r in records.values())

    edited = [samples[0], Sample(id="001", set="set1", prompt="a new prompt"), samples[2]]
    gen = EchoGenerator()
    summary = _hashed_generate(run_dir, edited, gen)
    assert gen.calls == ["001"] and summary.already_done == 2
    assert (run_dir.root / "outputs/set1/001.txt").read_text() == f"a new prompt|seed={sample_seed(7, '001')}"


def test_edited_image_or_speaker_bytes_and_settings_regenerate(tmp_path):
    image, wav = tmp_path / "a.png", tmp_path / "a.wav"
    image.write_bytes(b"png v1")
    wav.write_bytes(b"wav v1")
    samples = [
        Sample(id="i", set="s", prompt="p", mode="i2av", image=image),
        Sample(id="w", set="s", prompt="p <S>hi<E>", speaker_wavs=(wav,)),
        Sample(id="t", set="s", prompt="text only"),
    ]
    run_dir = RunDir(tmp_path / "run")
    _hashed_generate(run_dir, samples, EchoGenerator())
    image.write_bytes(b"png v2")
    wav.write_bytes(b"wav v2")
    gen = EchoGenerator()
    _hashed_generate(run_dir, samples, gen)
    assert gen.calls == ["i", "w"]
    gen = EchoGenerator()
    _hashed_generate(run_dir, samples, gen, settings="s2")  # another output-changing setting
    assert gen.calls == ["i", "w", "t"]


class StreamEcho(EchoGenerator):
    """EchoGenerator with official-rank noise streams: the noise is the next number of a seeded stream."""

    def noise_stream(self, seed):
        import random

        return random.Random(seed)

    def draw_noise(self, sample, stream):
        return stream.random()

    def generate(self, sample, seed, on_step, noise=None):
        self.calls.append(sample.id)
        return Written(f"{sample.prompt}|seed={seed}|noise={noise}")


def test_resume_plan_regenerates_official_rank_samples_whose_noise_changes_with_the_world(tmp_path):
    from nava_eval.rundir.inputs_hash import InputsHasher
    from nava_eval.runners.generate import resume_plan

    run_dir = RunDir(tmp_path / "run")
    samples = make_samples(4)  # set2: 000, 002; set1: 001, 003 (one stream per set)
    _hashed_generate(run_dir, samples, StreamEcho(), seed_policy="official-rank")  # one DP group: seed 7
    hasher = InputsHasher("s1")
    same_world, _ = resume_plan(run_dir, samples, 1, 7, "official-rank", hasher)
    assert same_world == {"000", "001", "002", "003"}
    two_groups, work = resume_plan(run_dir, samples, 2, 7, "official-rank", hasher)
    ((group1, _),) = work[1]
    # With two groups, 002 and 003 move to group 1's streams (seed 7 + 1): their noise is not what
    # made the files on disk. 000 and 001 stay first in group 0's streams.
    assert two_groups == {"000", "001"}
    assert [s.id for s in group1.samples] == ["002", "003"] and group1.seeds == [8, 8]
    # Per-sample seeding does not depend on the world: nothing to redo.
    per_sample = RunDir(tmp_path / "per-sample")
    _hashed_generate(per_sample, samples, EchoGenerator())
    assert resume_plan(per_sample, samples, 2, 7, "per-sample", hasher)[0] == {"000", "001", "002", "003"}


def test_records_without_an_inputs_hash_are_not_trusted(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    samples = make_samples(2)
    generate_samples(run_dir, samples, EchoGenerator, single_ctx(), seed=7, progress=False)  # no hash
    gen = EchoGenerator()
    _hashed_generate(run_dir, samples, gen)
    assert gen.calls == ["000", "001"]
