"""Seed-TTS-eval (BytedanceSpeech/seed-tts-eval): zero-shot TTS from a speaker prompt wav.

Layout of the official test set (downloaded by hand; `nava-eval data import seedtts PATH`):
    en/meta.lst        1088 lines (Common Voice)
    zh/meta.lst        2020 lines (DiDiSpeech-2)
    zh/hardcase.lst     400 lines (hard cases)
each line `utt|prompt_text|prompt_wav|infer_text[|ground_truth_wav]`, wav paths relative to the
list's own folder. The data folder may also be the parent of `seedtts_testset/`.
Outputs are `<utt>.wav`, so seed-tts-eval's own scripts can read them too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from nava_eval.benchmarks.base import Sample, SampleSelection, select
from nava_eval.benchmarks.download import registration, resolve_data_dir
from nava_eval.benchmarks.errors import (
    BadInputError,
    DataNotFoundError,
    LoadReport,
    MissingFilesError,
    Problem,
    check_sample_id,
    check_selected_ids,
    natural_id_key,
)
from nava_eval.benchmarks.validate import SetCount, ValidationReport, media_problems
from nava_eval.errors import InvalidValue
from nava_eval.user_files import file_problem

log = logging.getLogger(__name__)

SETS = ("en", "zh", "hard")
LIST_FILES = {"en": Path("en/meta.lst"), "zh": Path("zh/meta.lst"), "hard": Path("zh/hardcase.lst")}
LANGUAGES = {"en": "en", "zh": "zh", "hard": "zh"}
EXPECTED_COUNTS = {"en": 1088, "zh": 2020, "hard": 400}
ROOT_CANDIDATES = (".", "seedtts_testset")
HOW_TO_GET = (
    "download the Seed-TTS-eval test set (github.com/BytedanceSpeech/seed-tts-eval, Google Drive) and run "
    "`nava-eval data import seedtts PATH`"
)
META_FIELDS = ("utt", "prompt_text", "prompt_wav", "infer_text", "ground_truth_wav")


@dataclass(frozen=True)
class MetaLine:
    """One parsed meta.lst line; paths already resolved against the list's folder."""

    utt: str
    prompt_text: str | None
    prompt_wav: Path
    infer_text: str
    ground_truth_wav: Path | None
    path: Path
    line: int


def parse_meta_line(text: str, path: Path, number: int, problems: list[Problem]) -> MetaLine | None:
    """Parse `utt|prompt_text|prompt_wav|infer_text[|ground_truth_wav]`; problems name the field."""
    parts = text.split("|")
    if len(parts) not in (4, 5):
        problems.append(
            Problem(
                path,
                f"expected 4 or 5 '|'-separated fields ({'|'.join(META_FIELDS)}), found {len(parts)}",
                number,
            )
        )
        return None
    parts = [p.strip() for p in parts]
    before = len(problems)
    for index in (0, 2, 3):
        if not parts[index]:
            problems.append(Problem(path, "empty", number, META_FIELDS[index]))
    if parts[0]:
        bad = check_sample_id(parts[0], path, number, "utt")
        if bad:
            problems.append(bad)
    if len(problems) > before:
        return None
    folder = path.parent
    gt = parts[4] if len(parts) == 5 and parts[4] else None
    return MetaLine(
        utt=parts[0],
        prompt_text=parts[1] or None,
        prompt_wav=folder / parts[2],
        infer_text=parts[3],
        ground_truth_wav=folder / gt if gt else None,
        path=path,
        line=number,
    )


def read_meta_list(path: Path, problems: list[Problem]) -> list[MetaLine]:
    """All good lines of a meta list; every bad line (and duplicate utt) appended to `problems`."""
    from nava_eval.user_files import UserFileError, read_text

    try:
        text = read_text(path)
    except UserFileError as exc:  # a FIFO, a device, not UTF-8
        problems.append(Problem(path, str(exc).removeprefix(f"{path}: ")))
        return []
    out: list[MetaLine] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        entry = parse_meta_line(raw, path, number, problems)
        if entry is None:
            continue
        if entry.utt in seen:
            problems.append(
                Problem(path, f"duplicate utt {entry.utt!r} (first on line {seen[entry.utt]})", number, "utt")
            )
            continue
        seen[entry.utt] = number
        out.append(entry)
    return out


