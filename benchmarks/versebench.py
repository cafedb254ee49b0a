"""VerseBench (Verse-Bench, from UniVerse-1): 600 image-text prompts in set1/set2/set3, generated I2AV.

Two inputs are joined by item id:
- the official dataset (`hf download dorni/Verse-Bench`): per item `<id>.json` with `prompt`,
  `video_prompt`, `audio_prompt` (list), `speech_prompt` {`speaker`, `text`}, the first frame
  `<id>.jpg`, and for set2 the ground-truth `<id>.wav`. It provides every reference.
- NAVA's rewritten prompt files `set1.jsonl`, `set2.jsonl`, `set3.jsonl` (NAVA checkout:
  `infer_cases/verse_bench_rewrite/`), one `{"prompt", "image_path"}` per line, the id being the
  image file's stem. They provide the generation prompt, as NAVA ran the benchmark.

Reference speech text comes only from `speech_prompt.text`; the `<S>...<E>` spans of NAVA's
prompts are never used as WER references (some wrap on-screen text, e.g. "GIRLS RULE").

On-disk layout (documented options, since the snapshot layout is not pinned by the dataset card):
the data folder holds `set1/ set2/ set3/` directly, or one level down in `verse_bench/` or
`verse_bench_data/`; a set's items sit in the set folder itself or in its `clips/` subfolder
(NAVA's image paths use `set2/clips/` and `set3/clips/`), see `item_subdirs`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nava_eval.benchmarks.base import FieldRule, Sample, SampleSelection, select
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
from nava_eval.benchmarks.user_jsonl import read_json_lines
from nava_eval.benchmarks.validate import SetCount, ValidationReport, media_problems
from nava_eval.errors import InvalidValue
from nava_eval.user_files import file_problem, read_text

log = logging.getLogger(__name__)

SETS = ("set1", "set2", "set3")
EXPECTED_COUNTS = {"set1": 205, "set2": 295, "set3": 100}
ROOT_CANDIDATES = (".", "verse_bench", "verse_bench_data")
NAVA_PROMPT_DIR_CANDIDATES = ("nava_prompts", "verse_bench_rewrite")
HOW_TO_GET = "run `nava-eval data download versebench`"
HOW_TO_GET_NAVA_PROMPTS = (
    "get them with `git clone --depth 1 https://github.com/ernie-research/NAVA` and register them with "
    "`nava-eval data import versebench DATA_DIR --nava-prompts NAVA/infer_cases/verse_bench_rewrite` "
    "(or put that folder next to the data as verse_bench_rewrite/); to generate from Verse-Bench's own "
    "prompts instead (not NAVA's protocol) pass --prompt-source official"
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

PromptSource = Literal["auto", "nava", "official"]


def speech_language(text: str) -> str:
    """'zh' when the speech text contains CJK characters, else 'en' (Verse-Bench speech is en or zh)."""
    return "zh" if _CJK.search(text) else "en"


@dataclass(frozen=True)
class VerseItem:
    """One official item: its files and its references."""

    id: str
    set: str
    json_path: Path
    image: Path
    ground_truth_audio: Path | None
    prompt: str | None
    video_prompt: str | None
    audio_prompt: tuple[str, ...]
    speaker: str | None
    speech_text: str | None  # None when the item has no speech


@dataclass(frozen=True)
class NavaPrompt:
    id: str
    set: str
    prompt: str
    image_path: str
    path: Path
    line: int


def _parse_item(path: Path, set_name: str, problems: list[Problem]) -> VerseItem | None:
    try:
        obj = json.loads(read_text(path))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: a FIFO, not UTF-8, bad JSON
        problems.append(Problem(path, f"unreadable JSON ({exc})"))
        return None
    if not isinstance(obj, dict):
        problems.append(Problem(path, "expected a JSON object"))
        return None
    before = len(problems)
    item_id = path.stem
    bad = check_sample_id(item_id, path, None, "file name")
    if bad:
        problems.append(bad)
    speech = obj.get("speech_prompt")
    speech_text: str | None = None
    speaker: str | None = None
    if not isinstance(speech, dict):
        problems.append(
            Problem(path, "missing or not an object with 'speaker' and 'text'", None, "speech_prompt")
        )
    else:
        text = speech.get("text", "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            problems.append(
                Problem(
                    path, "must be a string (empty when the item has no speech)", None, "speech_prompt.text"
                )
            )
        else:
            speech_text = text.strip() or None
        spk = speech.get("speaker")
        speaker = spk.strip() if isinstance(spk, str) and spk.strip() else None
    audio = obj.get("audio_prompt", [])
    if audio is None:
        audio = []
    if isinstance(audio, str):
        audio = [audio] if audio.strip() else []
    if not isinstance(audio, list) or not all(isinstance(a, str) for a in audio):
        problems.append(Problem(path, "must be a list of strings", None, "audio_prompt"))
        audio = []
    prompt = obj.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        problems.append(Problem(path, "must be a string", None, "prompt"))
    video_prompt = obj.get("video_prompt")
    if video_prompt is not None and not isinstance(video_prompt, str):
        problems.append(Problem(path, "must be a string", None, "video_prompt"))
    if len(problems) > before:
        return None
    return VerseItem(
        id=item_id,
        set=set_name,
        json_path=path,
        image=path.with_suffix(".jpg"),
        ground_truth_audio=path.with_suffix(".wav") if set_name == "set2" else None,
        prompt=prompt.strip() if isinstance(prompt, str) and prompt.strip() else None,
        video_prompt=video_prompt.strip() if isinstance(video_prompt, str) and video_prompt.strip() else None,
        audio_prompt=tuple(a.strip() for a in audio if a.strip()),
        speaker=speaker,
        speech_text=speech_text,
    )


def read_nava_prompts(path: Path, set_name: str, problems: list[Problem]) -> list[NavaPrompt]:
    """NAVA's `setN.jsonl`: one {"prompt", "image_path"} per line; id = stem of image_path."""
    out: list[NavaPrompt] = []
    seen: dict[str, int] = {}
    for number, obj in read_json_lines(path):
        if isinstance(obj, Problem):
            problems.append(obj)
            continue
        prompt, image_path = obj.get("prompt"), obj.get("image_path")
        bad = False
        if not isinstance(prompt, str) or not prompt.strip():
            problems.append(Problem(path, "missing or not a non-empty string", number, "prompt"))
            bad = True
        if not isinstance(image_path, str) or not image_path.strip():
            problems.append(
                Problem(
                    path, "missing or not a non-empty string (the id is its file stem)", number, "image_path"
                )
            )
            bad = True
        if bad:
            continue
        item_id = Path(image_path).stem
        id_problem = check_sample_id(item_id, path, number, "image_path")
        if id_problem:
            problems.append(id_problem)
            continue
        if item_id in seen:
            problems.append(
                Problem(
                    path, f"duplicate id {item_id!r} (first on line {seen[item_id]})", number, "image_path"
                )
            )
            continue
        seen[item_id] = number
        out.append(NavaPrompt(item_id, set_name, prompt.strip(), image_path, path, number))
    return out


