"""`nava-eval import`: turn another model's outputs folder into a run directory every command accepts.

Files are matched to benchmark items by file stem (`<id>.mp4`, `<id>.wav`, in any subfolder: the
Verse-Bench toolkit's flat folder, MOVA's `<checkpoint>/<set>/` folders, seed-tts-eval's `<utt>.wav`)
or by a mapping file (CSV or JSONL: id → path [, audio]). Layouts:

- mp4 with an audio stream (`<id>.mp4`);
- separate mp4 + wav (`<id>.mp4` + `<id>.wav`, the Verse-Bench toolkit's input): audio-only metrics
  read the wav, video metrics the mp4, as the toolkit does;
- wav only, for Seed-TTS-eval.

The source folder is only read: each chosen file is hard-linked (or copied, across file systems or with
`--copy`) to outputs/<set>/<id>.<ext> through a temp name and a rename. Symlinks are followed only to
files inside the folder. Every problem (missing, extra, unreadable, duplicate, outside the folder,
symlink escaping it, wrong file type, video without audio where a metric needs audio) is listed in one
report with what to do; the import keeps what is valid unless `strict`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from nava_eval.benchmarks.base import Benchmark, Sample, SampleSelection, get_benchmark
from nava_eval.rundir.files import atomic_path, atomic_write_json, atomic_write_text, dumps_json, sha256_file
from nava_eval.rundir.layout import RunDir, output_relpath
from nava_eval.rundir.provenance import collect_provenance, now_iso
from nava_eval.rundir.records import SampleRecord
from nava_eval.rundir.run_file import (
    ImportedFile,
    ImportSource,
    RunFile,
    RunSpec,
    load_run_file,
    replace_provenance,
)
from nava_eval.rundir.schema import to_dict
from nava_eval.runners.import_sources import (
    Candidate,
    Choice,
    ImportProblem,
    ImportRefused,
    all_item_ids,
    check_choice,
    inside,
    match_files,
    read_mapping,
    scan_folder,
    shared_files,
)
from nava_eval.runners.presets import default_preset, get_preset
from nava_eval.user_files import file_problem, user_path

logger = logging.getLogger(__name__)

Transfer = Literal["auto", "hardlink", "copy"]
REPORT_JSON = "import-report.json"
#: --params-b (billions): finite and above zero, at most this (above any model there is), from any route.
MAX_PARAMS_B = 100_000.0
REPORT_MD = "import-report.md"

__all__ = ["ImportProblem", "ImportRefused", "ImportReport", "ImportRequest", "import_outputs"]


@dataclass(frozen=True)
class ImportRequest:
    """Everything `nava-eval import` was asked for."""

    benchmark: str
    source_dir: Path
    model: str
    run_dir: Path | None = None
    mapping: Path | None = None
    params_b: float | None = None
    data_dir: Path | None = None
    selection: SampleSelection = SampleSelection()
    preset: str | None = None  # scoring configuration (smoke: tiny scorers); default: the benchmark's
    strict: bool = False
    transfer: Transfer = "auto"

    def resolved_run_dir(self) -> Path:
        if self.run_dir is not None:
            return user_path(self.run_dir)
        slug = re.sub(r"[^A-Za-z0-9_.+-]+", "-", self.model).strip("-").lower() or "model"
        return Path("runs") / f"{self.benchmark.replace(':', '-').replace('/', '_')}-{slug}"


@dataclass
class ImportReport:
    """What an import took and everything it did not."""

    benchmark: str
    model: str
    source_dir: str
    run_dir: str
    expected: int  # items selected from the benchmark
    imported: int = 0
    layout: str = ""
    transfer: str = ""
    problems: list[ImportProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    strict: bool = False
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema"] = "nava-eval/import-report/v1"
        return data

    def summary(self) -> str:
        where = f" into {self.run_dir}" if self.written else ""
        how = f" ({self.transfer})" if self.transfer else ""
        return (
            f"imported {self.imported} of {self.expected} {self.benchmark} item(s) from {self.source_dir} as "
            f"{self.model!r}{where}{how}; {len(self.problems)} problem(s)"
        )

    def render_md(self) -> str:
        """The report as markdown: the summary, then one table row per problem (file, reason, what to do)."""
        from tabulate import tabulate

        out = [f"# Import report: {self.model}", "", self.summary() + ".", ""]
        if self.layout:
            out += [f"Layout: {self.layout}.", ""]
        if self.problems:
            rows = [[p.kind, p.path or "", p.item or "", p.reason, p.fix] for p in self.problems]
            out.append(
                tabulate(rows, headers=["problem", "file", "item", "reason", "what to do"], tablefmt="github")
            )
            out.append("")
        else:
            out += ["No problems: every selected item has a valid output.", ""]
        out += [f"- {note}" for note in self.notes]
        return "\n".join(out).rstrip() + "\n"


# --- writing the run directory ---------------------------------------------------------------------


def _place(source: Path, target: Path, transfer: Transfer) -> str:
    """Link (or copy) `source` to `target` through a temp name; returns "hardlink" or "copy"."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if transfer != "copy":
        tmp = target.with_name(f".{target.name}.link.tmp")
        try:
            tmp.unlink(missing_ok=True)
            os.link(source, tmp)
            os.replace(tmp, target)
            return "hardlink"
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if transfer == "hardlink":
                raise ImportRefused(
                    f"cannot hard-link {source} into {target.parent} ({exc}); use --copy"
                ) from exc
            # Another file system, or links not permitted: a copy keeps the source untouched as well.
            logger.info("cannot hard-link %s (%s); copying it", source, exc)
    with atomic_path(target) as tmp_path:
        shutil.copyfile(source, tmp_path)
    return "copy"


