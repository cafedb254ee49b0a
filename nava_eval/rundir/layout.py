"""The run directory on disk: paths, sample-record shards and what is already done.

DP group leaders append to their own shard (`samples.shard-dp<g>.jsonl`) so no two processes
append to one file (O_APPEND is not atomic on network file systems); rank 0 folds the shards into
samples.jsonl at the start and end of a run. A killed run leaves shards behind, and the next run
folds them in first, so nothing finished is lost.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nava_eval.rundir.files import append_jsonl, atomic_write_text, read_jsonl
from nava_eval.rundir.identity import FileIdentityIndex
from nava_eval.rundir.records import (
    SampleRecord,
    ScoreRecord,
    latest_by_unit,
    load_sample_records,
    load_score_records,
)
from nava_eval.rundir.schema import to_dict
from nava_eval.rundir.unit import PlannedUnit, Unit

logger = logging.getLogger(__name__)

SAMPLES_FILE = "samples.jsonl"
SHARD_GLOB = "samples.shard-*.jsonl"
IDENTITY_INDEX = ".file-identity.json"

#: Score statuses that are a final verdict on the bytes they name, and so are cache hits: "ok", or
#: "skipped" by the protocol's own rules (no face track, silent audio). A "failed" score is tried again.
CACHE_HIT_STATUSES = frozenset({"ok", "skipped"})


@dataclass
class Pending:
    """What a metric still has to score in a run: units with their record and output sha256, in plan order,
    and the units it cannot score (no output; output missing or not the recorded bytes)."""

    todo: list[tuple[Unit, SampleRecord, str]] = field(default_factory=list)
    cached: int = 0
    not_generated: list[Unit] = field(default_factory=list)
    changed: list[Unit] = field(default_factory=list)


@dataclass(frozen=True)
class RunDir:
    """One run directory: its paths, and the questions every stage asks of it (records, planned units,
    pending work for a metric, appending a sample or a score record). Everything is keyed by `Unit`."""

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

    def records(self) -> dict[Unit, SampleRecord]:
        """The current sample record of every unit: samples.jsonl, then the shards of a run in progress."""
        return latest_by_unit(self.all_records())

    def append_sample(self, record: SampleRecord, dp_rank: int | None = None) -> None:
        """Append one sample record: to samples.jsonl, or (while generating) to DP group `dp_rank`'s shard."""
        append_jsonl(self.samples if dp_rank is None else self.shard(dp_rank), to_dict(record))

    def score_records(self, metric: str) -> dict[Unit, ScoreRecord]:
        """The current score record of every unit in scores/<metric>.jsonl."""
        return latest_by_unit(load_score_records(self.scores(metric)))

    def append_score(self, record: ScoreRecord, path: Path | None = None) -> None:
        """Append one score record as a whole line: to scores/<metric>.jsonl, or to `path` (a rank's shard)."""
        append_jsonl(path if path is not None else self.scores(record.metric), to_dict(record))

    def output_sha(
        self, record: SampleRecord | None, index: FileIdentityIndex
    ) -> tuple[str | None, str | None]:
        """(sha256 of the unit's output as it is on disk, None) or (None, why it has no usable output).

        Why is "not generated", "missing" (recorded done, file gone) or "changed" (the bytes on disk are
        not the ones samples.jsonl recorded). A record without a hash (an imported run) takes the file's.
        """
        if record is None or record.status != "done" or not record.output:
            return None, "not generated"
        current = index.sha256(self.output(record.output))
        if current is None:
            return None, "missing"
        if record.output_sha256 and current != record.output_sha256:
            return None, "changed"
        return current, None

    def planned(
        self,
        units: Iterable[Unit],
        sets: Mapping[str, str],
        records: Mapping[Unit, SampleRecord] | None = None,
        index: FileIdentityIndex | None = None,
    ) -> list[PlannedUnit]:
        """Each unit with its set (`sets`: item id → set) and the sha256 of its output as it is on disk."""
        records = self.records() if records is None else records
        check_distinct_outputs(self, records)
        own = index is None
        index = index or self.file_index()
        planned = [
            PlannedUnit(unit, sets[unit.item], self.output_sha(records.get(unit), index)[0]) for unit in units
        ]
        if own:
            index.save()
        return planned

    def pending(
        self,
        units: Iterable[Unit],
        protocol: str,
        cached: Mapping[Unit, ScoreRecord],
        index: FileIdentityIndex,
        records: Mapping[Unit, SampleRecord] | None = None,
        still_valid: Callable[[Unit, ScoreRecord], bool] | None = None,
    ) -> Pending:
        """The units a metric of `protocol` still has to score, given its `cached` score records.

        A score is cached per (unit, output sha256, protocol), and only a final verdict is reused
        (CACHE_HIT_STATUSES); `still_valid` may veto a hit (a changed reference file). The sha256 is
        the one of the file on disk, never only the recorded one: an output replaced since it was
        generated is listed as changed and not scored. Deterministic for a given directory state, so
        every rank of a data-parallel scorer derives the same list.
        """
        records = self.records() if records is None else records
        out = Pending()
        for unit in units:
            record = records.get(unit)
            sha, problem = self.output_sha(record, index)
            if problem == "not generated":
                out.not_generated.append(unit)
                continue
            assert record is not None
            if sha is None or (record.audio_output and self._audio_changed(record, index)):
                logger.warning(
                    "%s: output %s is %s since it was recorded; not scored (the summary says how to bring it back)",
                    unit, record.output, "missing" if problem == "missing" else "not the recorded bytes",
                )  # fmt: skip
                out.changed.append(unit)
                continue
            hit = cached.get(unit)
            if (
                hit is not None
                and hit.status in CACHE_HIT_STATUSES
                and hit.protocol == protocol
                and hit.output_sha256 == sha
                and (still_valid is None or still_valid(unit, hit))
            ):
                out.cached += 1
                continue
            out.todo.append((unit, record, sha))
        return out

    def _audio_changed(self, record: SampleRecord, index: FileIdentityIndex) -> bool:
        """An imported item's separate wav is gone or is not the recorded bytes."""
        current = index.sha256(self.output(record.audio_output or ""))
        return current is None or bool(record.audio_output_sha256 and current != record.audio_output_sha256)

    def verified_done(
        self,
        expected_inputs: Mapping[Unit, str] | None = None,
        index: FileIdentityIndex | None = None,
    ) -> dict[Unit, SampleRecord]:
        """Units whose latest record is done and whose output file still has the recorded sha256.

        With `expected_inputs` (unit → inputs hash as the sample is now), a record of one of those
        units also needs that inputs hash: an output made from other inputs is not done.
        """
        own = index is None
        index = index or self.file_index()
        done = {}
        for unit, record in self.records().items():
            if record.status != "done" or not record.output:
                continue
            if expected_inputs is not None and unit in expected_inputs:
                if record.inputs_sha256 != expected_inputs[unit]:
                    why = (
                        "has no inputs hash"
                        if record.inputs_sha256 is None
                        else "was made from other inputs (prompt, image, speaker wav, seed or output settings)"
                    )
                    logger.warning("%s: the recorded output %s; it will be generated again", unit, why)
                    continue
            _, problem = self.output_sha(record, index)
            path = self.output(record.output)
            if problem == "missing":
                logger.warning("%s: recorded done but %s is missing; it will be generated again", unit, path)
                continue
            if problem == "changed":
                logger.warning(
                    "%s: %s does not match its recorded sha256; it will be generated again", unit, path
                )
                continue
            done[unit] = record
        if own:
            index.save()
        return done

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


def shared_outputs(run_dir: RunDir, records: Mapping[Unit, SampleRecord]) -> list[str]:
    """Units whose records name one file (same path, or a hard link of it): one line per shared file.

    A file is one clip; two units scored on it would count it twice in coverage and every aggregate.
    """
    users: dict[object, list[tuple[str, str]]] = {}
    for unit, record in sorted(records.items()):
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
            users.setdefault(ident, []).append((unit.key, rel))
    return [
        " and ".join(f"{key!r} ({rel})" for key, rel in group) + " are one file"
        for group in users.values()
        if len({key for key, _ in group}) > 1
    ]


def check_distinct_outputs(run_dir: RunDir, records: Mapping[Unit, SampleRecord]) -> None:
    """ValueError naming the units when two records of `run_dir` share an output file."""
    shared = shared_outputs(run_dir, records)
    if shared:
        from nava_eval.errors import InvalidValue

        raise InvalidValue(
            f"{run_dir.samples}: two samples name one output file, which would be scored and counted twice: "
            + "; ".join(shared)
            + ". Regenerate or re-import the run into a new --run-dir"
        )