class SeedTTSEval:
    """Seed-TTS-eval zero-shot TTS: WER of the synthesised text and similarity to the prompt speaker."""

    name = "seedtts"
    description = "Seed-TTS-eval zero-shot TTS: en 1088, zh 2020, hard 400 (meta.lst, <utt>.wav outputs)"
    sets = SETS
    output_kind = "wav"
    # seed-tts-eval reports the mean of per-utterance values, per list.
    aggregation = "per-item mean"
    default_metrics: dict[str, tuple[str, ...]] = {s: ("wer", "sim") for s in SETS}
    languages = LANGUAGES

    # en (WER), zh and hard (CER) are different measurements: tables show each split.
    report_per_set = True

    def __init__(self, expected_counts: dict[str, int] | None = None) -> None:
        self.expected_counts = dict(expected_counts or EXPECTED_COUNTS)
        self.last_load_report: LoadReport | None = None

    def default_data_dir(self) -> Path | None:
        reg = registration(self.name)
        return reg.path if reg is not None else None

    def metrics_for(self, sample: Sample) -> tuple[str, ...]:
        return self.default_metrics[sample.set]

    def dataset_root(self, data_dir: Path | None) -> Path:
        """The folder holding en/ and zh/ (data_dir itself or its `seedtts_testset/`)."""
        base = resolve_data_dir(self.name, data_dir, HOW_TO_GET)
        for candidate in ROOT_CANDIDATES:
            root = base / candidate if candidate != "." else base
            if any((root / f).is_file() for f in LIST_FILES.values()):
                return root
        looked = ", ".join(str(base / c / LIST_FILES["en"]) for c in ROOT_CANDIDATES)
        raise DataNotFoundError(
            f"no Seed-TTS-eval meta lists under {base} (looked for {looked}); {HOW_TO_GET}"
        )

    def _selected_sets(self, selection: SampleSelection, data_dir: Path | None = None) -> tuple[str, ...]:
        if selection.sets is None:
            # A copy imported with `--sets en` defaults to those sets when used through the registry.
            reg = registration(self.name) if data_dir is None else None
            if reg is not None and reg.extra.get("sets"):
                return tuple(s for s in self.sets if s in reg.extra["sets"].split(","))
            return self.sets
        unknown = [s for s in selection.sets if s not in self.sets]
        if unknown:
            raise InvalidValue(
                f"unknown {self.name} set(s) {', '.join(unknown)}; valid: {', '.join(self.sets)}"
            )
        return tuple(s for s in self.sets if s in selection.sets)

    def _scan(self, root: Path, sets: tuple[str, ...]) -> tuple[dict[str, list[MetaLine]], list[Problem]]:
        problems: list[Problem] = []
        lines: dict[str, list[MetaLine]] = {}
        for set_name in sets:
            path = root / LIST_FILES[set_name]
            if not path.is_file():
                problems.append(
                    Problem(path, f"{set_name} list not found (pass --sets with the sets you have)")
                )
                lines[set_name] = []
                continue
            lines[set_name] = read_meta_list(path, problems)
        return lines, problems

    def _sample_ids(self, root: Path, lines: dict[str, list[MetaLine]]) -> dict[tuple[str, str], str]:
        """Sample id per (set, utt): the utt, or `<set>-<utt>` when an earlier set already uses it.

        Earlier sets are read from disk even when not selected, so an id does not depend on --sets.
        """
        ids: dict[tuple[str, str], str] = {}
        used: set[str] = set()
        for set_name in self.sets:
            if set_name in lines:
                utts = [m.utt for m in lines[set_name]]
            else:
                path = root / LIST_FILES[set_name]
                utts = [m.utt for m in read_meta_list(path, [])] if path.is_file() else []
            for utt in utts:
                sample_id = utt if utt not in used else f"{set_name}-{utt}"
                ids[(set_name, utt)] = sample_id
                used.add(sample_id)
        return ids

    def load(self, data_dir: Path | None, selection: SampleSelection = SampleSelection()) -> list[Sample]:
        """Samples ordered by set (en, zh, hard) then id; bad lines and missing prompt wavs listed at once."""
        root = self.dataset_root(data_dir)
        sets = self._selected_sets(selection, data_dir)
        lines, problems = self._scan(root, sets)
        ids = self._sample_ids(root, lines)
        check_selected_ids(
            selection.ids, {ids[(s, m.utt)] for s in sets for m in lines[s]}, f"{self.name} {'/'.join(sets)}"
        )
        missing = {
            (s, m.utt): Problem(
                m.prompt_wav,
                f"{'missing prompt wav' if problem == 'no such file' else f'prompt wav is {problem}'} "
                f"({m.path}:{m.line}, field 'prompt_wav')",
            )
            for s in sets
            for m in lines[s]
            if (problem := file_problem(m.prompt_wav)) is not None  # missing, or a FIFO that would block
        }
        if not selection.skip_bad:
            if problems:
                raise BadInputError(problems, hint="fix these lines, or pass --skip-bad to load the others")
            if missing:
                raise MissingFilesError(
                    list(missing.values()), hint=f"the Seed-TTS-eval copy in {root} is incomplete"
                )
        samples: list[Sample] = []
        absent_gt = 0
        for set_name in sets:
            for m in lines[set_name]:
                if (set_name, m.utt) in missing:
                    continue
                gt = (
                    m.ground_truth_wav
                    if m.ground_truth_wav is not None and m.ground_truth_wav.is_file()
                    else None
                )
                absent_gt += m.ground_truth_wav is not None and gt is None
                samples.append(
                    Sample(
                        id=ids[(set_name, m.utt)],
                        set=set_name,
                        prompt=m.infer_text,
                        mode="tts",
                        speaker_wavs=(m.prompt_wav,),
                        reference_text=m.infer_text,
                        language=LANGUAGES[set_name],
                        ground_truth_audio=gt,
                        prompt_text=m.prompt_text,
                        meta={"utt": m.utt, "list": str(m.path), "line": m.line},
                    )
                )
        if absent_gt:
            # Ground-truth wavs are optional references (no default metric reads them).
            log.info("%d ground-truth wav(s) named in the lists are not on disk; left unset", absent_gt)
        order = {name: i for i, name in enumerate(self.sets)}
        samples.sort(key=lambda s: (order[s.set], natural_id_key(s.id)))
        skipped = tuple(problems) + tuple(missing.values())
        self.last_load_report = LoadReport(f"{self.name} ({root})", loaded=len(samples), skipped=skipped)
        for p in skipped:
            log.warning("skipped %s", p)
        return select(samples, selection)

    def validate(self, data_dir: Path | None, sets: tuple[str, ...] | None = None) -> ValidationReport:
        """Bad lines, missing or undecodable prompt wavs, and counts against 1088/2020/400."""
        root = self.dataset_root(data_dir)
        chosen = self._selected_sets(SampleSelection(sets=sets), data_dir)
        lines, problems = self._scan(root, chosen)
        entries = [m for s in chosen for m in lines[s]]
        problems += media_problems(wavs=sorted({m.prompt_wav for m in entries}))
        gt = [m.ground_truth_wav for m in entries if m.ground_truth_wav is not None]
        notes = []
        if gt:
            absent = sum(not g.is_file() for g in gt)
            notes.append(f"{len(gt) - absent}/{len(gt)} optional ground-truth wavs present")
        counts = tuple(SetCount(s, len(lines[s]), self.expected_counts.get(s)) for s in chosen)
        return ValidationReport(self.name, root, tuple(problems), counts, tuple(notes))
