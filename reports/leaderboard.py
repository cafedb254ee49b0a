"""Leaderboard submissions: `submit` bundles a run as a zip, `validate_submission` checks one it did not write.

A submission holds results.json, run.json, samples.jsonl, scores/<metric>.jsonl and submission.json
(the manifest: sha256 and size of every file, sha256 of every output, counts per set); the outputs
themselves only with `with_media`. The validator treats the zip as hostile: it checks every member
name and type before reading a byte (absolute paths, `..`, symlinks, duplicates, encryption, names
outside the layout), caps declared and actually inflated sizes (zip bombs), parses JSON only (never
unpickles), then checks schemas, hashes, protocol ids and counts, each error naming the member.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import stat
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nava_eval.errors import InvalidValue, UserError
from nava_eval.interrupts import reraise_interrupts
from nava_eval.reports.tables import SMOKE_BANNER
from nava_eval.rundir.files import atomic_path, dumps_json, sha256_file
from nava_eval.rundir.records import (
    RESULTS_SCHEMA,
    RUN_SCHEMA,
    SAMPLE_SCHEMA,
    SCORE_SCHEMA,
    Results,
    SampleRecord,
    ScoreRecord,
    latest_by_id,
    load_results,
    load_sample_records,
    record_key,
    sample_key,
)
from nava_eval.rundir.run_file import load_run_file
from nava_eval.rundir.schema import SchemaError, from_dict, to_dict
from nava_eval.user_files import brief, file_problem

SUBMISSION_SCHEMA = "nava-eval/submission/v1"
MANIFEST_NAME = "submission.json"
METADATA_FILES = ("results.json", "run.json", "samples.jsonl")
MEDIA_SUFFIXES = (".mp4", ".wav")

#: Everything a submission may unpack to, media included (a full VerseBench run at 720p is a few GB).
MAX_UNPACKED_BYTES = 16 * 1024**3
#: Metadata members (JSON/JSONL) are read into memory and parsed, so they get tight caps: one member,
#: and all of them together. A full VerseBench or Seed-TTS run's metadata is a few MB.
MAX_METADATA_BYTES = 32 * 1024**2
MAX_METADATA_TOTAL = 64 * 1024**2
MAX_MANIFEST_BYTES = 16 * 1024**2
MAX_MEMBERS = 100_000
#: Recomputed aggregates must match results.json to this relative tolerance (float summation order).
RECOMPUTE_RTOL = 1e-9

# Always fullmatch()ed: with match() and `$`, a name ending in a newline would pass.
_SCORE_NAME = re.compile(r"scores/[A-Za-z0-9_.\-]{1,128}\.jsonl")
# outputs/<set>/<id>.ext, or outputs/seed<S>/<set>/<id>.ext in a multi-seed run.
_OUTPUT_NAME = re.compile(
    r"outputs/(?:seed([0-9]{1,20})/)?([A-Za-z0-9_.\-]{1,128})/([A-Za-z0-9_.+\-]{1,128})\.(mp4|wav)"
)
_PROTOCOL_VARIANT = re.compile(r"[a-z0-9][a-z0-9.\-]{0,126}-v[0-9]{1,6}")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ManifestFile:
    sha256: str
    size: int


@dataclass(frozen=True)
class ManifestOutput:
    id: str
    set: str
    sha256: str
    size: int
    run_seed: int | None = None  # multi-seed runs
    role: str = "output"  # "audio": an imported item's separate wav beside its mp4


@dataclass(frozen=True)
class SubmissionManifest:
    """submission.json: what the zip holds and the hashes of the run's outputs."""

    run_name: str
    benchmark: str
    model: str
    files: dict[str, ManifestFile]
    outputs: dict[str, ManifestOutput]
    counts: dict[str, int]
    with_media: bool
    schema: str = SUBMISSION_SCHEMA
    nava_eval_version: str = ""
    created_at: str = ""
    smoke: bool = False


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of `validate_submission`; `ok` when there is no error (warnings do not fail)."""

    path: str
    errors: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    benchmark: str | None = None
    run_name: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    with_media: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


class SubmissionError(UserError, ValueError):
    """The zip is unsafe or not a submission; the message names the member and the problem."""


# --- submit ----------------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nava-eval")
    except PackageNotFoundError:
        return "0+unknown"


class SubmissionRefused(InvalidValue):
    """`submit_validated` wrote a bundle the validator refuses; nothing was left at the output path."""

    def __init__(self, report: ValidationReport):
        super().__init__(
            f"{report.path} does not validate ({len(report.errors)} error(s)); nothing was written"
        )
        self.report = report


def submit_validated(
    run_dir: str | Path, out: str | Path, with_media: bool = False
) -> tuple[Path, ValidationReport]:
    """`submit`, then the leaderboard's validator on the bundle before it gets its name.

    A bundle the validator refuses raises SubmissionRefused and leaves no file at `out` (not even for
    a moment: it is checked under its temp name and never renamed).
    """
    reports: list[ValidationReport] = []

    def check(tmp: Path) -> None:
        report = validate_submission(tmp)
        shown = Path(out).name
        report = dataclasses.replace(
            report,
            path=str(out),
            errors=tuple(e.replace(tmp.name, shown) for e in report.errors),
            warnings=tuple(w.replace(tmp.name, shown) for w in report.warnings),
        )
        reports.append(report)
        if not report.ok:
            raise SubmissionRefused(report)

    path = _bundle(run_dir, out, with_media, check)
    return path, reports[0]


def submit(run_dir: str | Path, out: str | Path, with_media: bool = False) -> Path:
    """Bundle `run_dir` as a submission zip at `out` (written atomically); returns `out`.

    Raises ValueError when the run is incomplete or its outputs changed since they were recorded.
    """
    return _bundle(run_dir, out, with_media, None)


def _bundle(run_dir: str | Path, out: str | Path, with_media: bool, before_rename: Any) -> Path:
    run_dir = Path(run_dir)
    if Path(out).resolve().is_relative_to(run_dir.resolve()):
        raise InvalidValue(
            f"{out}: inside the run directory {run_dir}; the bundle would overwrite or join the files it "
            "bundles. Write it elsewhere (e.g. -o submission.zip)"
        )
    for name in (*METADATA_FILES,):
        if not (run_dir / name).is_file():
            raise InvalidValue(
                f"{run_dir / name}: missing; submit needs a generated and scored run directory"
            )
    results = load_results(run_dir)
    score_files = sorted((run_dir / "scores").glob("*.jsonl"))
    if not score_files:
        raise InvalidValue(f"{run_dir / 'scores'}: no score files; run `nava-eval score` first")
    samples = latest_by_id(load_sample_records(run_dir / "samples.jsonl"))
    advice = load_run_file(run_dir).spec.remake_advice(run_dir)
    outputs: dict[str, ManifestOutput] = {}
    for sample in samples.values():
        if sample.status != "done":
            continue
        if not sample.output:
            raise InvalidValue(
                f"{run_dir / 'samples.jsonl'}: sample {sample.id} is done but has no output path"
            )
        path = run_dir / sample.output
        if not path.is_file():
            raise InvalidValue(f"{path}: output of sample {sample.id} is missing; {advice}, then score")
        digest = sha256_file(path)
        if sample.output_sha256 and digest != sample.output_sha256:
            raise InvalidValue(
                f"{path}: sha256 {digest[:12]}… differs from samples.jsonl ({sample.output_sha256[:12]}…); the "
                f"output changed after it was recorded; {advice}, then score"
            )
        outputs[Path(sample.output).as_posix()] = ManifestOutput(
            sample.id, sample.set, digest, path.stat().st_size, sample.run_seed
        )
        if sample.audio_output:
            audio = run_dir / sample.audio_output
            if not audio.is_file():
                raise InvalidValue(
                    f"{audio}: separate audio of sample {sample.id} is missing; {advice}, then score"
                )
            audio_digest = sha256_file(audio)
            if sample.audio_output_sha256 and audio_digest != sample.audio_output_sha256:
                raise InvalidValue(
                    f"{audio}: sha256 differs from samples.jsonl; the file changed after import"
                )
            outputs[Path(sample.audio_output).as_posix()] = ManifestOutput(
                sample.id, sample.set, audio_digest, audio.stat().st_size, sample.run_seed, "audio"
            )
    members = [*METADATA_FILES, *(f"scores/{p.name}" for p in score_files)]
    files = {
        name: ManifestFile(sha256_file(run_dir / name), (run_dir / name).stat().st_size) for name in members
    }
    manifest = SubmissionManifest(
        run_name=results.run_name,
        benchmark=results.benchmark,
        model=results.model,
        files=files,
        outputs=outputs,
        counts=dict(sorted(Counter(s.set for s in samples.values()).items())),
        with_media=with_media,
        nava_eval_version=_version(),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        smoke=results.smoke,
    )
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w") as zf:
            zf.writestr(
                MANIFEST_NAME,
                dumps_json(to_dict(manifest), out, indent=2, sort_keys=True),
                zipfile.ZIP_DEFLATED,
            )
            for name in members:
                zf.write(run_dir / name, name, zipfile.ZIP_DEFLATED)
            if with_media:
                for name in outputs:
                    zf.write(run_dir / name, name, zipfile.ZIP_STORED)  # mp4/wav barely compress
        if before_rename is not None:
            before_rename(tmp)
    return Path(out)


# --- validate --------------------------------------------------------------------------------------


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member is unsafe or outside the layout, or None."""
    name = info.filename
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        return "'..' component (would escape the folder it is unpacked into)"
    if "\\" in name:
        return "backslash in name (not a portable zip path)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link"
    # Writers that set only permission bits (zipfile.writestr) leave the type 0: that is a plain file.
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "not a regular file"
    if info.flag_bits & 0x1:
        return "encrypted member"
    if info.is_dir():
        return (
            None
            if name.rstrip("/") in ("scores", "outputs") or name.startswith("outputs/")
            else "unexpected folder"
        )
    if (
        name in (MANIFEST_NAME, *METADATA_FILES)
        or _SCORE_NAME.fullmatch(name)
        or _OUTPUT_NAME.fullmatch(name)
    ):
        return None
    return (
        "unexpected file; a submission holds only submission.json, results.json, run.json, samples.jsonl, "
        "scores/<metric>.jsonl and outputs/<set>/<id>.mp4|wav"
    )


