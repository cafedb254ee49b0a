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

import csv
import dataclasses
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from nava_eval.benchmarks.base import Benchmark, Sample, SampleSelection, get_benchmark
from nava_eval.reports.fileio import atomic_path, atomic_write_json, atomic_write_text, sha256_file
from nava_eval.reports.results import SampleRecord
from nava_eval.reports.schema import to_dict
from nava_eval.runners.run_dir import RunDir, output_relpath
from nava_eval.runners.spec import (
    ImportedFile,
    ImportSource,
    RunFile,
    RunSpec,
    collect_provenance,
    get_preset,
    load_run_file,
    now_iso,
    replace_provenance,
)

logger = logging.getLogger(__name__)

ProblemKind = Literal[
    "missing", "extra", "unreadable", "duplicate", "outside", "symlink", "wrong-type", "no-audio", "mapping"
]
Transfer = Literal["auto", "hardlink", "copy"]

VIDEO_SUFFIX = ".mp4"
AUDIO_SUFFIX = ".wav"
#: Media we recognise but do not take: named as a wrong type with the conversion to make.
OTHER_MEDIA = frozenset({".mov", ".mkv", ".avi", ".webm", ".flac", ".mp3", ".m4a", ".ogg", ".aac", ".m4v"})
REPORT_JSON = "import-report.json"
REPORT_MD = "import-report.md"


class ImportRefused(ValueError):
    """Nothing was imported (unusable input, or --strict with problems); carries the report."""

    def __init__(self, message: str, report: ImportReport | None = None):
        super().__init__(message)
        self.report = report


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
            return Path(self.run_dir)
        slug = re.sub(r"[^A-Za-z0-9_.+-]+", "-", self.model).strip("-").lower() or "model"
        return Path("runs") / f"{self.benchmark.replace(':', '-').replace('/', '_')}-{slug}"


@dataclass(frozen=True)
class ImportProblem:
    """One thing in the source folder (or mapping) that was not imported as it stands."""

    kind: ProblemKind
    reason: str
    fix: str
    path: str | None = None  # relative to the source folder when inside it
    item: str | None = None


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


@dataclass(frozen=True)
class _Candidate:
    """A file of the source folder that may be an item's output."""

    rel: str  # relative to the source folder (posix)
    path: Path  # the file to read (a symlink's target when it stays inside the folder)
    suffix: str
    line: int | None = None  # mapping line it came from


@dataclass(frozen=True)
class _Choice:
    sample: Sample
    output: _Candidate
    audio: _Candidate | None
    has_audio_stream: bool


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if _inside(path, root) else str(path)


# --- reading the source folder ---------------------------------------------------------------------


