"""Reading another model's outputs folder for `nava-eval import`: what each file is and what is wrong with it.

Finds candidate files (by stem, in any subfolder, or through a CSV/JSONL mapping), never following a
symlink out of the folder; probes each chosen file (the first video frame decodes, the wav has samples,
whether the video carries audio); and matches files to benchmark items. Everything it does not take
becomes an ImportProblem with the reason and what to do. It only reads.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nava_eval.benchmarks.base import Benchmark, Sample, SampleSelection
from nava_eval.user_files import UserFileError, brief, file_problem, read_text, user_path

ProblemKind = Literal[
    "missing", "extra", "unreadable", "duplicate", "outside", "symlink", "wrong-type", "no-audio", "mapping"
]

VIDEO_SUFFIX = ".mp4"
AUDIO_SUFFIX = ".wav"
#: Media we recognise but do not take: named as a wrong type with the conversion to make.
OTHER_MEDIA = frozenset({".mov", ".mkv", ".avi", ".webm", ".flac", ".mp3", ".m4a", ".ogg", ".aac", ".m4v"})


class ImportRefused(ValueError):
    """Nothing was imported (unusable input, or --strict with problems); carries the report when there is one."""

    def __init__(self, message: str, report: Any = None):  # report: runners.importing.ImportReport
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class ImportProblem:
    """One thing in the source folder (or mapping) that was not imported as it stands."""

    kind: ProblemKind
    reason: str
    fix: str
    path: str | None = None  # relative to the source folder when inside it
    item: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A file of the source folder that may be an item's output."""

    rel: str  # relative to the source folder (posix)
    path: Path  # the file to read (a symlink's target when it stays inside the folder)
    suffix: str
    line: int | None = None  # mapping line it came from


@dataclass(frozen=True)
class Choice:
    """The files an item is imported with."""

    sample: Sample
    output: Candidate
    audio: Candidate | None
    has_audio_stream: bool


def inside(path: Path, root: Path) -> bool:
    """Whether `path` lies in `root` (both already resolved when symlinks matter)."""
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if inside(path, root) else str(path)


# --- reading the source folder ---------------------------------------------------------------------


def scan_folder(
    root: Path, skip: Iterable[Path] = ()
) -> tuple[list[Candidate], list[ImportProblem], list[str]]:
    """Every .mp4/.wav under `root` (no symlink followed out of it), the problems met, and notes."""
    skipped = {p.resolve() for p in skip}
    candidates: list[Candidate] = []
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
                if not inside(target, root):
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
            special = file_problem(path) if not path.is_symlink() else None
            if special is not None:  # a FIFO named clip.mp4 would block the probe for ever
                problems.append(_special_file(rel, special))
                continue
            if path.is_symlink():
                target = path.resolve()
                if not inside(target, root):
                    problems.append(
                        ImportProblem(
                            "symlink",
                            f"symlink to a file outside the source folder ({target})",
                            "copy the file into the folder (symlinks may only point inside it)",
                            rel,
                        )
                    )
                    continue
                special = file_problem(target)
                if special == "no such file":
                    problems.append(
                        ImportProblem("unreadable", "broken symlink", "remove it or point it at a file", rel)
                    )
                    continue
                if special is not None:
                    problems.append(_special_file(rel, special))
                    continue
                suffix = path.suffix.lower() or target.suffix.lower()
            if suffix in (VIDEO_SUFFIX, AUDIO_SUFFIX):
                candidates.append(Candidate(rel, target, suffix))
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


def _special_file(rel: str, kind: str) -> ImportProblem:
    return ImportProblem(
        "wrong-type",
        f"is {kind}, not a regular file; only regular files are read",
        "replace it with the output file itself",
        rel,
    )