def import_outputs(request: ImportRequest) -> ImportReport:
    """Import `request.source_dir` into a run directory; raises ImportRefused when nothing can be imported.

    The source folder is never written to. Returns the report (also written to the run directory as
    import-report.json and import-report.md).
    """
    source = user_path(request.source_dir)
    if not source.is_dir():
        raise ImportRefused(f"{source}: no such folder (give the folder that holds the model's outputs)")
    root = source.resolve()
    run_root = request.resolved_run_dir()
    if inside(run_root.resolve(), root) or inside(root, run_root.resolve()):
        raise ImportRefused(
            f"--run-dir {run_root} and the outputs folder {source} overlap; the run directory must be elsewhere "
            "(the source folder is never written to)"
        )
    if request.params_b is not None and not (
        isinstance(request.params_b, (int, float))
        and math.isfinite(request.params_b)
        and 0 < request.params_b <= MAX_PARAMS_B
    ):
        raise ImportRefused(
            f"--params-b {request.params_b!r}: give a finite number of billions in (0, {MAX_PARAMS_B:g}]"
        )
    if not request.model.strip():
        raise ImportRefused("--model must name the model whose outputs these are (e.g. 'Ovi 1.1')")
    preset = get_preset(request.preset or default_preset(request.benchmark), request.benchmark)
    created = not run_root.exists()
    from nava_eval.rundir.lock import command_lock

    try:
        with command_lock(run_root, f"nava-eval import {request.benchmark}"):
            return _import(request, preset, root, run_root)
    except BaseException:
        if created and run_root.exists():
            # Only what this call made (e.g. the smoke preset's miniature data): a refused import leaves nothing.
            shutil.rmtree(run_root)
        raise