def scan_folder(
    root: Path, skip: Iterable[Path] = ()
) -> tuple[list[_Candidate], list[ImportProblem], list[str]]:
    """Every .mp4/.wav under `root` (no symlink followed out of it), the problems met, and notes."""
    skipped = {p.resolve() for p in skip}
    candidates: list[_Candidate] = []
    problems: list[ImportProblem] = []
    hidden = 0
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(folder)
        dirnames.sort()
        for name in list(dirnames):
            path = base / name
            if name.startswith("."):
                dirnames.remove(name)
                hidden += 1
            elif path.is_symlink():
                target = path.resolve()
                if not _inside(target, root):
                    problems.append(
                        ImportProblem(
                            "symlink",
                            f"symlink to a folder outside the source folder ({target})",
                            "copy the files into the folder (symlinks may only point inside it)",
                            _rel(path, root),
                        )
                    )
                else:
                    problems.append(
                        ImportProblem(
                            "symlink",
                            "symlink to a folder (not followed: its files would be read twice)",
                            "give the files themselves, or --mapping",
                            _rel(path, root),
                        )
                    )
        for name in sorted(filenames):
            path = base / name
            rel = _rel(path, root)
            if name.startswith("."):
                hidden += 1
                continue
            if path.resolve() in skipped:
                continue
            suffix = path.suffix.lower()
            target = path
            if path.is_symlink():
                target = path.resolve()
                if not _inside(target, root):
                    problems.append(
                        ImportProblem(
                            "symlink",
                            f"symlink to a file outside the source folder ({target})",
                            "copy the file into the folder (symlinks may only point inside it)",
                            rel,
                        )
                    )
                    continue
                if not target.is_file():
                    problems.append(
                        ImportProblem("unreadable", "broken symlink", "remove it or point it at a file", rel)
                    )
                    continue
                suffix = path.suffix.lower() or target.suffix.lower()
            if suffix in (VIDEO_SUFFIX, AUDIO_SUFFIX):
                candidates.append(_Candidate(rel, target, suffix))
            elif suffix in OTHER_MEDIA:
                problems.append(
                    ImportProblem(
                        "wrong-type",
                        f"{suffix} is not read (outputs are .mp4 video with audio, or .wav audio)",
                        "convert it (e.g. ffmpeg -i IN -c:v libx264 -c:a aac OUT.mp4, or -ac 1 OUT.wav)",
                        rel,
                    )
                )
            else:
                problems.append(
                    ImportProblem(
                        "wrong-type",
                        f"not an output file ({suffix or 'no extension'}); ignored",
                        "remove it from the outputs folder, or ignore this line",
                        rel,
                    )
                )
    notes = [f"{hidden} hidden file(s)/folder(s) (names starting with '.') ignored"] if hidden else []
    return candidates, problems, notes


def _mapping_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line, row) of a CSV (header with id, path[, audio]) or JSONL ({"id", "path"[, "audio"]}) mapping."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.append((number, {"__error__": f"not valid JSON ({exc.msg})"}))
                continue
            rows.append((number, obj if isinstance(obj, dict) else {"__error__": "not a JSON object"}))
        return rows
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "id" not in header or "path" not in header:
        raise ImportRefused(
            f"{path}: a CSV mapping needs a header line with columns 'id' and 'path' (and optionally 'audio'); "
            f"found {header or 'no header'}"
        )
    return [
        (number, {k.strip(): (v or "").strip() for k, v in row.items() if k is not None})
        for number, row in enumerate(reader, start=2)
    ]


def read_mapping(
    mapping: Path, root: Path
) -> tuple[dict[str, tuple[_Candidate, _Candidate | None]], list[ImportProblem]]:
    """id → (output, audio) from a mapping file; every bad line, duplicate or outside path is a problem."""
    out: dict[str, tuple[_Candidate, _Candidate | None]] = {}
    first_line: dict[str, int] = {}
    problems: list[ImportProblem] = []
    where = str(mapping)

    def resolve(value: str, number: int, item: str) -> _Candidate | None:
        given = Path(value)
        path = given if given.is_absolute() else root / given
        # Resolve symlinks and '..' before the containment check: the file read is what counts.
        target = path.resolve()
        if not _inside(target, root):
            kind: ProblemKind = (
                "symlink" if _inside(path.absolute(), root) and path.is_symlink() else "outside"
            )
            problems.append(
                ImportProblem(
                    kind,
                    f"{where}:{number}: {value!r} resolves to {target}, outside the source folder",
                    "give paths inside the outputs folder (copy the file there)",
                    value,
                    item,
                )
            )
            return None
        if not target.is_file():
            problems.append(
                ImportProblem(
                    "missing",
                    f"{where}:{number}: {value!r} does not exist",
                    "fix the path in the mapping file",
                    value,
                    item,
                )
            )
            return None
        return _Candidate(_rel(path.absolute(), root), target, target.suffix.lower(), number)

    for number, row in _mapping_rows(mapping):
        if "__error__" in row:
            problems.append(
                ImportProblem("mapping", f"{where}:{number}: {row['__error__']}", "fix that line", None)
            )
            continue
        item, value = row.get("id"), row.get("path")
        if not isinstance(item, str) or not item.strip() or not isinstance(value, str) or not value.strip():
            problems.append(
                ImportProblem(
                    "mapping",
                    f"{where}:{number}: needs a non-empty 'id' and 'path'",
                    "fix that line (id = the benchmark item id, path = its output file)",
                )
            )
            continue
        item = item.strip()
        if item in first_line:
            problems.append(
                ImportProblem(
                    "duplicate",
                    f"{where}:{number}: id {item!r} already mapped on line {first_line[item]}",
                    "keep one line per id",
                    value,
                    item,
                )
            )
            continue
        first_line[item] = number
        output = resolve(value.strip(), number, item)
        audio_value = row.get("audio")
        audio = (
            resolve(audio_value.strip(), number, item)
            if isinstance(audio_value, str) and audio_value.strip()
            else None
        )
        if output is not None:
            out[item] = (output, audio)
    return out, problems


