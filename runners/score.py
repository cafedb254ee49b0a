"""The score stage: run directory outputs → scores/<metric>.jsonl, batched, cached, resumable.

A score is cached per (sample id [+ seed], output sha256, protocol id): a regenerated output or a
changed protocol is scored again, everything else never twice. Each batch is appended as whole lines
as soon as it is scored, so a kill loses at most the batch in flight. Under data-parallel scoring
(runners.score_parallel) each rank scores its share of the same to-do list into its own shard file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nava_eval.benchmarks.base import Sample
from nava_eval.metrics.base import Metric, ScoreInput, ScoreOutcome
from nava_eval.reports.results import (
    SampleRecord,
    ScoreRecord,
    latest_by_id,
    load_score_records,
    sample_key,
)
from nava_eval.reports.schema import to_dict
from nava_eval.runners.run_dir import RunDir

logger = logging.getLogger(__name__)


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
    seconds: float = 0.0


def score_input(sample: Sample, output: Path, audio: Path | None = None) -> ScoreInput:
    """What a metric may need about one sample (prompt wav = first speaker wav, for SIM).

    `audio` is an imported output's separate wav (meta["audio"]); `output_for` decides which file a
    metric reads as its output.
    """
    reference_audio = sample.speaker_wavs[0] if sample.speaker_wavs else sample.ground_truth_audio
    meta = {"prompt": sample.prompt, "mode": sample.mode, **sample.meta}
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


def _reference_unchanged(hit: ScoreRecord, sample: Sample) -> bool:
    recorded = hit.values.get(REFERENCE_SHA256_KEY)
    if recorded is None:
        return True
    reference = score_input(sample, Path(".")).reference_audio
    if reference is None or not Path(reference).is_file():
        return False
    from nava_eval.reports.fileio import sha256_file

    return sha256_file(Path(reference)) == recorded


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


def _jsonable(values: dict) -> dict:
    import json

    out = {}
    for key, value in values.items():
        try:
            json.dumps(value)
            out[key] = value
        except TypeError:
            out[key] = value.tolist() if hasattr(value, "tolist") else str(value)
    return out


def pending_units(
    units: Sequence[SampleUnit],
    sample_records: dict[str, SampleRecord],
    cached: dict[str, ScoreRecord],
    protocol: str,
    summary: ScoreSummary,
) -> list[tuple[SampleUnit, SampleRecord]]:
    """The units still to score, in plan order; counts cached and not-generated ones into `summary`.

    Deterministic for a given run directory state, so every rank of a data-parallel scorer derives the
    same list and takes its own share of it without any message.
    """
    todo: list[tuple[SampleUnit, SampleRecord]] = []
    for unit in units:
        record = sample_records.get(unit.key)
        if record is None or record.status != "done" or not record.output:
            summary.not_generated.append(unit.key)
            continue
        hit = cached.get(unit.key)
        if (
            hit is not None
            and hit.protocol == protocol
            and hit.output_sha256 == record.output_sha256
            and _reference_unchanged(hit, unit.sample)
        ):
            summary.cached += 1
            continue
        todo.append((unit, record))
    return todo


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
) -> ScoreSummary:
    """Score every generated sample (or (sample, seed) unit) of `samples` that is not cached yet.

    `share` = (rank, world): score only every world-th pending unit starting at rank (data-parallel
    scoring), appending to `out_path` (the rank's shard) instead of scores/<metric>.jsonl.
    """
    from nava_eval.reports.fileio import append_jsonl

    started = time.perf_counter()
    summary = ScoreSummary(metric=metric.name, protocol=metric.protocol)
    path = run_dir.scores(metric.name)
    cached = latest_by_id(load_score_records(path))
    rank, world = share
    todo = pending_units(as_units(samples), sample_records, cached, metric.protocol, summary)[rank::world]
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
            for unit, record in batch:
                output, audio = output_for(metric, run_dir, record)
                inputs.append(score_input(unit.sample, output, audio))
            try:
                outcomes = metric.score_batch(inputs)
            except Exception as exc:  # a metric bug must not lose the batch's bookkeeping
                logger.exception("metric %s failed on a batch", metric.name)
                outcomes = [ScoreOutcome.failed(f"{type(exc).__name__}: {exc}") for _ in batch]
            if len(outcomes) != len(batch):
                raise RuntimeError(
                    f"metric {metric.name} returned {len(outcomes)} outcomes for {len(batch)} inputs"
                )
            for (unit, record), outcome in zip(batch, outcomes, strict=True):
                line = _record(metric, unit.sample, record.output_sha256, outcome, unit.run_seed)
                append_jsonl(out, to_dict(line))
                if outcome.status == "ok":
                    summary.scored += 1
                elif outcome.status == "skipped":
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
