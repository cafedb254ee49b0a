"""The score stage: run directory outputs → scores/<metric>.jsonl, batched, cached, resumable.

A score is cached per (sample id [+ seed], output sha256, protocol id), and only a finished verdict
is reused: "ok", or "skipped" by the protocol's own rules (no face track, silent audio: the same bytes
give the same verdict). A "failed" score is tried again on the next run. The sha256 is the one of
the file on disk (stat-gated, see reports.file_identity), never only the recorded one: an output
replaced since it was generated is not scored at all (listed as changed; `run`/`generate` makes it
again), so no number is ever filed under bytes it was not computed from. Each batch is appended as
whole lines as soon as it is scored, so a kill loses at most the batch in flight. Under data-parallel
scoring (runners.score_parallel) each rank scores its share of the same to-do list into its own shard.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.benchmarks.base import Sample
from nava_eval.interrupts import reraise_interrupts
from nava_eval.metrics.base import Metric, ScoreInput, ScoreOutcome
from nava_eval.rundir.identity import FileIdentityIndex
from nava_eval.rundir.layout import RunDir
from nava_eval.rundir.records import (
    SampleRecord,
    ScoreRecord,
    latest_by_id,
    load_score_records,
    sample_key,
)
from nava_eval.rundir.schema import to_dict

logger = logging.getLogger(__name__)

#: Score statuses that are a final verdict on the bytes they name, and so are cache hits.
CACHE_HIT_STATUSES = frozenset({"ok", "skipped"})


@dataclass(frozen=True)
class SampleUnit:
    """What one score line is about: a benchmark sample, and which seed of a multi-seed run."""

    sample: Sample
    run_seed: int | None = None

    @property
    def key(self) -> str:
        return sample_key(self.sample.id, self.run_seed)


def as_units(samples: Sequence[Sample | SampleUnit]) -> list[SampleUnit]:
    """Samples of a single-seed run are units with no run seed."""
    return [s if isinstance(s, SampleUnit) else SampleUnit(s) for s in samples]


@dataclass
class ScoreSummary:
    """What one metric's pass did."""

    metric: str
    protocol: str
    scored: int = 0
    cached: int = 0
    skipped: int = 0
    failed: int = 0
    not_generated: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # output missing or not the recorded bytes
    seconds: float = 0.0


def score_input(sample: Sample, output: Path, audio: Path | None = None) -> ScoreInput:
    """What a metric may need about one sample (prompt wav = first speaker wav, for SIM).

    `audio` is an imported output's separate wav (meta["audio"]); `output_for` decides which file a
    metric reads as its output.
    """
    reference_audio = sample.speaker_wavs[0] if sample.speaker_wavs else sample.ground_truth_audio
    meta = {"prompt": sample.prompt, "mode": sample.mode, **sample.meta}
    if sample.image is not None:
        meta.setdefault("image", str(sample.image))  # the conditioning image (ID compares frames with it)
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
    metric: Metric, sample: Sample, sha: str | None, outcome: ScoreOutcome, run_seed: int | None = None
) -> ScoreRecord:
    bad = _non_finite_fields(metric, outcome)
    if bad:  # NaN is not a score: counted as a failure, never written (JSON has no NaN)
        outcome = ScoreOutcome.failed(
            f"the metric returned a value that is not a finite number for {', '.join(bad)}"
        )
    primary = metric.fields[0].name if metric.fields else None
    value = outcome.values.get(primary) if outcome.status == "ok" and primary else None
    return ScoreRecord(
        id=sample.id,
        set=sample.set,
        metric=metric.name,
        protocol=metric.protocol,
        status=outcome.status,
        output_sha256=sha,
        value=float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None,
        values=_jsonable(outcome.values),
        reason=outcome.reason,
        run_seed=run_seed,
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
    units: Sequence[SampleUnit],
    sample_records: dict[str, SampleRecord],
    cached: dict[str, ScoreRecord],
    protocol: str,
    summary: ScoreSummary,
    index: FileIdentityIndex,
) -> list[tuple[SampleUnit, SampleRecord, str]]:
    """The units still to score with the sha256 of their output on disk, in plan order.

    Counts cached, not-generated and changed units into `summary`. Deterministic for a given run
    directory state, so every rank of a data-parallel scorer derives the same list and takes its own
    share of it without any message.
    """
    from nava_eval.rundir.layout import current_output_sha

    todo: list[tuple[SampleUnit, SampleRecord, str]] = []
    for unit in units:
        record = sample_records.get(unit.key)
        sha, problem = current_output_sha(run_dir, record, index)
        if problem == "not generated":
            summary.not_generated.append(unit.key)
            continue
        if sha is None or (record.audio_output and _audio_changed(run_dir, record, index)):
            logger.warning(
                "%s: output %s is %s since it was recorded; not scored (the summary says how to bring it back)",
                unit.key, record.output, "missing" if problem == "missing" else "not the recorded bytes",
            )  # fmt: skip
            summary.changed.append(unit.key)
            continue
        hit = cached.get(unit.key)
        if (
            hit is not None
            and hit.status in CACHE_HIT_STATUSES
            and hit.protocol == protocol
            and hit.output_sha256 == sha
            and _reference_unchanged(hit, unit.sample, index)
        ):
            summary.cached += 1
            continue
        todo.append((unit, record, sha))
    return todo


def _audio_changed(run_dir: RunDir, record: SampleRecord, index: FileIdentityIndex) -> bool:
    """An imported item's separate wav is gone or is not the recorded bytes."""
    current = index.sha256(run_dir.output(record.audio_output or ""))
    return current is None or bool(record.audio_output_sha256 and current != record.audio_output_sha256)


def score_metric(
    run_dir: RunDir,
    samples: Sequence[Sample | SampleUnit],
    sample_records: dict[str, SampleRecord],
    metric: Metric,
    *,
    batch_size: int = 8,
    device: str = "cpu",
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
    share: tuple[int, int] = (0, 1),
    out_path: Path | None = None,
    index: FileIdentityIndex | None = None,
) -> ScoreSummary:
    """Score every generated sample (or (sample, seed) unit) of `samples` that is not cached yet.

    `share` = (rank, world): score only every world-th pending unit starting at rank (data-parallel
    scoring), appending to `out_path` (the rank's shard) instead of scores/<metric>.jsonl.
    `index`: the run's stat-gated file identities, shared across metrics (saved by the caller);
    without it this call opens and saves its own.
    """
    from nava_eval.rundir.files import append_jsonl

    started = time.perf_counter()
    summary = ScoreSummary(metric=metric.name, protocol=metric.protocol)
    path = run_dir.scores(metric.name)
    cached = latest_by_id(load_score_records(path))
    rank, world = share
    own_index = index is None
    index = index or run_dir.file_index()
    todo = pending_units(run_dir, as_units(samples), sample_records, cached, metric.protocol, summary, index)
    todo = todo[rank::world]
    if own_index and rank == 0:
        index.save()
    out = out_path if out_path is not None else path
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
                inputs.append(score_input(unit.sample, output, audio))
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
                line = _record(metric, unit.sample, sha, outcome, unit.run_seed)
                append_jsonl(out, to_dict(line))
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