# --- checking media --------------------------------------------------------------------------------


def probe_video(path: Path) -> tuple[bool, str | None]:
    """(has an audio stream, why the file is unusable or None): decodes the first video frame."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return False, "no video stream"
            has_audio = bool(container.streams.audio)
            for _ in container.decode(video=0):
                return has_audio, None
            return has_audio, "the video stream decodes to no frame"
    except Exception as exc:  # PyAV raises many types for broken files; all mean "unreadable"
        return False, f"cannot decode ({type(exc).__name__}: {exc})"


def probe_audio(path: Path) -> str | None:
    """Why a wav is unusable, or None."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError on unreadable files
        return f"cannot read as audio ({type(exc).__name__}: {exc})"
    if info.frames <= 0:
        return "the wav holds no samples"
    return None


def _metrics_needing_video_audio(benchmark: Benchmark, sample: Sample) -> list[str]:
    """The sample's metrics that read audio from the video file itself (Sync); imports their classes."""
    from nava_eval.metrics.base import load_target, metric_entries
    from nava_eval.runners.run import metrics_for_sample

    entries = metric_entries()
    out = []
    for name in metrics_for_sample(benchmark, sample):
        if name not in entries:
            continue
        requires = set(getattr(load_target(entries[name].target), "requires", ()) or ())
        if {"video", "audio"} <= requires:
            out.append(name)
    return out


def _metrics_needing_audio(benchmark: Benchmark, sample: Sample) -> list[str]:
    from nava_eval.metrics.base import load_target, metric_entries
    from nava_eval.runners.run import metrics_for_sample

    entries = metric_entries()
    return [
        name
        for name in metrics_for_sample(benchmark, sample)
        if name in entries
        and "audio" in set(getattr(load_target(entries[name].target), "requires", ()) or ())
    ]


# --- matching --------------------------------------------------------------------------------------


def _all_item_ids(benchmark: Benchmark, data_dir: Path | None, selected: Sequence[Sample]) -> dict[str, str]:
    """id → set of every item of the benchmark (to tell 'not selected' from 'no such item')."""
    try:
        everything = benchmark.load(data_dir, SampleSelection(skip_bad=True))
    except Exception:  # noqa: BLE001 - a partial data folder: fall back to what was selected
        everything = list(selected)
    return {s.id: s.set for s in everything}


