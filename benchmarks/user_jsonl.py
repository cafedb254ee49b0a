"""User prompt sets (`jsonl:PATH`): NAVA's inference JSONL, scored with the same machinery.

One JSON object per line:
    prompt      the generation prompt (`text` is read as an alias); speech inside <S>...<E>
    image_path  optional first frame -> I2AV, else T2AV
    spk_wavs    optional list of speaker reference wavs (one per <S> span, as NAVA expects)
    id          optional stable id (else the line number, zero-padded to 5 digits)
    set         optional group name (default "default")
    reference_text, language   optional: what the speech should say, for WER
    mode        optional "t2a": text → audio only, as scripts/inference_t2a.sh (wav outputs; a file
                holds either T2A lines or T2AV/I2AV lines, since a run writes one output kind)
    duration    optional T2A length in seconds (default: the preset's, 6 s as inference_t2a.sh)
    width, height, frames   optional per-line shape: pixels (multiples of 16; T2AV only, an I2AV
                size follows its image) and latent frames
                (4(N-1)+1 pixel frames); unset ones take the run's --width/--height/--frames
Relative paths are resolved against `base_dir`, by default the JSONL file's own folder. NAVA's
own example files use paths relative to the NAVA checkout: pass base_dir=<NAVA root> for those.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nava_eval.benchmarks.base import Sample, SampleSelection, select
from nava_eval.benchmarks.errors import (
    BadInputError,
    LoadReport,
    MissingFilesError,
    Problem,
    check_sample_id,
    check_selected_ids,
    natural_id_key,
)
from nava_eval.benchmarks.validate import SetCount, ValidationReport, image_problem, wav_problem
from nava_eval.user_files import brief, file_problem

log = logging.getLogger(__name__)

SPEECH_SPAN = re.compile(r"<S>(.*?)<E>", re.S)
DEFAULT_SET = "default"
_LANGUAGES = ("en", "zh")


def read_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    """(line number, object) per non-blank line; a Problem instead of the object for a bad line."""
    from nava_eval.user_files import UserFileError, read_text

    try:
        text = read_text(path)
    except UserFileError as exc:  # a FIFO, a device, not UTF-8
        yield 0, Problem(path, str(exc).removeprefix(f"{path}: "))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, Problem(path, f"not valid JSON ({exc.msg} at column {exc.colno})", number)
            continue
        except RecursionError:
            yield number, Problem(path, "JSON nested too deeply", number)
            continue
        if not isinstance(obj, dict):
            yield number, Problem(path, f"expected a JSON object, got {type(obj).__name__}", number)
            continue
        yield number, obj


def speech_spans(prompt: str) -> list[str]:
    """Texts inside <S>...<E>. Never used as WER references: some spans are on-screen text."""
    return [s.strip() for s in SPEECH_SPAN.findall(prompt)]


def _optional_str(
    obj: dict[str, Any], key: str, path: Path, line: int, problems: list[Problem]
) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(path, "must be a non-empty string when present", line, key))
        return None
    return value.strip()


_LINE_MODES = ("t2av", "t2a")


def _line_shape(obj: dict[str, Any], path: Path, line: int, problems: list[Problem]) -> dict[str, Any]:
    """The line's own width/height/frames (checked against the model's strides) and T2A duration."""
    from nava_eval.nava.shapes import check_t2a_seconds, shape_problems

    shape: dict[str, Any] = {}
    for key in ("width", "height", "frames"):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(Problem(path, f"must be an integer, got {value!r}", line, key))
            continue
        shape[key] = value
    # Fields not given are checked with valid stand-ins: the run's own values are checked at run time.
    for key, text in shape_problems(shape.get("width", 32), shape.get("height", 32), shape.get("frames", 1)):
        problems.append(Problem(path, text, line, key))
    duration = obj.get("duration")
    if duration is not None:
        try:
            check_t2a_seconds(duration)
        except ValueError as err:
            problems.append(Problem(path, str(err).removeprefix("duration "), line, "duration"))
        else:
            shape["duration"] = float(duration)
    return shape


@dataclass(frozen=True)
class _Entry:
    sample: Sample
    line: int


class UserPromptSet:
    """A user's own prompts in NAVA's inference JSONL (`nava-eval run jsonl:prompts.jsonl`)."""

    name = "jsonl"
    aggregation = "per-item mean"
    # Speech metrics apply per sample (see metrics_for): lip sync where the prompt has a <S> span,
    # WER where a reference_text is given, speaker similarity where spk_wavs are given, and
    # per-speaker SIM where two or more spk_wavs bind to <S> spans (multi-timbre speech).
    metric_order = ("video_quality", "sync", "wer", "sim", "sim_speakers")
    # T2A files (wav outputs): audio quality for every line, WER and SIM where the line allows them.
    audio_metric_order = ("audiobox", "wer", "sim", "sim_speakers")

    def __init__(self, path: Path, base_dir: Path | None = None, default_mode: str = "t2av") -> None:
        """default_mode: the mode of a line without `mode` or `image_path`; "t2a" reads a file as
        scripts/inference_t2a.sh does (every line text-to-audio, as `--preset t2a` asks)."""
        if default_mode not in _LINE_MODES:
            raise ValueError(f"default_mode must be one of {', '.join(_LINE_MODES)}, got {default_mode!r}")
        self.default_mode = default_mode
        self.path = Path(path)
        self.expected_counts: dict[str, int] = {}  # a user's file has no official counts
        self.base_dir = Path(base_dir) if base_dir is not None else self.path.parent
        self.description = f"user prompts from {self.path}"
        self.last_load_report: LoadReport | None = None
        self._sets: tuple[str, ...] | None = None

    @property
    def sets(self) -> tuple[str, ...]:
        """Set names found in the file (sorted); ("default",) before the file can be read."""
        if self._sets is None:
            if not self.path.is_file():
                return (DEFAULT_SET,)
            entries, _ = self._scan()
            self._sets = tuple(sorted({e.sample.set for e in entries})) or (DEFAULT_SET,)
        return self._sets

    @property
    def output_kind(self) -> str:
        """wav when the file's lines are T2A, else mp4 (a mixed file is refused by load)."""
        if not self.path.is_file():
            return "mp4"
        entries, _ = self._scan()
        return "wav" if entries and all(e.sample.mode == "t2a" for e in entries) else "mp4"

    @property
    def default_metrics(self) -> dict[str, tuple[str, ...]]:
        order = self.audio_metric_order if self.output_kind == "wav" else self.metric_order
        return {s: order for s in self.sets}

    def default_data_dir(self) -> Path | None:
        return None  # everything comes from the JSONL file itself

    def metrics_for(self, sample: Sample) -> tuple[str, ...]:
        """The default metrics that make sense for this sample."""
        chosen = []
        order = self.audio_metric_order if sample.mode == "t2a" else self.metric_order
        for metric in self.default_metrics.get(sample.set, order):
            if metric == "sync" and not sample.meta.get("has_speech"):
                continue
            if metric == "wer" and not sample.reference_text:
                continue
            if metric == "sim" and not sample.speaker_wavs:
                continue
            if metric == "sim_speakers" and (len(sample.speaker_wavs) < 2 or not speech_spans(sample.prompt)):
                continue
            chosen.append(metric)
        return tuple(chosen)

    def _resolve(self, raw: str) -> Path:
        p = Path(raw).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def _parse(self, number: int, obj: dict[str, Any], problems: list[Problem]) -> Sample | None:
        path = self.path
        before = len(problems)
        prompt = obj.get("prompt", obj.get("text"))
        if prompt is None:
            problems.append(
                Problem(path, "missing (the prompt; 'text' is accepted as an alias)", number, "prompt")
            )
        elif not isinstance(prompt, str) or not prompt.strip():
            problems.append(Problem(path, "must be a non-empty string", number, "prompt"))
        image_raw = _optional_str(obj, "image_path", path, number, problems)
        spk = obj.get("spk_wavs", [])
        if spk is None:
            spk = []
        if isinstance(spk, str):
            spk = [spk]
        if not isinstance(spk, list) or not all(isinstance(s, str) and s.strip() for s in spk):
            problems.append(Problem(path, "must be a list of wav paths", number, "spk_wavs"))
            spk = []
        raw_id = obj.get("id")
        if raw_id is None:
            sample_id = f"{number:05d}"
        elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):
            sample_id = str(raw_id)
            bad = check_sample_id(sample_id, path, number, "id")
            if bad:
                problems.append(bad)
        else:
            problems.append(Problem(path, "must be a string or an integer", number, "id"))
            sample_id = f"{number:05d}"
        set_name = _optional_str(obj, "set", path, number, problems) or DEFAULT_SET
        bad = check_sample_id(set_name, path, number, "set")
        if bad:
            problems.append(bad)
        reference_text = _optional_str(obj, "reference_text", path, number, problems)
        language = _optional_str(obj, "language", path, number, problems)
        if language is not None and language not in _LANGUAGES:
            problems.append(Problem(path, f"must be one of {', '.join(_LANGUAGES)}", number, "language"))
        mode = obj.get("mode", None if image_raw else self.default_mode)
        if mode is not None and mode not in _LINE_MODES:
            problems.append(
                Problem(
                    path, f"must be one of {', '.join(_LINE_MODES)} (i2av follows image_path)", number, "mode"
                )
            )
        shape = _line_shape(obj, path, number, problems)
        if mode == "t2a" and image_raw:
            problems.append(Problem(path, "a T2A line generates audio only; drop image_path", number, "mode"))
        if mode == "t2a" and any(k in shape for k in ("width", "height", "frames")):
            problems.append(
                Problem(path, "width/height/frames shape a video; a T2A line takes duration", number, "mode")
            )
        if image_raw and mode != "t2a" and any(k in shape for k in ("width", "height")):
            problems.append(
                Problem(
                    path,
                    "an I2AV line's size follows its image's aspect bucket (as the release); drop width/height",
                    number,
                    "width" if "width" in shape else "height",
                )
            )
        if "duration" in shape and mode != "t2a":
            problems.append(
                Problem(path, 'only a T2A line ("mode": "t2a") takes a duration', number, "duration")
            )
        if len(problems) > before:
            return None
        spans = speech_spans(prompt)
        if spk and len(spk) != len(spans):
            problems.append(
                Problem(
                    path,
                    f"{len(spk)} speaker wav(s) for {len(spans)} <S>...<E> span(s); NAVA needs one per span",
                    number,
                    "spk_wavs",
                )
            )
            return None
        image = self._resolve(image_raw) if image_raw else None
        return Sample(
            id=sample_id,
            set=set_name,
            prompt=prompt,
            mode="t2a" if mode == "t2a" else ("i2av" if image is not None else "t2av"),
            image=image,
            speaker_wavs=tuple(self._resolve(s) for s in spk),
            reference_text=reference_text,
            language=language,
            meta={"has_speech": bool(spans), "line": number, "source": str(self.path), **shape},
        )

    def _scan(self) -> tuple[list[_Entry], list[Problem]]:
        problems: list[Problem] = []
        entries: list[_Entry] = []
        seen: dict[str, int] = {}
        for number, obj in read_json_lines(self.path):
            if isinstance(obj, Problem):
                problems.append(obj)
                continue
            sample = self._parse(number, obj, problems)
            if sample is None:
                continue
            if sample.id in seen:
                problems.append(
                    Problem(
                        self.path,
                        f"duplicate id {brief(sample.id)} (first on line {seen[sample.id]})",
                        number,
                        "id",
                    )
                )
                continue
            seen[sample.id] = number
            entries.append(_Entry(sample, number))
        audio = [e for e in entries if e.sample.mode == "t2a"]
        if audio and len(audio) < len(entries):
            # One run writes one output kind: name the lines of the smaller group.
            video = [e for e in entries if e.sample.mode != "t2a"]
            odd, other = (audio, "T2AV/I2AV (mp4)") if len(audio) <= len(video) else (video, "T2A (wav)")
            for e in odd:
                problems.append(
                    Problem(
                        self.path,
                        f"the other lines of this file are {other}; a run writes one output kind, so put "
                        "T2A lines and T2AV/I2AV lines in separate files",
                        e.line,
                        "mode",
                    )
                )
            entries = [e for e in entries if e not in odd]
        return entries, problems

    def _missing(self, entries: list[_Entry]) -> dict[int, list[Problem]]:
        """Missing referenced files, per line."""
        missing: dict[int, list[Problem]] = {}
        for e in entries:
            files = ([("image_path", e.sample.image)] if e.sample.image else []) + [
                ("spk_wavs", w) for w in e.sample.speaker_wavs
            ]
            for field_name, f in files:
                problem = file_problem(f)  # missing, or a FIFO/device that would block the reader
                if problem is not None:
                    text = f"file not found: {f}" if problem == "no such file" else f"{f} is {problem}"
                    missing.setdefault(e.line, []).append(Problem(self.path, text, e.line, field_name))
        return missing

    def load(
        self, data_dir: Path | None = None, selection: SampleSelection = SampleSelection()
    ) -> list[Sample]:
        """Samples sorted by (set, id); bad lines raise (or are skipped and reported with skip_bad)."""
        if not self.path.is_file():
            raise BadInputError([Problem(self.path, "prompt file not found")])
        entries, problems = self._scan()
        known = {e.sample.id for e in entries if selection.sets is None or e.sample.set in selection.sets}
        check_selected_ids(selection.ids, known, str(self.path))
        missing = self._missing(entries)
        if not selection.skip_bad:
            if problems:
                raise BadInputError(problems, hint="fix these lines, or pass --skip-bad to load the others")
            if missing:
                flat = [p for line in sorted(missing) for p in missing[line]]
                raise MissingFilesError(
                    flat,
                    hint=f"relative paths are resolved against {self.base_dir} (use base_dir to change that)",
                )
        skipped = problems + [p for line in sorted(missing) for p in missing[line]]
        kept = [e.sample for e in entries if e.line not in missing]
        kept.sort(key=lambda s: (s.set, natural_id_key(s.id)))
        self.last_load_report = LoadReport(str(self.path), loaded=len(kept), skipped=tuple(skipped))
        for p in skipped:
            log.warning("skipped %s", p)
        return select(kept, selection)

    def validate(self, data_dir: Path | None = None, sets: tuple[str, ...] | None = None) -> ValidationReport:
        """Every bad line and every missing/unreadable image or wav, with per-set counts."""
        if not self.path.is_file():
            return ValidationReport(self.name, self.path, (Problem(self.path, "prompt file not found"),))
        entries, problems = self._scan()
        chosen = [e for e in entries if sets is None or e.sample.set in sets]
        for e in chosen:
            # Name the line and field that reference a bad file: that is what the user edits.
            if e.sample.image is not None:
                bad = image_problem(e.sample.image)
                if bad:
                    problems.append(
                        Problem(self.path, f"{bad.message}: {e.sample.image}", e.line, "image_path")
                    )
            for wav in e.sample.speaker_wavs:
                bad = wav_problem(wav)
                if bad:
                    problems.append(Problem(self.path, f"{bad.message}: {wav}", e.line, "spk_wavs"))
        counts = {}
        for e in chosen:
            counts[e.sample.set] = counts.get(e.sample.set, 0) + 1
        return ValidationReport(
            f"jsonl:{self.path}",
            self.path,
            tuple(problems),
            tuple(SetCount(s, n, None) for s, n in sorted(counts.items())),
        )
