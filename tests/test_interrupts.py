"""Interrupts are never data: Ctrl-C, SystemExit and torch elastic's signal exception stop the
command (exit 130) wherever they arrive, and leave no failed record behind."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nava_eval.benchmarks.base import Sample
from nava_eval.interrupts import (
    EXIT_INTERRUPTED,
    as_interrupt,
    interruptible_pool,
    is_interrupt,
    restored_signal_handlers,
)
from nava_eval.metrics.base import MetricField, ScoreInput, ScoreOutcome, get_metric
from nava_eval.rundir.files import append_jsonl, sha256_file
from nava_eval.rundir.layout import RunDir
from nava_eval.rundir.records import SampleRecord, latest_by_id, load_sample_records
from nava_eval.rundir.schema import to_dict


def elastic_signal(signum: int = signal.SIGINT) -> Exception:
    from torch.distributed.elastic.multiprocessing.api import SignalException

    return SignalException(f"Process got signal: {signum}", sigval=signal.Signals(signum))


INTERRUPTS = [
    pytest.param(KeyboardInterrupt, id="ctrl-c"),
    pytest.param(lambda: SystemExit(3), id="system-exit"),
    pytest.param(elastic_signal, id="elastic-signal"),
]


def test_the_rule_names_every_interrupt_and_nothing_else():
    assert (
        is_interrupt(KeyboardInterrupt()) and is_interrupt(SystemExit(0)) and is_interrupt(elastic_signal())
    )
    assert not is_interrupt(ValueError("bad file")) and not is_interrupt(RuntimeError("cuda"))
    assert isinstance(as_interrupt(elastic_signal(signal.SIGINT)), KeyboardInterrupt)
    term = as_interrupt(elastic_signal(signal.SIGTERM))
    assert isinstance(term, SystemExit) and term.code == 128 + signal.SIGTERM
    assert EXIT_INTERRUPTED == 130


def test_interruptible_pool_drops_queued_work_when_the_block_ends():
    started: list[int] = []

    def task(i: int) -> int:
        started.append(i)
        time.sleep(0.05)
        return i

    with pytest.raises(KeyboardInterrupt), interruptible_pool(1) as pool:
        futures = [pool.submit(task, i) for i in range(50)]
        futures[0].result()
        raise KeyboardInterrupt
    assert len(started) < 5  # a plain ThreadPoolExecutor would have run all 50 first


def test_signal_handlers_replaced_inside_the_block_are_put_back():
    before = signal.getsignal(signal.SIGINT)
    with restored_signal_handlers():
        signal.signal(signal.SIGINT, lambda *_: None)
    assert signal.getsignal(signal.SIGINT) is before


# --- metrics: an interrupt while reading an item propagates instead of becoming a failed outcome


@pytest.fixture(scope="module")
def smoke_clip(tmp_path_factory) -> Path:
    from nava_eval.nava.media import write_mp4

    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    frames = rng.integers(0, 255, size=(16, 64, 64, 3), dtype=np.uint8)
    audio = rng.standard_normal((2, 16000)).astype(np.float32) * 0.1
    write_mp4(path, frames, 8.0, audio=audio, sample_rate=16000)
    return path


@pytest.mark.parametrize("make_interrupt", INTERRUPTS)
@pytest.mark.parametrize("metric_name", ["sync", "video_quality", "wer", "sim"])
def test_metric_lets_an_interrupt_through(metric_name, make_interrupt, smoke_clip, monkeypatch):
    import av

    metric = get_metric(metric_name, smoke=True)
    metric.setup("cpu")
    item = ScoreInput(
        id="a",
        set="s",
        output=smoke_clip,
        reference_text="hello world",
        reference_audio=smoke_clip,
        language="en",
    )

    def interrupted(*args, **kwargs):
        raise make_interrupt()

    # Every decoder in the scoring paths opens media through PyAV (or soundfile for wavs).
    monkeypatch.setattr(av, "open", interrupted)
    expected = type(make_interrupt())
    with pytest.raises(expected):
        metric.score_batch([item, item])


def test_sync_prefetch_reraises_an_interrupt_from_a_worker_thread():
    from nava_eval.metrics.sync import _prefetch

    def fn(i: int) -> int:
        if i == 1:
            raise KeyboardInterrupt
        return i

    with interruptible_pool(2) as pool:
        results = _prefetch(pool, fn, 3, 2)
        assert next(results) == (0, 0)
        with pytest.raises(KeyboardInterrupt):
            next(results)


# --- runners: generate and score stop, and record nothing for the interrupted item


class _InterruptingMetric:
    name = "length"
    protocol = "length/test-v1"
    fields = (MetricField("length", "higher"),)
    requires = frozenset()
    description = "test"

    def __init__(self, make_interrupt):
        self.make_interrupt = make_interrupt

    def setup(self, device="cpu"):
        pass

    def score_batch(self, items):
        if any(i.id == "b" for i in items):
            raise self.make_interrupt()
        return [ScoreOutcome.ok(length=1.0) for _ in items]


def _scored_run(tmp_path: Path) -> tuple[RunDir, list[Sample]]:
    run_dir = RunDir(tmp_path)
    samples = [Sample(id=i, set="s", prompt="p") for i in ("a", "b")]
    for sample in samples:
        path = tmp_path / f"outputs/s/{sample.id}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sample.id)
        record = SampleRecord(
            id=sample.id,
            set="s",
            status="done",
            output=f"outputs/s/{sample.id}.txt",
            output_sha256=sha256_file(path),
        )
        append_jsonl(run_dir.samples, to_dict(record))
    return run_dir, samples


@pytest.mark.parametrize("make_interrupt", INTERRUPTS)
def test_score_stage_stops_without_recording_the_interrupted_batch(make_interrupt, tmp_path):
    from nava_eval.runners.score import score_metric

    run_dir, samples = _scored_run(tmp_path)
    records = latest_by_id(run_dir.all_records())
    with pytest.raises(BaseException) as caught:
        score_metric(
            run_dir, samples, records, _InterruptingMetric(make_interrupt), batch_size=1, progress=False
        )
    assert is_interrupt(caught.value)
    scored = [line for line in run_dir.scores("length").read_text().splitlines() if line]
    assert len(scored) == 1 and '"id": "a"' in scored[0]  # "a" finished; "b" left no failed record


@pytest.mark.parametrize("make_interrupt", INTERRUPTS)
def test_generate_stage_stops_without_a_failure_record(make_interrupt, tmp_path):
    from nava_eval.runners.distributed import init_distributed
    from nava_eval.runners.generate import generate_samples

    class Gen:
        output_kind = "txt"

        def generate(self, sample, seed, on_step):
            raise make_interrupt()

    run_dir = RunDir(tmp_path / "run")
    ctx = init_distributed(sp_size=1, env={}, backend="gloo")
    with pytest.raises(BaseException) as caught:
        generate_samples(run_dir, [Sample(id="a", set="s", prompt="p")], Gen, ctx, progress=False)
    assert is_interrupt(caught.value)
    assert [r for r in run_dir.all_records() if r.status == "failed"] == []
    assert not list(run_dir.root.rglob("*.tmp"))


# --- the CLI: an interrupt anywhere exits 130 with a message, not "Aborted!" (exit 1)


@pytest.mark.parametrize("make_interrupt", [INTERRUPTS[0], INTERRUPTS[2]])
def test_interrupted_command_exits_130(make_interrupt, tmp_path, monkeypatch):
    from nava_eval.runners import run as run_module
    from nava_eval.runners.cli.main import cli

    run_dir, _ = _scored_run(tmp_path / "r")

    def interrupted(*args, **kwargs):
        raise make_interrupt()

    monkeypatch.setattr(run_module, "load_prepared", interrupted)
    result = CliRunner().invoke(cli, ["score", str(run_dir.root)])
    assert result.exit_code == EXIT_INTERRUPTED, result.output
    assert "interrupted" in result.output and "rerun" in result.output
    assert load_sample_records(run_dir.samples)  # untouched


@pytest.mark.slow
def test_ctrl_c_in_the_main_thread_while_workers_decode_stops_sync(smoke_clip, monkeypatch):
    """The reported route: Ctrl-C lands while the main thread waits on a prefetch future."""
    from nava_eval.metrics import sync as sync_module

    metric = get_metric("sync", smoke=True)
    metric.setup("cpu")
    release = threading.Event()

    def slow_prepare(self, index, item, work):
        release.wait(5)
        raise RuntimeError("never reached in time")

    monkeypatch.setattr(sync_module.SyncNetMetric, "_prepare_stage", slow_prepare)
    timer = threading.Timer(0.2, lambda: signal.raise_signal(signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            metric.score_batch([ScoreInput(id="a", set="s", output=smoke_clip)])
    finally:
        release.set()
        timer.cancel()
