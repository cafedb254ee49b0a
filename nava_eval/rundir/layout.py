"""The run directory on disk: paths, sample-record shards and what is already done.

DP group leaders append to their own shard (`samples.shard-dp<g>.jsonl`) so no two processes
append to one file (O_APPEND is not atomic on network file systems); rank 0 folds the shards into
samples.jsonl at the start and end of a run. A killed run leaves shards behind, and the next run
folds them in first, so nothing finished is lost.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from nava_eval.rundir.files import append_jsonl, atomic_write_text, read_jsonl
from nava_eval.rundir.identity import FileIdentityIndex
from nava_eval.rundir.records import SampleRecord, latest_by_id, load_sample_records
from nava_eval.rundir.schema import to_dict

logger = logging.getLogger(__name__)

SAMPLES_FILE = "samples.jsonl"
SHARD_GLOB = "samples.shard-*.jsonl"
IDENTITY_INDEX = ".file-identity.json"


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory."""

    root: Path

    @property
    def samples(self) -> Path:
        return self.root / SAMPLES_FILE

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def results_json(self) -> Path:
        return self.root / "results.json"

    @property
    def scores_dir(self) -> Path:
        return self.root / "scores"

    @property
    def heartbeat_dir(self) -> Path:
        return self.root / ".ranks"

    @property
    def identity_index(self) -> Path:
        return self.root / IDENTITY_INDEX

    def file_index(self) -> FileIdentityIndex:
        """The stat-gated sha256 cache of this run's files (call `.save()` when done)."""
        return FileIdentityIndex(self.root, self.identity_index)

    def shard(self, dp_rank: int) -> Path:
        return self.root / f"samples.shard-dp{dp_rank}.jsonl"

    def scores(self, metric: str) -> Path:
        return self.scores_dir / f"{metric}.jsonl"

    @property
    def score_shards_dir(self) -> Path:
        # A subfolder, so readers of scores/*.jsonl never mistake a rank's shard for a metric's file.
        return self.scores_dir / ".shards"

    def score_shard(self, metric: str, rank: int) -> Path:
        """Where rank `rank` of a data-parallel scorer appends its lines for `metric`."""
        return self.score_shards_dir / f"{metric}.rank{rank}.jsonl"

    def output(self, relpath: str) -> Path:
        return self.root / relpath

    def all_records(self) -> list[SampleRecord]:
        """samples.jsonl followed by every shard: later lines win for an id."""
        records = load_sample_records(self.samples)
        for shard in sorted(self.root.glob(SHARD_GLOB)):
            records.extend(load_sample_records(shard))
        return records

    def merge_shards(self) -> int:
        """Fold shard lines into samples.jsonl (idempotent) and remove the shards; returns lines added."""
        shards = sorted(self.root.glob(SHARD_GLOB))
        if not shards:
            return 0
        existing = {_line_key(r) for r in read_jsonl(self.samples)}
        added = 0
        for shard in shards:
            for record in read_jsonl(shard):
                if _line_key(record) not in existing:
                    append_jsonl(self.samples, record)
                    existing.add(_line_key(record))
                    added += 1
        for shard in shards:
            shard.unlink()
        return added

    def write_heartbeat(self, rank: int, text: str) -> None:
        atomic_write_text(self.heartbeat_dir / f"rank{rank}.txt", text)

    def clear_heartbeat(self, rank: int) -> None:
        """A rank that finished its share leaves no heartbeat (one left behind marks a rank that died)."""
        (self.heartbeat_dir / f"rank{rank}.txt").unlink(missing_ok=True)

    def remove_leftovers(self) -> list[Path]:
        """Delete what killed writers left: temp files of atomic writes and encodes, stale heartbeats.

        Only safe while no one else writes here: call it holding the run's lock (runners.run_lock).
        Temp names are hidden files ending in `.tmp` (reports.fileio.atomic_path) or `.npz`
        (nava.media's arrays for the encoder process); nothing else is touched.
        """
        removed = []
        for path in sorted(self.root.rglob(".*")):
            if path.is_file() and path.name.endswith((".tmp", ".npz")):
                path.unlink(missing_ok=True)
                removed.append(path)
        if self.heartbeat_dir.is_dir():
            # A rank removes its own heartbeat when it finishes; one still here belongs to a dead rank.
            for path in sorted(self.heartbeat_dir.glob("rank*.txt")):
                path.unlink(missing_ok=True)
                removed.append(path)
        if removed:
            logger.warning(
                "%s: removed %d leftover file(s) of an interrupted run (%s%s)",
                self.root,
                len(removed),
                ", ".join(p.name for p in removed[:3]),
                ", ..." if len(removed) > 3 else "",
            )
        return removed

    def heartbeats(self) -> dict[int, str]:
        out = {}
        for path in sorted(self.heartbeat_dir.glob("rank*.txt")):
            try:
                out[int(path.stem[4:])] = path.read_text(encoding="utf-8")
            except (OSError, ValueError):
                continue
        return out


def _line_key(record: dict) -> tuple:
    # A record is identified by its content; the same line folded twice is one line.
    return tuple(sorted((k, repr(v)) for k, v in record.items()))