def _import(request: ImportRequest, preset: Any, root: Path, run_root: Path) -> ImportReport:
    from nava_eval.runners.run import SMOKE_DATA_DIR, _benchmark_options, _smoke_data

    source = user_path(request.source_dir)
    benchmark = get_benchmark(request.benchmark, **_benchmark_options(request.benchmark, preset))
    data_dir = request.data_dir
    if data_dir is None and preset.data == "smoke" and not request.benchmark.startswith("jsonl:"):
        data_dir = _smoke_data(run_root, request.benchmark)
    samples = benchmark.load(data_dir, request.selection)
    if not samples:
        raise ImportRefused(f"no samples selected from {request.benchmark} (check --sets/--ids/--limit)")
    report = ImportReport(
        benchmark=benchmark.name,
        model=request.model,
        source_dir=str(root),
        run_dir=str(run_root),
        expected=len(samples),
        strict=request.strict,
    )
    mapping = user_path(request.mapping) if request.mapping is not None else None
    if mapping is not None:
        problem = file_problem(mapping)
        if problem is not None:  # a FIFO would block the read for ever
            raise ImportRefused(f"--mapping {mapping}: {problem}; give the mapping file (CSV or JSONL)")
        mapped, problems = read_mapping(mapping, root)
        candidates: list[Candidate] = []
        notes: list[str] = [f"matched by the mapping file {mapping}"]
    else:
        mapped = None
        candidates, problems, notes = scan_folder(root)
        notes.insert(0, "matched by file stem (<id>.mp4 / <id>.wav)")
    report.problems.extend(problems)
    report.notes.extend(notes)
    all_ids = all_item_ids(benchmark, data_dir, samples)
    matched = match_files(benchmark, samples, all_ids, candidates, mapped, report.problems, report.notes)
    duplicates = {p.item for p in report.problems if p.kind == "duplicate" and p.item}
    choices: list[Choice] = []
    for sample in samples:
        if sample.id in duplicates and sample.id not in matched:
            continue  # already reported as a duplicate
        output, other = matched.get(sample.id, (None, None))
        choice = check_choice(benchmark, sample, output, other, report.problems)
        if choice is not None:
            choices.append(choice)
    shared = shared_files(choices)
    if shared:
        raise ImportRefused(
            "two items cannot be imported with one file (it would be scored and counted twice): "
            + "; ".join(shared)
            + ". Give each item its own output (fix the mapping or the file names); nothing was imported"
        )
    report.imported = len(choices)
    kinds = {("mp4+wav" if c.audio else c.output.suffix.lstrip(".")) for c in choices}
    report.layout = " and ".join(sorted(kinds))
    if not choices:
        raise ImportRefused(
            f"no output in {source} matches a selected {benchmark.name} item ({len(samples)} selected); "
            "see the problems listed",
            report,
        )
    if request.strict and report.problems:
        raise ImportRefused(
            f"--strict: {len(report.problems)} problem(s) in {source}; nothing was imported", report
        )
    _write_run(request, report, benchmark, samples, choices, data_dir, preset.name, preset.smoke, run_root)
    if data_dir is not None and data_dir == run_root / SMOKE_DATA_DIR:
        report.notes.append("smoke preset: the miniature benchmark data was written into the run directory")
    run_dir = RunDir(run_root)
    atomic_write_json(run_dir.root / REPORT_JSON, report.to_dict())
    atomic_write_text(run_dir.root / REPORT_MD, report.render_md())
    return report


def _write_run(
    request: ImportRequest,
    report: ImportReport,
    benchmark: Benchmark,
    samples: Sequence[Sample],
    choices: Sequence[Choice],
    data_dir: Path | None,
    preset: str,
    smoke: bool,
    run_root: Path,
) -> None:
    """outputs/ (linked or copied), samples.jsonl and run.json of the imported run."""
    run_dir = RunDir(run_root)
    files: dict[str, ImportedFile] = {}
    records: dict[str, SampleRecord] = {}
    transfers: set[str] = set()
    hashed: list[tuple[Choice, str, str | None]] = []
    for choice in choices:
        out_sha = sha256_file(choice.output.path)
        audio_sha = sha256_file(choice.audio.path) if choice.audio is not None else None
        hashed.append((choice, out_sha, audio_sha))
    _refuse_identical_bytes(hashed)
    spec = RunSpec(
        name=run_root.name,
        benchmark=request.benchmark,
        preset=preset,
        generation=None,
        metrics=[],
        data_dir=str(data_dir) if data_dir is not None else None,
        sets=list(request.selection.sets) if request.selection.sets else None,
        ids=sorted(request.selection.ids) if request.selection.ids else None,
        limit=request.selection.limit,
        smoke=smoke,
        imported=ImportSource(
            model=request.model,
            source_dir=report.source_dir,
            layout=report.layout,
            transfer="pending",
            files={},
            mapping=str(user_path(request.mapping).resolve()) if request.mapping else None,
            mapping_sha256=sha256_file(user_path(request.mapping)) if request.mapping else None,
            params_b=request.params_b,
        ),
    )
    for choice, out_sha, audio_sha in hashed:
        sample = choice.sample
        kind = benchmark.output_kind
        out_rel = output_relpath(sample.set, sample.id, kind)
        files[choice.output.rel] = ImportedFile(
            sample.id, "output", out_sha, choice.output.path.stat().st_size, out_rel
        )
        audio_rel = None
        if choice.audio is not None and audio_sha is not None:
            audio_rel = output_relpath(sample.set, sample.id, "wav")
            files[choice.audio.rel] = ImportedFile(
                sample.id, "audio", audio_sha, choice.audio.path.stat().st_size, audio_rel
            )
    spec = _with_files(spec, files)
    _check_existing(run_dir, spec)
    for choice, out_sha, audio_sha in hashed:
        sample = choice.sample
        out_rel = files[choice.output.rel].run_path
        transfers.add(_verified_place(choice.output.path, run_dir.output(out_rel), out_sha, request.transfer))
        audio_rel = None
        if choice.audio is not None and audio_sha is not None:
            audio_rel = files[choice.audio.rel].run_path
            transfers.add(
                _verified_place(choice.audio.path, run_dir.output(audio_rel), audio_sha, request.transfer)
            )
        inputs: dict[str, Any] = {"source": choice.output.rel}
        if choice.audio is not None:
            inputs["audio_source"] = choice.audio.rel
        if not choice.has_audio_stream:
            inputs["video_has_audio"] = False
        records[sample.id] = SampleRecord(
            id=sample.id,
            set=sample.set,
            status="done",
            output=out_rel,
            output_sha256=out_sha,
            inputs=inputs,
            audio_output=audio_rel,
            audio_output_sha256=audio_sha,
        )
    reasons: dict[str, str] = {}
    for problem in report.problems:
        if problem.item and problem.item not in records:
            reasons.setdefault(problem.item, f"{problem.kind}: {problem.reason}")
    lines = []
    for sample in samples:
        record = records.get(sample.id) or SampleRecord(
            id=sample.id,
            set=sample.set,
            status="skipped",
            error=f"not imported ({reasons.get(sample.id, 'no output in the source folder')})",
        )
        lines.append(dumps_json(to_dict(record), run_dir.samples, sort_keys=True, ensure_ascii=False) + "\n")
    report.transfer = "+".join(sorted(transfers))
    assert spec.imported is not None
    spec = dataclasses.replace(
        spec, imported=dataclasses.replace(spec.imported, transfer=report.transfer, imported_at=now_iso())
    )
    # samples.jsonl is derived wholly from the import: rewritten, not appended, on a re-import.
    atomic_write_text(run_dir.samples, "".join(lines))
    provenance = collect_provenance()
    if run_dir.run_json.exists():
        run_file = dataclasses.replace(replace_provenance(load_run_file(run_dir.root), provenance), spec=spec)
    else:
        run_file = RunFile(spec=spec, spec_hash=spec.output_hash(), provenance=provenance)
    atomic_write_json(run_dir.run_json, to_dict(run_file))
    report.written = True


