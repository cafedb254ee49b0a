"""The run directory on disk: paths, sample-record shards and what is already done.

DP group leaders append to their own shard (`samples.shard-dp<g>.jsonl`) so no two processes
append to one file (O_APPEND is not atomic on network file systems); rank 0 folds the shards into
samples.jsonl at the start and end of a run. A killed run leaves shards behind, and the next run
folds them in first, so nothing finished is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from nava_eval.reports.fileio import append_jsonl, atomic_write_text, read_jsonl, sha256_file
from nava_eval.reports.results import SampleRecord, latest_by_id, load_sample_records
from nava_eval.reports.schema import to_dict

logger = logging.getLogger(__name__)

SAMPLES_FILE = "samples.jsonl"
SHARD_GLOB = "samples.shard-*.jsonl"


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


def verified_done(run_dir: RunDir, records: list[SampleRecord] | None = None) -> dict[str, SampleRecord]:
    """Samples whose latest record is done and whose output file still has the recorded sha256."""
    latest = latest_by_id(run_dir.all_records() if records is None else records)
    done = {}
    for sample_id, record in latest.items():
        if record.status != "done" or not record.output:
            continue
        path = run_dir.output(record.output)
        if not path.is_file():
            logger.warning("%s: recorded done but %s is missing; it will be generated again", sample_id, path)
            continue
        if record.output_sha256 and sha256_file(path) != record.output_sha256:
            logger.warning(
                "%s: %s does not match its recorded sha256; it will be generated again", sample_id, path
            )
            continue
        done[sample_id] = record
    return done