class VerseBench:
    """Verse-Bench, generated I2AV from each item's first frame with NAVA's (or the official) prompt."""

    name = "versebench"
    description = (
        "Verse-Bench I2AV: set1 205, set2 295 (ground-truth wavs, SFX/music-heavy), set3 100 (TED speech)"
    )
    sets = SETS
    output_kind = "mp4"
    # The official Verse-Bench toolkit pools every item of the three sets before averaging.
    aggregation = "per-item mean"
    # Speech metrics (sync, wer_sensevoice) only score items whose speech_prompt.text is non-empty
    # (metrics_for). The Verse-Bench toolkit (calculate_metrics.py) scores audiobox on every set1+set2
    # wav and clap (CS; FD against the ground truth in set2) on set1+set2 items with an audio_prompt.
    # kl (PaSST KL against the ground-truth wav) on set2 items with an audio_prompt.
    # ID (DINOv3 frames vs the conditioning image) on every video of set1-3, pooled, as the toolkit.
    # MOVA's IS and CLAP score (eval_audio_is_clap.py) on every clip of set1-3 (CLAP: those with a prompt).
    # Whisper `wer` (wer/versebench-v1) is no default: NAVA's WER column is the toolkit's SenseVoice WER.
    default_metrics: dict[str, tuple[str, ...]] = {
        "set1": (
            "sync",
            "video_quality",
            "wer_sensevoice",
            "audiobox",
            "clap",
            "ib",
            "audio_amplitude",
            "av_align",
            "id",
            "audio_is",
            "clap_mova",
            "desync",
            "av_a",
            "videoreward",
        ),
        "set2": (
            "video_quality",
            "sync",
            "wer_sensevoice",
            "audiobox",
            "clap",
            "kl",
            "ib",
            "audio_amplitude",
            "av_align",
            "id",
            "audio_is",
            "clap_mova",
            "desync",
            "av_a",
            "videoreward",
        ),
        "set3": (
            "sync",
            "video_quality",
            "wer_sensevoice",
            "ib",
            "dnsmos",
            "audio_amplitude",
            "av_align",
            "id",
            "audio_is",
            "clap_mova",
            "desync",
            "videoreward",
        ),
    }
    speech_metrics = ("sync", "wer", "wer_sensevoice")
    # Items without an audio_prompt get no CS, FD, KL or AV-A (the toolkit's calculate_metrics.py).
    audio_prompt_metrics = ("clap", "kl", "av_a")
    # Fields whose official population or aggregation differs from the metric's (benchmarks.base.FieldRule).
    field_rules: dict[str, FieldRule] = {
        "fd": FieldRule(sets=("set2",)),  # the toolkit's FD compares set2 clips with their ground truth
        "fd_set": FieldRule(sets=("set2",)),
        "kl": FieldRule(sets=("set2",)),  # the toolkit's KL: set2 clips against their ground-truth wavs
        # MOVA's toolkit publishes LSE-C/LSE-D on set3 only (all 100 set3 items carry speech text)
        "sync_c_mova": FieldRule(sets=("set3",)),
        "sync_d_mova": FieldRule(sets=("set3",)),
        # MOVA's toolkit: IB-Score per set (category), "all" = mean of the per-set means
        "ib": FieldRule(aggregation="mean of per-set means"),
        # MOVA's toolkit: AV-Align per set over every clip, "all" = mean of the per-set means
        "av_align": FieldRule(aggregation="mean of per-set means"),
        # MOVA's toolkit: DeSync per set over every clip, "all" = mean of the per-set means
        "desync": FieldRule(aggregation="mean of per-set means"),
        # Verse-Bench's toolkit: AV-A pooled over the set1 and set2 items with an audio_prompt
        "av_a": FieldRule(sets=("set1", "set2")),
        # MOVA's toolkit: DNSMOS on set3 only (its README), mean over the clips that decoded
        **{f: FieldRule(sets=("set3",)) for f in ("dnsmos", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")},
        # MOVA's toolkit: amplitude and loudness per category, "all" = mean of the per-category means
        "amplitude_rms": FieldRule(aggregation="mean of per-set means"),
        "loudness_lufs": FieldRule(aggregation="mean of per-set means"),
        # MOVA's toolkit: CLAP score per set over the clips with a prompt, "all" = mean of the per-set
        # means. Its IS (`is`) is one statistic per set averaged over sets: the reducer does that itself.
        "cs_mova": FieldRule(aggregation="mean of per-set means"),
        # MOVA's toolkit: VideoReward per category, "all" = mean of the per-category means (Overall too)
        **{f: FieldRule(aggregation="mean of per-set means") for f in ("vq", "mq", "ta", "vr_overall")},
    }

    def __init__(
        self,
        prompts_dir: Path | None = None,
        prompt_source: PromptSource = "nava",
        item_subdirs: tuple[str, ...] = ("", "clips"),
        expected_counts: dict[str, int] | None = None,
        missing_image: str = "error",
    ) -> None:
        """
        prompts_dir: folder with NAVA's set1/2/3.jsonl (default: `nava_prompts/` or
            `verse_bench_rewrite/` in or beside the data folder, else the registered one).
        prompt_source: "nava" (default; "auto" is the same) requires those files and fails naming
            them when they are missing; "official" uses each item's own `prompt`, only when asked for.
        expected_counts: override of the per-set counts (the smoke set uses its own).
        missing_image: "error" (default) refuses items whose first-frame image is missing; "t2av"
            generates them without it, as the release does (`data/t2v.py` keeps an image_path only if
            the file exists, so a missing image silently makes that item text-to-audio-video).
        """
        if missing_image not in ("error", "t2av"):
            raise InvalidValue(f"missing_image must be error or t2av, not {missing_image!r}")
        self.missing_image = missing_image
        if prompt_source not in ("auto", "nava", "official"):
            raise InvalidValue(f"prompt_source must be auto, nava or official, not {prompt_source!r}")
        self.prompts_dir = Path(prompts_dir) if prompts_dir is not None else None
        self.prompt_source = prompt_source
        self.item_subdirs = tuple(item_subdirs)
        self.expected_counts = dict(expected_counts or EXPECTED_COUNTS)
        self.last_load_report: LoadReport | None = None

    # --- where things are -------------------------------------------------------------------
    def default_data_dir(self) -> Path | None:
        reg = registration(self.name)
        return reg.path if reg is not None else None

    def dataset_root(self, data_dir: Path | None) -> Path:
        """The folder that holds set1/set2/set3 (data_dir itself or a known subfolder)."""
        base = resolve_data_dir(self.name, data_dir, HOW_TO_GET)
        for candidate in ROOT_CANDIDATES:
            root = base / candidate if candidate != "." else base
            if any((root / s).is_dir() for s in self.sets):
                return root
        looked = ", ".join(str(base / c / "set1") for c in ROOT_CANDIDATES)
        raise DataNotFoundError(
            f"no Verse-Bench set folders under {base} (looked for {looked}); {HOW_TO_GET}"
        )

    def nava_prompts_dir(self, root: Path) -> Path | None:
        """The folder with NAVA's setN.jsonl files, or None when there is none."""
        if self.prompts_dir is not None:
            return self.prompts_dir
        # Files shipped next to the data win over the registration, which may describe another copy.
        for name in NAVA_PROMPT_DIR_CANDIDATES:
            for base in (root, root.parent):
                if (base / name / "set1.jsonl").is_file():
                    return base / name
        reg = registration(self.name)
        if reg is not None and reg.extra.get("nava_prompts"):
            return Path(reg.extra["nava_prompts"])
        return None

    def metrics_for(self, sample: Sample) -> tuple[str, ...]:
        """The set's default metrics, without speech metrics for items that have no speech and
        without CLAP and AV-A for items that have no audio prompt."""
        metrics = self.default_metrics[sample.set]
        if sample.reference_text is None:
            metrics = tuple(m for m in metrics if m not in self.speech_metrics)
        if not sample.meta.get("audio_prompt"):
            metrics = tuple(m for m in metrics if m not in self.audio_prompt_metrics)
        return metrics

    # --- reading ------------------------------------------------------------------------------
    def _scan_items(
        self, root: Path, sets: tuple[str, ...]
    ) -> tuple[dict[str, list[VerseItem]], list[Problem]]:
        problems: list[Problem] = []
        items: dict[str, list[VerseItem]] = {}
        owner: dict[str, Path] = {}
        for set_name in sets:
            set_dir = root / set_name
            found: list[VerseItem] = []
            if not set_dir.is_dir():
                problems.append(Problem(set_dir, "set folder not found"))
                items[set_name] = found
                continue
            for sub in self.item_subdirs:
                folder = set_dir / sub if sub else set_dir
                if not folder.is_dir():
                    continue
                for path in sorted(folder.glob("*.json")):
                    item = _parse_item(path, set_name, problems)
                    if item is None:
                        continue
                    if item.id in owner:
                        problems.append(
                            Problem(path, f"item id {item.id!r} also defined by {owner[item.id]}")
                        )
                        continue
                    owner[item.id] = path
                    found.append(item)
            found.sort(key=lambda it: natural_id_key(it.id))
            items[set_name] = found
        return items, problems

    def _nava_prompts(
        self, root: Path, sets: tuple[str, ...], problems: list[Problem]
    ) -> dict[str, dict[str, NavaPrompt]] | None:
        if self.prompt_source == "official":
            return None
        folder = self.nava_prompts_dir(root)
        if folder is None:
            # NAVA ran VerseBench on its rewritten prompts; silently using the originals would put
            # numbers of another protocol in NAVA's column.
            looked = [
                str(b / n / "set1.jsonl") for n in NAVA_PROMPT_DIR_CANDIDATES for b in (root, root.parent)
            ]
            raise DataNotFoundError(
                f"NAVA's rewritten VerseBench prompts (set1.jsonl, set2.jsonl, set3.jsonl) are missing: looked "
                f"for {', '.join(looked)} and the data registration; {HOW_TO_GET_NAVA_PROMPTS}"
            )
        out: dict[str, dict[str, NavaPrompt]] = {}
        for set_name in sets:
            path = folder / f"{set_name}.jsonl"
            if not path.is_file():
                problems.append(Problem(path, "NAVA prompt file not found"))
                out[set_name] = {}
                continue
            out[set_name] = {p.id: p for p in read_nava_prompts(path, set_name, problems)}
        return out

    def _join(
        self,
        items: dict[str, list[VerseItem]],
        prompts: dict[str, dict[str, NavaPrompt]] | None,
        problems: list[Problem],
    ) -> list[Sample]:
        samples: list[Sample] = []
        for set_name, set_items in items.items():
            nava = prompts.get(set_name, {}) if prompts is not None else None
            for item in set_items:
                if nava is not None:
                    np_ = nava.get(item.id)
                    if np_ is None:
                        problems.append(
                            Problem(item.json_path, f"no line for id {item.id!r} in NAVA's {set_name}.jsonl")
                        )
                        continue
                    prompt, source = np_.prompt, "nava"
                else:
                    if item.prompt is None:
                        problems.append(
                            Problem(
                                item.json_path, "missing (needed without NAVA prompt files)", None, "prompt"
                            )
                        )
                        continue
                    prompt, source = item.prompt, "official"
                samples.append(
                    Sample(
                        id=item.id,
                        set=set_name,
                        prompt=prompt,
                        mode="i2av",
                        image=item.image,
                        reference_text=item.speech_text,
                        language=speech_language(item.speech_text) if item.speech_text else None,
                        ground_truth_audio=item.ground_truth_audio,
                        meta={
                            "prompt_source": source,
                            "has_speech": item.speech_text is not None,
                            "speaker": item.speaker,
                            "video_prompt": item.video_prompt,
                            "audio_prompt": list(item.audio_prompt),
                            # MOVA's CLAP score reads each item's own `prompt` (its prompt meta JSON).
                            "official_prompt": item.prompt,
                            "item_json": str(item.json_path),
                        },
                    )
                )
            if nava is not None:
                known = {it.id for it in set_items}
                for extra in sorted(set(nava) - known, key=natural_id_key):
                    p = nava[extra]
                    problems.append(
                        Problem(p.path, f"id {extra!r} has no official {set_name} item", p.line, "image_path")
                    )
        return samples

    @staticmethod
    def _without_missing_images(
        samples: list[Sample], missing: dict[str, list[Problem]]
    ) -> tuple[list[Sample], dict[str, list[Problem]]]:
        """The release's behaviour: an item whose image is missing runs as T2AV (other gaps still count)."""
        out, still = [], {}
        for s in samples:
            gone = [p for p in missing.get(s.id, []) if "first-frame image" in p.message]
            rest = [p for p in missing.get(s.id, []) if p not in gone]
            if gone:
                log.warning("%s/%s: first-frame image %s is missing; generating T2AV (--missing-image t2av)",
                            s.set, s.id, s.image)  # fmt: skip
                s = dataclasses.replace(
                    s, mode="t2av", image=None, meta={**s.meta, "first_frame_missing": True}
                )
            if rest:
                still[s.id] = rest
            out.append(s)
        return out, still

    @staticmethod
    def _missing_files(samples: list[Sample]) -> dict[str, list[Problem]]:
        missing: dict[str, list[Problem]] = {}
        for s in samples:
            for what, f in (("first-frame image", s.image), ("ground-truth wav", s.ground_truth_audio)):
                problem = file_problem(f) if f is not None else None
                if problem == "no such file":
                    missing.setdefault(s.id, []).append(Problem(f, f"missing {what} of item {s.set}/{s.id}"))
                elif problem is not None:  # a FIFO or device would block the reader for ever
                    missing.setdefault(s.id, []).append(
                        Problem(f, f"{what} of item {s.set}/{s.id} is {problem}")
                    )
        return missing

    def load(self, data_dir: Path | None, selection: SampleSelection = SampleSelection()) -> list[Sample]:
        """Samples ordered by set (set1, set2, set3) then id; every bad item reported at once."""
        root = self.dataset_root(data_dir)
        sets = self._selected_sets(selection)
        items, problems = self._scan_items(root, sets)
        prompts = self._nava_prompts(root, sets, problems)
        samples = self._join(items, prompts, problems)
        check_selected_ids(
            selection.ids, {it.id for s in sets for it in items[s]}, f"{self.name} {'/'.join(sets)}"
        )
        missing = self._missing_files(samples)
        if self.missing_image == "t2av":
            samples, missing = self._without_missing_images(samples, missing)
        if not selection.skip_bad:
            if problems:
                raise BadInputError(problems, hint="fix these, or pass --skip-bad to load the other items")
            if missing:
                raise MissingFilesError(
                    [p for k in missing for p in missing[k]],
                    hint=f"the Verse-Bench copy in {root} is incomplete; {HOW_TO_GET} again",
                )
        skipped = problems + [p for k in missing for p in missing[k]]
        kept = [s for s in samples if s.id not in missing]
        order = {name: i for i, name in enumerate(self.sets)}
        kept.sort(key=lambda s: (order[s.set], natural_id_key(s.id)))
        self.last_load_report = LoadReport(f"{self.name} ({root})", loaded=len(kept), skipped=tuple(skipped))
        for p in skipped:
            log.warning("skipped %s", p)
        return select(kept, selection)

    def _selected_sets(self, selection: SampleSelection) -> tuple[str, ...]:
        if selection.sets is None:
            return self.sets
        unknown = [s for s in selection.sets if s not in self.sets]
        if unknown:
            raise InvalidValue(
                f"unknown {self.name} set(s) {', '.join(unknown)}; valid: {', '.join(self.sets)}"
            )
        return tuple(s for s in self.sets if s in selection.sets)

    def validate(self, data_dir: Path | None, sets: tuple[str, ...] | None = None) -> ValidationReport:
        """Every unreadable JSON, missing/undecodable image or wav, prompt-file problem; counts per set."""
        root = self.dataset_root(data_dir)
        chosen = self._selected_sets(SampleSelection(sets=sets))
        items, problems = self._scan_items(root, chosen)
        notes: list[str] = []
        try:
            prompts = self._nava_prompts(root, chosen, problems)
        except DataNotFoundError as missing:
            prompts = None
            problems.append(Problem(root, str(missing)))
        if prompts is None:
            notes.append(
                "no NAVA prompt files: generation needs them (or --prompt-source official, another protocol)"
            )
        else:
            notes.append(f"NAVA prompt files: {self.nava_prompts_dir(root)}")
            self._join(items, prompts, problems)
        all_items = [it for s in chosen for it in items[s]]
        problems += media_problems(
            [it.image for it in all_items],
            [it.ground_truth_audio for it in all_items if it.ground_truth_audio],
        )
        counts = tuple(SetCount(s, len(items[s]), self.expected_counts.get(s)) for s in chosen)
        return ValidationReport(self.name, root, tuple(problems), counts, tuple(notes))