def output_relpath(sample_set: str, sample_id: str, kind: str, run_seed: int | None = None) -> str:
    """outputs/<set>/<id>.<kind>; one folder per seed in a multi-seed run: outputs/seed<S>/<set>/<id>.<kind>.

    Each seed folder is laid out like a single-seed run's outputs, so per-seed tools can read it.
    """
    seed_dir = "" if run_seed is None else f"seed{run_seed}/"
    return f"outputs/{seed_dir}{sample_set}/{sample_id}.{kind}"


def append_record(path: Path, record: SampleRecord) -> None:
    append_jsonl(path, to_dict(record))


def current_output_sha(
    run_dir: RunDir, record: SampleRecord | None, index: FileIdentityIndex
) -> tuple[str | None, str | None]:
    """(sha256 of the sample's output as it is on disk, None) or (None, why it has no usable output).

    Why is "not generated", "missing" (recorded done, file gone) or "changed" (the bytes on disk are
    not the ones samples.jsonl recorded). A record without a hash (an imported run) takes the file's.
    """
    if record is None or record.status != "done" or not record.output:
        return None, "not generated"
    current = index.sha256(run_dir.output(record.output))
    if current is None:
        return None, "missing"
    if record.output_sha256 and current != record.output_sha256:
        return None, "changed"
    return current, None


def shared_outputs(run_dir: RunDir, records: dict[str, SampleRecord]) -> list[str]:
    """Units whose records name one file (same path, or a hard link of it): one line per shared file.

    A file is one clip; two units scored on it would count it twice in coverage and every aggregate.
    """
    users: dict[object, list[tuple[str, str]]] = {}
    for key, record in sorted(records.items()):
        if record.status != "done":
            continue
        for rel in (record.output, record.audio_output):
            if not rel:
                continue
            path = run_dir.output(rel)
            try:
                info = path.stat()
                ident: object = (info.st_dev, info.st_ino)
            except OSError:
                ident = os.path.normpath(path)
            users.setdefault(ident, []).append((key, rel))
    return [
        " and ".join(f"{key!r} ({rel})" for key, rel in group) + " are one file"
        for group in users.values()
        if len({key for key, _ in group}) > 1
    ]


def check_distinct_outputs(run_dir: RunDir, records: dict[str, SampleRecord]) -> None:
    """ValueError naming the units when two records of `run_dir` share an output file."""
    shared = shared_outputs(run_dir, records)
    if shared:
        from nava_eval.errors import InvalidValue

        raise InvalidValue(
            f"{run_dir.samples}: two samples name one output file, which would be scored and counted twice: "
            + "; ".join(shared)
            + ". Regenerate or re-import the run into a new --run-dir"
        )


def planned_samples(run_dir: RunDir, units: list, records: dict[str, SampleRecord], index=None) -> list:
    """reports.aggregate's PlannedSample per sample (or runners.score.SampleUnit of a multi-seed run),
    with the sha256 of its output as it is on disk."""
    from nava_eval.reports.aggregate import PlannedSample

    check_distinct_outputs(run_dir, records)
    own = index is None
    index = index or run_dir.file_index()
    planned = []
    for unit in units:
        sample = getattr(unit, "sample", unit)
        key, run_seed = getattr(unit, "key", sample.id), getattr(unit, "run_seed", None)
        sha = current_output_sha(run_dir, records.get(key), index)[0]
        planned.append(PlannedSample(sample.id, sample.set, sha, run_seed))
    if own:
        index.save()
    return planned


def verified_done(
    run_dir: RunDir,
    records: list[SampleRecord] | None = None,
    index: FileIdentityIndex | None = None,
    expected_inputs: dict[str, str] | None = None,
) -> dict[str, SampleRecord]:
    """Samples whose latest record is done and whose output file still has the recorded sha256.

    With `expected_inputs` (sample id → inputs hash as the sample is now), a record of one of those
    samples also needs that inputs hash: an output made from other inputs is not done.
    """
    latest = latest_by_id(run_dir.all_records() if records is None else records)
    own = index is None
    index = index or run_dir.file_index()
    done = {}
    for sample_id, record in latest.items():
        if record.status != "done" or not record.output:
            continue
        if expected_inputs is not None and sample_id in expected_inputs:
            if record.inputs_sha256 != expected_inputs[sample_id]:
                why = (
                    "has no inputs hash"
                    if record.inputs_sha256 is None
                    else "was made from other inputs (prompt, image, speaker wav, seed or output settings)"
                )
                logger.warning("%s: the recorded output %s; it will be generated again", sample_id, why)
                continue
        _, problem = current_output_sha(run_dir, record, index)
        path = run_dir.output(record.output)
        if problem == "missing":
            logger.warning("%s: recorded done but %s is missing; it will be generated again", sample_id, path)
            continue
        if problem == "changed":
            logger.warning(
                "%s: %s does not match its recorded sha256; it will be generated again", sample_id, path
            )
            continue
        done[sample_id] = record
    if own:
        index.save()
    return done