def _match(
    benchmark: Benchmark,
    samples: Sequence[Sample],
    all_ids: dict[str, str],
    candidates: Sequence[_Candidate],
    mapped: dict[str, tuple[_Candidate, _Candidate | None]] | None,
    problems: list[ImportProblem],
    notes: list[str],
) -> dict[str, tuple[_Candidate, _Candidate | None]]:
    """id → (output file, separate audio file) for the selected samples; problems for everything else."""
    kind = benchmark.output_kind
    wanted = {s.id: s for s in samples}
    not_selected: list[str] = []
    chosen: dict[str, tuple[_Candidate, _Candidate | None]] = {}
    if mapped is not None:
        for item, (output, audio) in mapped.items():
            if item not in wanted:
                if item in all_ids:
                    not_selected.append(item)
                else:
                    problems.append(
                        ImportProblem(
                            "extra",
                            f"mapping line {output.line}: id {item!r} is no item of {benchmark.name}",
                            "fix the id or drop the line",
                            output.rel,
                            item,
                        )
                    )
                continue
            chosen[item] = (output, audio)
    else:
        by_stem: dict[str, dict[str, list[_Candidate]]] = {}
        for cand in candidates:
            by_stem.setdefault(Path(cand.rel).stem, {}).setdefault(cand.suffix, []).append(cand)
        for stem, files in sorted(by_stem.items()):
            if stem not in wanted:
                if stem in all_ids:
                    not_selected.append(stem)
                    continue
                for cand in (c for group in files.values() for c in group):
                    problems.append(
                        ImportProblem(
                            "extra",
                            f"the name matches no item of {benchmark.name}",
                            "name outputs after the item id (<id>.mp4 / <id>.wav), or give --mapping",
                            cand.rel,
                        )
                    )
                continue
            duplicated = {suffix: group for suffix, group in files.items() if len(group) > 1}
            if duplicated:
                paths = ", ".join(c.rel for group in duplicated.values() for c in group)
                problems.append(
                    ImportProblem(
                        "duplicate",
                        f"several files for item {stem}: {paths}",
                        "keep one file per item id, or choose with --mapping",
                        paths,
                        stem,
                    )
                )
                continue
            video = files.get(VIDEO_SUFFIX, [None])[0]
            audio = files.get(AUDIO_SUFFIX, [None])[0]
            chosen[stem] = (video, audio) if kind == "mp4" else (audio, video)  # type: ignore[assignment]
    if not_selected:
        notes.append(
            f"{len(not_selected)} file(s) belong to items outside the selection (--sets/--ids), not imported: "
            + ", ".join(sorted(not_selected)[:10])
            + (" …" if len(not_selected) > 10 else "")
        )
    return chosen


def _check_choice(
    benchmark: Benchmark,
    sample: Sample,
    output: _Candidate | None,
    other: _Candidate | None,
    problems: list[ImportProblem],
) -> _Choice | None:
    """The item's files if usable; else the problem that says why not."""
    kind = benchmark.output_kind
    if output is None or output.suffix != f".{kind}":
        if other is not None:
            want = "an .mp4 video (with audio)" if kind == "mp4" else "a .wav"
            fix = (
                "give the video as <id>.mp4"
                if kind == "mp4"
                else "extract the audio: ffmpeg -i <id>.mp4 -vn -ac 1 <id>.wav"
            )
            problems.append(
                ImportProblem(
                    "wrong-type",
                    f"{benchmark.name} outputs are {want}; only {Path(other.rel).name} was found",
                    fix,
                    other.rel,
                    sample.id,
                )
            )
            return None
        problems.append(
            ImportProblem(
                "missing",
                f"no output for item {sample.id} (set {sample.set})",
                f"add <id>.{kind} for it (or list it in --mapping); scored as missing otherwise",
                None,
                sample.id,
            )
        )
        return None
    if kind == "wav":
        why = probe_audio(output.path)
        if why:
            problems.append(ImportProblem("unreadable", why, "re-export the file", output.rel, sample.id))
            return None
        return _Choice(sample, output, None, True)
    has_audio, why = probe_video(output.path)
    if why:
        problems.append(
            ImportProblem("unreadable", why, "re-encode or regenerate the file", output.rel, sample.id)
        )
        return None
    audio = other if other is not None and other.suffix == AUDIO_SUFFIX else None
    if audio is not None:
        why = probe_audio(audio.path)
        if why:
            problems.append(
                ImportProblem(
                    "unreadable",
                    f"{why}; the item is imported without it",
                    "re-export the wav (audio metrics read it)",
                    audio.rel,
                    sample.id,
                )
            )
            audio = None
    if not has_audio:
        needs = (
            _metrics_needing_video_audio(benchmark, sample)
            if audio is not None
            else _metrics_needing_audio(benchmark, sample)
        )
        if needs:
            problems.append(
                ImportProblem(
                    "no-audio",
                    f"the video has no audio stream; {', '.join(needs)} need(s) audio "
                    + ("in the video itself" if audio is not None else "and there is no <id>.wav")
                    + ": those scores will be 'skipped'",
                    "mux the audio in: ffmpeg -i <id>.mp4 -i <id>.wav -c:v copy -c:a aac <id>_av.mp4",
                    output.rel,
                    sample.id,
                )
            )
    return _Choice(sample, output, audio, has_audio)


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


