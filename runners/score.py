"""The score stage: run directory outputs → scores/<metric>.jsonl, batched, cached, resumable.

A score is cached per (unit = item + run seed, output sha256, protocol id); what is pending is the
run directory's answer (nava_eval.rundir.layout.RunDir.pending): only a final verdict is reused, and
an output replaced since it was generated is not scored at all, so no number is ever filed under
bytes it was not computed from. Every batch hands the metric each output's unit, its key within the batch. Each batch is appended as
whole lines as soon as it is scored, so a kill loses at most the batch in flight. Under data-parallel
scoring (runners.score_parallel) each rank scores its share of the same to-do list into its own shard.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.benchmarks.base import Sample
from nava_eval.interrupts import reraise_interrupts
from nava_eval.metrics.base import Metric, ScoreInput, ScoreOutcome
from nava_eval.rundir.identity import FileIdentityIndex
from nava_eval.rundir.layout import CACHE_HIT_STATUSES, RunDir
from nava_eval.rundir.records import SampleRecord, ScoreRecord
from nava_eval.rundir.unit import Unit

logger = logging.getLogger(__name__)

__all__ = ["CACHE_HIT_STATUSES", "ScoreSummary", "pending_units", "score_metric"]


@dataclass
class ScoreSummary:
    """What one metric's pass did."""

    metric: str
    protocol: str
    scored: int = 0
    cached: int = 0
    skipped: int = 0
    failed: int = 0
    not_generated: list[Unit] = field(default_factory=list)
    changed: list[Unit] = field(default_factory=list)  # output missing or not the recorded bytes
    seconds: float = 0.0


def score_input(
    sample: Sample, output: Path, audio: Path | None = None, run_seed: int | None = None
) -> ScoreInput:
    """What a metric may need about one sample (prompt wav = first speaker wav, for SIM).

    `audio` is an imported output's separate wav (meta["audio"]); `output_for` decides which file a
    metric reads as its output.
    """
    reference_audio = sample.speaker_wavs[0] if sample.speaker_wavs else sample.ground_truth_audio
    meta = {"prompt": sample.prompt, "mode": sample.mode, **sample.meta}
    if sample.image is not None:
        meta.setdefault("image", str(sample.image))  # the conditioning image (ID compares frames with it)
    if sample.speaker_wavs:  # one per <S>...<E> span of the prompt, in order (sim_speakers)
        meta.setdefault("speaker_wavs", [str(p) for p in sample.speaker_wavs])
    if audio is not None:
        meta["audio"] = str(audio)
    return ScoreInput(
        id=sample.id,
        set=sample.set,
        output=output,
        reference_text=sample.reference_text,
        reference_audio=reference_audio,
        language=sample.language,
        meta=meta,
        seed=run_seed,
    )


#: A score whose values record the sha256 of the reference file it was computed against (a
#: ground-truth wav) is reused only while that file is unchanged.
REFERENCE_SHA256_KEY = "reference_sha256"


def _reference_unchanged(hit: ScoreRecord, sample: Sample, index: FileIdentityIndex) -> bool:
    recorded = hit.values.get(REFERENCE_SHA256_KEY)
    if recorded is None:
        return True
    reference = score_input(sample, Path(".")).reference_audio
    if reference is None:
        return False
    return index.sha256(Path(reference)) == recorded  # stat-gated like the outputs; None when gone


def output_for(metric: Metric, run_dir: RunDir, record: SampleRecord) -> tuple[Path, Path | None]:
    """(file the metric scores, separate audio file or None) for one sample record.

    An imported item in the Verse-Bench toolkit layout has <id>.mp4 and <id>.wav: as the toolkit does,
    audio-only metrics (WER, SIM, ...) read the wav and video metrics (Sync, video quality) the mp4.
    """
    video = run_dir.output(record.output or "")
    if not record.audio_output:
        return video, None
    audio = run_dir.output(record.audio_output)
    needs = set(getattr(metric, "requires", ()) or ())
    if "audio" in needs and "video" not in needs:
        return audio, audio
    return video, audio


def _record(
    metric: Metric, unit: Unit, sample: Sample, sha: str | None, outcome: ScoreOutcome
) -> ScoreRecord:
    bad = _non_finite_fields(metric, outcome)
    if bad:  # NaN is not a score: counted as a failure, never written (JSON has no NaN)
        outcome = ScoreOutcome.failed(
            f"the metric returned a value that is not a finite number for {', '.join(bad)}"
        )
    primary = metric.fields[0].name if metric.fields else None
    value = outcome.values.get(primary) if outcome.status == "ok" and primary else None
    return ScoreRecord(
        id=unit.item,
        set=sample.set,
        metric=metric.name,
        protocol=metric.protocol,
        status=outcome.status,
        output_sha256=sha,
        value=float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None,
        values=_jsonable(outcome.values),
        reason=outcome.reason,
        run_seed=unit.seed,
    )