def _refuse_identical_bytes(hashed: Sequence[tuple[Choice, str, str | None]]) -> None:
    """Two items whose files hold the same bytes are one clip under two names (a copy): refused."""
    first: dict[str, tuple[str, str]] = {}
    clashes = []
    for choice, out_sha, audio_sha in hashed:
        for cand, sha in ((choice.output, out_sha), (choice.audio, audio_sha)):
            if cand is None or sha is None:
                continue
            seen = first.setdefault(sha, (choice.sample.id, cand.rel))
            if seen[0] != choice.sample.id:
                clashes.append(
                    f"item {seen[0]!r} ({seen[1]}) and item {choice.sample.id!r} ({cand.rel}) hold the same bytes"
                )
    if clashes:
        raise ImportRefused(
            "two items cannot be imported with one clip (it would be scored and counted twice): "
            + "; ".join(clashes)
            + ". Give each item its own output; nothing was imported"
        )


def _with_files(spec: RunSpec, files: dict[str, ImportedFile]) -> RunSpec:
    assert spec.imported is not None
    return dataclasses.replace(spec, imported=dataclasses.replace(spec.imported, files=files))


def _check_existing(run_dir: RunDir, spec: RunSpec) -> None:
    """A run directory may be re-imported from the same files only (its scores stay valid)."""
    if not run_dir.run_json.exists():
        return
    existing = load_run_file(run_dir.root)
    if existing.spec.imported is None:
        raise ImportRefused(
            f"{run_dir.run_json}: this run directory holds NAVA generations, not imported outputs; "
            "give another --run-dir"
        )
    if existing.spec_hash != spec.output_hash():
        raise ImportRefused(
            f"{run_dir.run_json}: this run directory was imported from other files (model "
            f"{existing.spec.imported.model!r}, {len(existing.spec.imported.files)} files); give another --run-dir "
            "or delete it to start over"
        )


def _verified_place(source: Path, target: Path, sha: str, transfer: Transfer) -> str:
    """Place a file unless an identical one is already there; a copy is checked against the source hash."""
    if target.is_file() and sha256_file(target) == sha:
        return "hardlink" if _same_inode(source, target) else "copy"
    how = _place(source, target, transfer)
    if how == "copy" and sha256_file(target) != sha:
        target.unlink()
        raise ImportRefused(f"{source}: changed while it was being copied (sha256 differs); import again")
    return how


def _same_inode(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