def _default_preset(benchmark: str) -> str:
    from nava_eval.runners.spec import PRESETS

    return benchmark if benchmark in PRESETS else "versebench"


def import_outputs(request: ImportRequest) -> ImportReport:
    """Import `request.source_dir` into a run directory; raises ImportRefused when nothing can be imported.

    The source folder is never written to. Returns the report (also written to the run directory as
    import-report.json and import-report.md).
    """
    source = Path(request.source_dir)
    if not source.is_dir():
        raise ImportRefused(f"{source}: no such folder (give the folder that holds the model's outputs)")
    root = source.resolve()
    run_root = request.resolved_run_dir()
    if _inside(run_root.resolve(), root) or _inside(root, run_root.resolve()):
        raise ImportRefused(
            f"--run-dir {run_root} and the outputs folder {source} overlap; the run directory must be elsewhere "
            "(the source folder is never written to)"
        )
    if not request.model.strip():
        raise ImportRefused("--model must name the model whose outputs these are (e.g. 'Ovi 1.1')")
    preset = get_preset(request.preset or _default_preset(request.benchmark))
    created = not run_root.exists()
    try:
        return _import(request, preset, root, run_root)
    except BaseException:
        if created and run_root.exists():
            # Only what this call made (e.g. the smoke preset's miniature data): a refused import leaves nothing.
            shutil.rmtree(run_root)
        raise


def _import(request: ImportRequest, preset: Any, root: Path, run_root: Path) -> ImportReport:
    from nava_eval.runners.run import SMOKE_DATA_DIR, _benchmark_options, _smoke_data

    source = Path(request.source_dir)
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
    mapping = Path(request.mapping) if request.mapping is not None else None
    if mapping is not None:
        if not mapping.is_file():
            raise ImportRefused(f"--mapping {mapping}: no such file")
        mapped, problems = read_mapping(mapping, root)
        candidates: list[_Candidate] = []
        notes: list[str] = [f"matched by the mapping file {mapping}"]
    else:
        mapped = None
        candidates, problems, notes = scan_folder(root)
        notes.insert(0, "matched by file stem (<id>.mp4 / <id>.wav)")
    report.problems.extend(problems)
    report.notes.extend(notes)
    all_ids = _all_item_ids(benchmark, data_dir, samples)
    matched = _match(benchmark, samples, all_ids, candidates, mapped, report.problems, report.notes)
    duplicates = {p.item for p in report.problems if p.kind == "duplicate" and p.item}
    choices: list[_Choice] = []
    for sample in samples:
        if sample.id in duplicates and sample.id not in matched:
            continue  # already reported as a duplicate
        output, other = matched.get(sample.id, (None, None))
        choice = _check_choice(benchmark, sample, output, other, report.problems)
        if choice is not None:
            choices.append(choice)
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
    choices: Sequence[_Choice],
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
    hashed: list[tuple[_Choice, str, str | None]] = []
    for choice in choices:
        out_sha = sha256_file(choice.output.path)
        audio_sha = sha256_file(choice.audio.path) if choice.audio is not None else None
        hashed.append((choice, out_sha, audio_sha))
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
            mapping=str(Path(request.mapping).resolve()) if request.mapping else None,
            mapping_sha256=sha256_file(request.mapping) if request.mapping else None,
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
        lines.append(json.dumps(to_dict(record), sort_keys=True, ensure_ascii=False) + "\n")
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