def _non_finite_fields(metric: Metric, outcome: ScoreOutcome) -> list[str]:
    if outcome.status != "ok":
        return []
    return [
        f.name
        for f in metric.fields
        if isinstance(outcome.values.get(f.name), float) and not math.isfinite(outcome.values[f.name])
    ]


def _jsonable(value: Any) -> Any:
    """JSON-ready copy: arrays to lists, non-finite floats to None (details such as curves)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def pending_units(
    run_dir: RunDir,
    units: Sequence[Unit],
    samples: Mapping[str, Sample],
    sample_records: Mapping[Unit, SampleRecord],
    cached: Mapping[Unit, ScoreRecord],
    protocol: str,
    summary: ScoreSummary,
    index: FileIdentityIndex,
) -> list[tuple[Unit, SampleRecord, str]]:
    """The units still to score with the sha256 of their output on disk, in plan order (RunDir.pending).

    Counts cached, not-generated and changed units into `summary`. A cached score computed against a
    reference file (ground-truth wav) that changed since is scored again.
    """
    pending = run_dir.pending(
        units,
        protocol,
        cached,
        index,
        sample_records,
        still_valid=lambda unit, hit: _reference_unchanged(hit, samples[unit.item], index),
    )
    summary.cached += pending.cached
    summary.not_generated += pending.not_generated
    summary.changed += pending.changed
    return pending.todo


def score_metric(
    run_dir: RunDir,
    samples: Sequence[Sample],
    sample_records: Mapping[Unit, SampleRecord],
    metric: Metric,
    *,
    units: Sequence[Unit] | None = None,
    batch_size: int = 8,
    device: str = "cpu",
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
    share: tuple[int, int] = (0, 1),
    out_path: Path | None = None,
    index: FileIdentityIndex | None = None,
) -> ScoreSummary:
    """Score every generated unit that is not cached yet: `units` (item, run seed) of the benchmark
    items `samples`; by default each item once (a single-seed run).

    `share` = (rank, world): score only every world-th pending unit starting at rank (data-parallel
    scoring), appending to `out_path` (the rank's shard) instead of scores/<metric>.jsonl.
    `index`: the run's stat-gated file identities, shared across metrics (saved by the caller);
    without it this call opens and saves its own.
    """
    started = time.perf_counter()
    summary = ScoreSummary(metric=metric.name, protocol=metric.protocol)
    by_item = {s.id: s for s in samples}
    units = [Unit(s.id) for s in samples] if units is None else list(units)
    cached = run_dir.score_records(metric.name)
    rank, world = share
    own_index = index is None
    index = index or run_dir.file_index()
    todo = pending_units(run_dir, units, by_item, sample_records, cached, metric.protocol, summary, index)
    todo = todo[rank::world]
    if own_index and rank == 0:
        index.save()
    out = out_path if out_path is not None else run_dir.scores(metric.name)
    if not todo:
        summary.seconds = time.perf_counter() - started
        return summary

    metric.setup(device)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        desc = f"score {metric.name}" + (f" (rank {rank}/{world})" if world > 1 else "")
        bar = tqdm(total=len(todo), desc=desc, unit="sample", dynamic_ncols=True)
    try:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            inputs = []
            for unit, record, _ in batch:
                output, audio = output_for(metric, run_dir, record)
                inputs.append(score_input(by_item[unit.item], output, audio, unit.seed))
            try:
                outcomes = metric.score_batch(inputs)
            except Exception as exc:  # a metric bug must not lose the batch's bookkeeping
                reraise_interrupts(exc)
                logger.exception("metric %s failed on a batch", metric.name)
                outcomes = [ScoreOutcome.failed(f"{type(exc).__name__}: {exc}") for _ in batch]
            if len(outcomes) != len(batch):
                raise RuntimeError(
                    f"metric {metric.name} returned {len(outcomes)} outcomes for {len(batch)} inputs"
                )
            for (unit, _, sha), outcome in zip(batch, outcomes, strict=True):
                line = _record(metric, unit, by_item[unit.item], sha, outcome)
                run_dir.append_score(line, out)
                if line.status == "ok":
                    summary.scored += 1
                elif line.status == "skipped":
                    summary.skipped += 1
                else:
                    summary.failed += 1
            if bar is not None:
                bar.update(len(batch))
            if on_batch is not None:
                on_batch(len(batch))
    finally:
        if bar is not None:
            bar.close()
    summary.seconds = time.perf_counter() - started
    return summary