def _safe_infos(zf: zipfile.ZipFile, max_unpacked: int) -> list[zipfile.ZipInfo]:
    """Every member, after the checks that need no byte of them: names, types, declared sizes."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise SubmissionError(f"{len(infos)} members, more than the limit of {MAX_MEMBERS}")
    names = Counter(info.filename for info in infos)
    duplicates = sorted(n for n, c in names.items() if c > 1)
    if duplicates:
        raise SubmissionError(
            f"duplicate member name(s): {', '.join(duplicates)} (which one would be read is ambiguous)"
        )
    folded = Counter(info.filename.casefold() for info in infos)
    clashing = sorted(n for n, c in folded.items() if c > 1)
    if clashing:
        raise SubmissionError(f"member names differing only in case: {', '.join(clashing)}")
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise SubmissionError(f"member {brief(info.filename)}: {problem}")
    declared = sum(info.file_size for info in infos)
    if declared > max_unpacked:
        raise SubmissionError(
            f"declared unpacked size {declared} bytes exceeds the limit of {max_unpacked} bytes (zip bomb?)"
        )
    metadata = [i for i in infos if not i.is_dir() and not i.filename.startswith("outputs/")]
    for info in metadata:
        limit = MAX_MANIFEST_BYTES if info.filename == MANIFEST_NAME else MAX_METADATA_BYTES
        if info.file_size > limit:
            raise SubmissionError(
                f"member {brief(info.filename)}: {info.file_size} bytes, over the metadata limit of {limit} bytes"
            )
    return infos


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int], keep: bool
) -> tuple[bytes | None, ManifestFile]:
    """(bytes when `keep`, sha256/size) of one member; `budget[0]` is what may still be inflated."""
    digest = hashlib.sha256()
    size = 0
    chunks: list[bytes] = []
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                size += len(chunk)
                budget[0] -= len(chunk)
                # zipfile stops at the declared size; these guard the invariant rather than trust it.
                if size > info.file_size:
                    raise SubmissionError(f"member {brief(info.filename)}: inflates past its declared size")
                if budget[0] < 0:
                    raise SubmissionError(
                        f"unpacked data exceeds the limit at {brief(info.filename)} (zip bomb?)"
                    )
                digest.update(chunk)
                if keep:
                    chunks.append(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise SubmissionError(f"member {brief(info.filename)}: corrupt or unsupported ({exc})") from None
    if size != info.file_size:
        raise SubmissionError(f"member {brief(info.filename)}: {size} bytes read, {info.file_size} declared")
    return (b"".join(chunks) if keep else None), ManifestFile(digest.hexdigest(), size)


def _read_manifest(
    zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], budget: list[int]
) -> SubmissionManifest:
    info = next((i for i in infos if i.filename == MANIFEST_NAME), None)
    if info is None:
        raise SubmissionError(
            f"no {MANIFEST_NAME}: not a nava-eval submission (make one with `nava-eval submit`)"
        )
    data, _ = _read_member(zf, info, budget, keep=True)
    raw = _json(MANIFEST_NAME, data or b"")
    if not isinstance(raw, dict) or raw.get("schema") != SUBMISSION_SCHEMA:
        found = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
        raise SchemaError(
            f"{MANIFEST_NAME}: at $.schema: expected {SUBMISSION_SCHEMA!r}, found {brief(found)}"
        )
    return from_dict(SubmissionManifest, raw, MANIFEST_NAME)


def _read_members(
    zf: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    manifest: SubmissionManifest,
    max_unpacked: int,
    errors: list[str],
) -> tuple[dict[str, bytes], dict[str, ManifestFile]]:
    """Metadata bytes by name and (sha256, size) of every file member read.

    The manifest is read first; a metadata member it does not list, or lists with another size, is
    reported and never inflated, and what is listed must fit the metadata budget before a byte of
    it is read: memory stays bounded whatever the zip claims.
    """
    budget = [max_unpacked]
    listed: list[zipfile.ZipInfo] = []
    for info in infos:
        name = info.filename
        if info.is_dir() or name == MANIFEST_NAME or name.startswith("outputs/"):
            continue
        entry = manifest.files.get(name)
        if entry is None:
            errors.append(f"{name}: in the zip but not in {MANIFEST_NAME}")
        elif entry.size != info.file_size:
            errors.append(
                f"{name}: sha256/size do not match {MANIFEST_NAME} ({info.file_size} bytes in the zip, "
                f"{entry.size} listed); not read"
            )
        else:
            listed.append(info)
    total = sum(i.file_size for i in listed)
    if total > MAX_METADATA_TOTAL:
        raise SubmissionError(
            f"metadata members (JSON/JSONL) total {total} bytes, over the limit of {MAX_METADATA_TOTAL} bytes"
        )
    metadata: dict[str, bytes] = {}
    hashes: dict[str, ManifestFile] = {}
    for info in listed:
        data, hashes[info.filename] = _read_member(zf, info, budget, keep=True)
        metadata[info.filename] = data or b""
    for info in infos:
        if info.filename.startswith("outputs/") and not info.is_dir():
            _, hashes[info.filename] = _read_member(zf, info, budget, keep=False)
    return metadata, hashes


def _json(name: str, data: bytes) -> Any:
    from nava_eval.rundir.safe_json import parse_json

    return parse_json(data, name, finite=True)


def _jsonl(name: str, data: bytes, cls: type, schema: str) -> list[Any]:
    from nava_eval.rundir.safe_json import parse_json

    records = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        source = f"{name}:{number}"
        obj = parse_json(line, source, finite=True)
        if not isinstance(obj, dict) or obj.get("schema", schema) != schema:
            raise SchemaError(f"{source}: expected a {schema} object")
        records.append(from_dict(cls, obj, source))
    return records


def known_protocol(metric: str, protocol: str) -> str | None:
    """None when `protocol` is a known id of `metric` (registry default or a versioned variant), else why not."""
    from nava_eval.metrics.base import metric_entries  # imports no torch: entries are strings

    entries = metric_entries()
    if metric not in entries:
        return f"unknown metric {brief(metric)} (known: {', '.join(sorted(entries))})"
    base = protocol.split("+", 1)[0]  # "+smoke-random-weights" and similar suffixes qualify a protocol
    expected = entries[metric].protocol
    family, _, variant = base.partition("/")
    if base == expected or (family == expected.partition("/")[0] and _PROTOCOL_VARIANT.fullmatch(variant)):
        return None
    return f"unknown protocol {brief(protocol)} for metric {brief(metric)} (registry: {expected})"


def _field_metric() -> dict[str, str]:
    from nava_eval.metrics.base import metric_entries

    return {f.name: name for name, entry in metric_entries().items() for f in entry.fields}


def known_field_protocol(field: str, metric: str, protocol: str) -> str | None:
    """Like `known_protocol`, for a results.json field: a field with its own protocol must carry that one."""
    from nava_eval.metrics.base import metric_entries

    entry = metric_entries().get(metric)
    declared = next((f.protocol for f in entry.fields if f.name == field), None) if entry else None
    if not declared:
        return known_protocol(metric, protocol)
    base = protocol.split("+", 1)[0]
    family, _, variant = base.partition("/")
    if base == declared or (family == declared.partition("/")[0] and _PROTOCOL_VARIANT.fullmatch(variant)):
        return None
    return f"unknown protocol {brief(protocol)} for field {field!r} of metric {brief(metric)} (registry: {declared})"


def _check_content(
    manifest: SubmissionManifest,
    names_in_zip: set[str],
    metadata: dict[str, bytes],
    hashes: dict[str, ManifestFile],
    errors: list[str],
    warnings: list[str],
):
    # Manifest ⇄ members: every file listed, present and with the listed hash and size.
    listed = set(manifest.files)
    present = {n for n in hashes if n != MANIFEST_NAME and not n.startswith("outputs/")}
    for name in sorted(listed - names_in_zip):
        errors.append(f"{name}: listed in {MANIFEST_NAME} but missing from the zip")
    for name in sorted(listed & present):
        if hashes[name] != manifest.files[name]:
            errors.append(
                f"{name}: sha256/size {hashes[name].sha256[:12]}…/{hashes[name].size} do not match "
                f"{MANIFEST_NAME} ({manifest.files[name].sha256[:12]}…/{manifest.files[name].size})"
            )
    for name in METADATA_FILES:
        if name not in names_in_zip:
            errors.append(f"{name}: missing (required in every submission)")
    media = {n for n in hashes if n.startswith("outputs/")}
    if media and not manifest.with_media:
        errors.append(f"{len(media)} media file(s) in the zip but {MANIFEST_NAME} says with_media is false")
    for name in sorted(media):
        entry = manifest.outputs.get(name)
        if entry is None:
            errors.append(f"{name}: media file not listed in {MANIFEST_NAME} outputs")
        elif (entry.sha256, entry.size) != (hashes[name].sha256, hashes[name].size):
            errors.append(f"{name}: sha256/size do not match {MANIFEST_NAME} outputs")
    if manifest.with_media:
        for name in sorted(set(manifest.outputs) - media):
            errors.append(f"{name}: with_media is true but this output is missing from the zip")
    if errors or any(n not in metadata for n in METADATA_FILES):
        return manifest, None

    results_raw = _json("results.json", metadata["results.json"])
    if not isinstance(results_raw, dict) or results_raw.get("schema", RESULTS_SCHEMA) != RESULTS_SCHEMA:
        raise SchemaError(f"results.json: at $.schema: expected {RESULTS_SCHEMA!r}")
    results: Results = from_dict(Results, results_raw, "results.json")
    run_raw = _json("run.json", metadata["run.json"])
    if not isinstance(run_raw, dict) or run_raw.get("schema") != RUN_SCHEMA:
        raise SchemaError(f"run.json: at $.schema: expected {RUN_SCHEMA!r}")
    samples = latest_by_id(_jsonl("samples.jsonl", metadata["samples.jsonl"], SampleRecord, SAMPLE_SCHEMA))

    for key in ("run_name", "benchmark", "model"):
        if getattr(results, key) != getattr(manifest, key):
            errors.append(
                f"results.json: {key} {brief(getattr(results, key))} differs from {MANIFEST_NAME}'s"
            )
    spec = run_raw.get("spec") if isinstance(run_raw.get("spec"), dict) else {}
    if spec.get("benchmark") not in (None, results.benchmark):
        errors.append(
            f"run.json: benchmark {brief(spec.get('benchmark'))} differs from results.json's {brief(results.benchmark)}"
        )

    # Samples ⇄ outputs manifest ⇄ counts.
    counts = dict(sorted(Counter(s.set for s in samples.values()).items()))
    if counts != manifest.counts:
        errors.append(f"samples per set {counts} differ from {MANIFEST_NAME} counts {manifest.counts}")
    if results.n_samples and results.n_samples != len(samples):
        errors.append(
            f"results.json: n_samples {results.n_samples} but samples.jsonl has {len(samples)} samples"
        )
    by_output = {(sample_key(o.id, o.run_seed), o.role): (path, o) for path, o in manifest.outputs.items()}
    for key, sample in samples.items():
        if sample.status != "done":
            continue
        expected = [("output", sample.output_sha256)]
        if sample.audio_output:
            expected.append(("audio", sample.audio_output_sha256))
        for role, sha in expected:
            if (key, role) not in by_output:
                errors.append(f"samples.jsonl: done sample {key} has no {role} file in {MANIFEST_NAME}")
                continue
            path, out = by_output[(key, role)]
            match = _OUTPUT_NAME.fullmatch(path)
            seed = None if not match or match.group(1) is None else int(match.group(1))
            where = (seed, match.group(2), match.group(3)) if match else None
            if where != (sample.run_seed, sample.set, sample.id) or out.set != sample.set:
                folder = "" if sample.run_seed is None else f"seed{sample.run_seed}/"
                errors.append(
                    f"{MANIFEST_NAME}: {role} {path} does not sit at outputs/{folder}{sample.set}/{sample.id}.*"
                )
            if sha and sha != out.sha256:
                errors.append(f"{path}: sha256 in {MANIFEST_NAME} differs from samples.jsonl for {key}")
    for path, out in manifest.outputs.items():
        key = sample_key(out.id, out.run_seed)
        if key not in samples or samples[key].status != "done":
            errors.append(f"{MANIFEST_NAME}: output {path} belongs to no done sample in samples.jsonl")

    # Protocols and per-metric counts.
    field_metric = _field_metric()
    for name, metric in results.metrics.items():
        why = known_field_protocol(name, field_metric.get(name, name), metric.protocol)
        if why:
            errors.append(f"results.json: metrics.{name}: {why}")
        for set_name, set_result in metric.per_set.items():
            if set_name not in counts:
                errors.append(
                    f"results.json: metrics.{name}.per_set has set {brief(set_name)} with no samples"
                )
            elif set_result.n > counts[set_name]:
                errors.append(
                    f"results.json: metrics.{name}.per_set.{set_name}.n = {set_result.n} > {counts[set_name]} samples"
                )
        if metric.n > len(samples):
            errors.append(f"results.json: metrics.{name}.n = {metric.n} > {len(samples)} samples")
    score_records: dict[str, dict[str, ScoreRecord]] = {}
    for score_name in sorted(n for n in metadata if n.startswith("scores/")):
        records = latest_by_id(_jsonl(score_name, metadata[score_name], ScoreRecord, SCORE_SCHEMA))
        for record in records.values():
            why = known_protocol(record.metric, record.protocol)
            if why:
                errors.append(f"{score_name}: id {record.id}: {why}")
                break
            sample = samples.get(record_key(record))
            if sample is None or sample.set != record.set:
                errors.append(f"{score_name}: id {record.id} (set {record.set}) is not a sample of this run")
                break
        score_records[Path(score_name).stem] = records
    output_sha = {
        sample_key(o.id, o.run_seed): o.sha256 for o in manifest.outputs.values() if o.role == "output"
    }
    errors += recompute_errors(results, samples, score_records, output_sha)

    # Completeness against the benchmark's official counts is a warning: partial runs are valid bundles.
    from nava_eval.benchmarks.base import benchmark_entries, get_benchmark

    if results.benchmark == "jsonl" or results.benchmark.startswith("jsonl:"):
        warnings.append("a user prompt set (jsonl:PATH): it has no official counts to check against")
    elif results.benchmark in benchmark_entries():
        expected = getattr(get_benchmark(results.benchmark), "expected_counts", {}) or {}
        items: dict[str, set[str]] = {}
        for sample in samples.values():  # distinct items: a multi-seed run holds each item once per seed
            items.setdefault(sample.set, set()).add(sample.id)
        item_counts = {name: len(ids) for name, ids in items.items()}
        short = {s: (item_counts.get(s, 0), n) for s, n in expected.items() if item_counts.get(s, 0) != n}
        if short:
            desc = ", ".join(f"{s} {have}/{want}" for s, (have, want) in sorted(short.items()))
            warnings.append(f"incomplete {results.benchmark}: samples per set {desc}")
    else:
        warnings.append(
            f"benchmark {brief(results.benchmark)} is not a built-in benchmark; counts not checked"
        )
    if results.smoke or manifest.smoke:
        warnings.append(SMOKE_BANNER)
    return manifest, results


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=RECOMPUTE_RTOL, abs_tol=1e-12)


def _close_ci(a: list[float] | None, b: list[float] | None) -> bool:
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))


def _benchmark_rules(benchmark: str) -> Any:
    """The benchmark class (or instance) whose `aggregation` and `field_rules` the results must follow."""
    from nava_eval.benchmarks.base import benchmark_entries, get_benchmark
    from nava_eval.lazy import load

    entries = benchmark_entries()
    if benchmark == "jsonl" or benchmark.startswith("jsonl:"):
        return load(entries["jsonl"].target)  # class attributes; an instance needs the user's file
    if benchmark in entries:
        return get_benchmark(benchmark)
    return None


def recompute_errors(
    results: Results,
    samples: dict[str, SampleRecord],
    score_records: dict[str, dict[str, ScoreRecord]],
    output_sha: dict[str, str],
) -> list[str]:
    """Every aggregate of results.json recomputed from the per-sample scores (reports.aggregate); what differs.

    `samples`, each metric's score records and `output_sha` are keyed by `sample_key` (id, or id@seed
    in a multi-seed run).

    A sample counts with the sha256 of its output as the manifest lists it; the benchmark's own
    aggregation and population rules and the registry's direction and field protocol are required.
    `n_missing` cannot be recomputed (which samples a metric was planned for is not in the bundle);
    it must cover what is missing here.
    """
    from nava_eval.benchmarks.base import field_rule
    from nava_eval.metrics.base import metric_entries
    from nava_eval.reports.aggregate import PlannedSample, aggregate_field

    fields = {f.name: (name, f) for name, entry in metric_entries().items() for f in entry.fields}
    rules_from = _benchmark_rules(results.benchmark)
    errors: list[str] = []
    for name, claimed in results.metrics.items():
        where = f"results.json: metrics.{name}"
        if name not in fields:
            continue  # reported by the protocol check
        metric_name, field_def = fields[name]
        rule = field_rule(rules_from, name) if rules_from is not None else None
        aggregation = None
        if rules_from is not None:
            aggregation = rule.aggregation or rules_from.aggregation
        if claimed.direction != field_def.direction:
            errors.append(
                f"{where}.direction is {brief(claimed.direction)}; the metric registry says {field_def.direction!r}"
            )
        records = score_records.get(metric_name)
        if records is None:
            errors.append(
                f"{where}: no scores/{metric_name}.jsonl in the bundle; results not backed by per-sample scores"
            )
            continue
        planned = [
            PlannedSample(
                r.id, r.set, output_sha.get(key) if samples[key].status == "done" else None, r.run_seed
            )
            for key, r in records.items()
            if key in samples
        ]
        passes = sorted({records[sample_key(p.id, p.run_seed)].protocol for p in planned})
        if len(passes) > 1:
            errors.append(f"{where}: the per-sample scores mix protocols ({', '.join(passes)})")
            continue
        pass_protocol = passes[0] if passes else claimed.protocol
        if passes and field_def.protocol_for(pass_protocol) != claimed.protocol:
            errors.append(
                f"{where}.protocol is {brief(claimed.protocol)}; the per-sample scores make it "
                f"{field_def.protocol_for(pass_protocol)!r}"
            )
        try:
            again = aggregate_field(
                records,
                planned,
                field_def,
                pass_protocol,
                aggregation or claimed.aggregation,
                sets=rule.sets if rule is not None else claimed.sets,
            )
        except Exception as exc:  # a set-level reducer fed hostile per-item values
            reraise_interrupts(exc)
            errors.append(
                f"{where}: cannot be recomputed from the per-sample scores ({type(exc).__name__}: {exc})"
            )
            continue
        differs = [
            key
            for key, same in (
                ("value", _close(again.value, claimed.value)),
                ("ci95", _close_ci(again.ci95, claimed.ci95)),
                ("n", again.n == claimed.n),
                ("n_skipped", again.n_skipped == claimed.n_skipped),
                ("n_failed", again.n_failed == claimed.n_failed),
                ("n_missing", claimed.n_missing >= again.n_missing),
                ("aggregation", again.aggregation == claimed.aggregation),
                ("sets", again.sets == claimed.sets),
            )
            if not same
        ]
        if set(again.per_set) != set(claimed.per_set):
            differs.append("per_set")
        else:
            for set_name, mine in again.per_set.items():
                theirs = claimed.per_set[set_name]
                if not (
                    _close(mine.value, theirs.value)
                    and mine.n == theirs.n
                    and _close_ci(mine.ci95, theirs.ci95)
                ):
                    differs.append(f"per_set.{set_name}")
        if differs:
            errors.append(
                f"{where}: {', '.join(differs)} do not match the per-sample scores in the bundle "
                f"(recomputed value {again.value}, n {again.n}, CI {again.ci95}; results.json says "
                f"{claimed.value}, n {claimed.n}, CI {claimed.ci95})"
            )
    return errors


def validate_submission(path: str | Path, max_unpacked_bytes: int = MAX_UNPACKED_BYTES) -> ValidationReport:
    """Check a submission zip without trusting it; never raises for a bad zip, the report lists why."""
    path = Path(path)
    errors: list[str] = []
    warnings: list[str] = []
    manifest = None
    try:
        problem = file_problem(path)
        if problem is not None:  # a FIFO would block the reader for ever
            raise SubmissionError(f"{problem}, not a regular file")
        if not zipfile.is_zipfile(path):
            raise SubmissionError("not a zip file")
        with zipfile.ZipFile(path) as zf:
            infos = _safe_infos(zf, max_unpacked_bytes)
            manifest = _read_manifest(zf, infos, [max_unpacked_bytes])
            metadata, hashes = _read_members(zf, infos, manifest, max_unpacked_bytes, errors)
        names = {i.filename for i in infos if not i.is_dir()}
        manifest, _ = _check_content(manifest, names, metadata, hashes, errors, warnings)
    except (SubmissionError, SchemaError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as exc:
        errors.append(str(exc))
    return ValidationReport(
        path=str(path),
        errors=tuple(f"{path.name}: {e}" for e in errors),
        warnings=tuple(warnings),
        benchmark=manifest.benchmark if manifest else None,
        run_name=manifest.run_name if manifest else None,
        counts=dict(manifest.counts) if manifest else {},
        with_media=bool(manifest and manifest.with_media),
    )


def render_validation(report: ValidationReport) -> str:
    """Human-readable verdict for `nava-eval validate submission.zip`."""
    lines = [f"{report.path}: {'valid' if report.ok else 'INVALID'} submission"]
    if report.benchmark:
        counts = ", ".join(f"{s} {n}" for s, n in report.counts.items())
        media = "with media" if report.with_media else "without media"
        lines.append(f"  run {report.run_name} on {report.benchmark} ({counts}); {media}")
    lines += [f"  error: {e}" for e in report.errors]
    lines += [f"  warning: {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"