def _mapping_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line, row) of a CSV (header with id, path[, audio]) or JSONL ({"id", "path"[, "audio"]}) mapping."""
    try:
        text = read_text(path, "--mapping")
    except UserFileError as exc:
        raise ImportRefused(str(exc)) from None
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
) -> tuple[dict[str, tuple[Candidate, Candidate | None]], list[ImportProblem]]:
    """id → (output, audio) from a mapping file; every bad line, duplicate or outside path is a problem."""
    out: dict[str, tuple[Candidate, Candidate | None]] = {}
    first_line: dict[str, int] = {}
    problems: list[ImportProblem] = []
    where = str(mapping)

    def resolve(value: str, number: int, item: str) -> Candidate | None:
        if "\0" in value:  # the OS would say only "embedded null byte"
            problems.append(
                ImportProblem(
                    "mapping",
                    f"{where}:{number}: the path {brief(value)} contains a NUL byte",
                    "fix the path on that line",
                    None,
                    item,
                )
            )
            return None
        given = user_path(value)  # `~/x.mp4` means what it means on the command line
        path = given if given.is_absolute() else root / given
        # Resolve symlinks and '..' before the containment check: the file read is what counts.
        target = path.resolve()
        if not inside(target, root):
            kind: ProblemKind = (
                "symlink" if inside(path.absolute(), root) and path.is_symlink() else "outside"
            )
            problems.append(
                ImportProblem(
                    kind,
                    f"{where}:{number}: {brief(value)} resolves to {target}, outside the source folder",
                    "give paths inside the outputs folder (copy the file there)",
                    value,
                    item,
                )
            )
            return None
        special = file_problem(target)
        if special is not None:
            problems.append(
                ImportProblem(
                    "missing" if special == "no such file" else "wrong-type",
                    f"{where}:{number}: {brief(value)} does not exist"
                    if special == "no such file"
                    else f"{where}:{number}: {brief(value)} is {special}, not a regular file",
                    "fix the path in the mapping file",
                    value,
                    item,
                )
            )
            return None
        return Candidate(_rel(path.absolute(), root), target, target.suffix.lower(), number)

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
                    f"{where}:{number}: id {brief(item)} already mapped on line {first_line[item]}",
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
    from nava_eval.metrics.base import metric_entries
    from nava_eval.runners.run import metrics_for_sample

    entries = metric_entries()
    out = []
    for name in metrics_for_sample(benchmark, sample):
        if name not in entries:
            continue
        if {"video", "audio"} <= entries[name].requires:
            out.append(name)
    return out


def _metrics_needing_audio(benchmark: Benchmark, sample: Sample) -> list[str]:
    from nava_eval.metrics.base import metric_entries
    from nava_eval.runners.run import metrics_for_sample

    entries = metric_entries()
    return [
        name
        for name in metrics_for_sample(benchmark, sample)
        if name in entries and "audio" in entries[name].requires
    ]


# --- matching --------------------------------------------------------------------------------------


def all_item_ids(benchmark: Benchmark, data_dir: Path | None, selected: Sequence[Sample]) -> dict[str, str]:
    """id → set of every item of the benchmark (to tell 'not selected' from 'no such item')."""
    try:
        everything = benchmark.load(data_dir, SampleSelection(skip_bad=True))
    except Exception:  # noqa: BLE001 - a partial data folder: fall back to what was selected
        everything = list(selected)
    return {s.id: s.set for s in everything}


def match_files(
    benchmark: Benchmark,
    samples: Sequence[Sample],
    all_ids: dict[str, str],
    candidates: Sequence[Candidate],
    mapped: dict[str, tuple[Candidate, Candidate | None]] | None,
    problems: list[ImportProblem],
    notes: list[str],
) -> dict[str, tuple[Candidate, Candidate | None]]:
    """id → (output file, separate audio file) for the selected samples; problems for everything else."""
    kind = benchmark.output_kind
    wanted = {s.id: s for s in samples}
    not_selected: list[str] = []
    chosen: dict[str, tuple[Candidate, Candidate | None]] = {}
    if mapped is not None:
        for item, (output, audio) in mapped.items():
            if item not in wanted:
                if item in all_ids:
                    not_selected.append(item)
                else:
                    problems.append(
                        ImportProblem(
                            "extra",
                            f"mapping line {output.line}: id {brief(item)} is no item of {benchmark.name}",
                            "fix the id or drop the line",
                            output.rel,
                            item,
                        )
                    )
                continue
            chosen[item] = (output, audio)
    else:
        by_stem: dict[str, dict[str, list[Candidate]]] = {}
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


def shared_files(choices: Sequence[Choice]) -> list[str]:
    """Why two items would be imported with one file (same path, symlink or hard link), one line per file.

    Each output must be one clip: a file counted for two items makes coverage and every aggregate
    count it twice. Files are compared by device and inode, so `a.mp4`, `./a.mp4`, a symlink to it
    and a hard link of it are the same file.
    """
    users: dict[tuple[int, int], list[tuple[str, str, str]]] = {}
    for choice in choices:
        for role, cand in (("output", choice.output), ("audio", choice.audio)):
            if cand is None:
                continue
            info = cand.path.stat()
            users.setdefault((info.st_dev, info.st_ino), []).append((choice.sample.id, role, cand.rel))
    out = []
    for group in users.values():
        if len({item for item, _, _ in group}) > 1:
            named = " and ".join(f"item {brief(item)} ({role} {rel})" for item, role, rel in group)
            out.append(f"{named} are one file")
    return out


def check_choice(
    benchmark: Benchmark,
    sample: Sample,
    output: Candidate | None,
    other: Candidate | None,
    problems: list[ImportProblem],
) -> Choice | None:
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
        return Choice(sample, output, None, True)
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
    return Choice(sample, output, audio, has_audio)
