"""Seed-TTS-eval text normalisation and per-utterance WER, reproduced exactly.

The official `run_wer.py` (`process_one`, seed-tts-eval commit 752f429) is the reference, quirks
included, because published numbers were computed with it:

* every character of `zhon.hanzi.punctuation + string.punctuation` except the ASCII apostrophe is
  deleted with no space put in its place (`well-known` -> `wellknown`);
* `"  "` is replaced by `" "` in a single pass (longer runs are left for jiwer to collapse);
* English is lowercased; Chinese is NOT lowercased and is split into single characters joined by
  spaces (so the WER is a CER; ASCII letters and digits each become one token);
* the Paraformer hypothesis (never the reference) goes through `zhconv.convert(text, "zh-cn")`.

jiwer 4 removed `compute_measures`; `process_words` with the default transform gives the same
counts (checked against ../shared/fixtures/seedtts_wer, written with jiwer 3.1.0).
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

SUPPORTED_LANGUAGES = ("en", "zh")


@lru_cache(maxsize=1)
def punctuation_to_delete() -> str:
    """The official deletion set: zhon's Chinese punctuation + ASCII punctuation, minus `'`."""
    from zhon.hanzi import punctuation as hanzi_punctuation

    # Order does not matter for the result (each character is deleted independently), but we keep
    # the official order and drop duplicates so the loop below does no redundant work.
    chars = dict.fromkeys(hanzi_punctuation + string.punctuation)
    chars.pop("'", None)
    return "".join(chars)


def _check_language(lang: str) -> None:
    if lang not in SUPPORTED_LANGUAGES:
        raise ValueError(
            f"unsupported WER language {lang!r}: Seed-TTS-eval defines 'en' and 'zh' only "
            "(set the sample's language field to one of them)"
        )


def normalize(text: str, lang: str) -> str:
    """The string `process_one` hands to jiwer (no zhconv: that is an ASR-output step)."""
    _check_language(lang)
    text = text.translate(str.maketrans("", "", punctuation_to_delete()))
    text = text.replace("  ", " ")
    if lang == "zh":
        return " ".join(text)
    return text.lower()


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese, as the official script applies to Paraformer output."""
    import zhconv

    return zhconv.convert(text, "zh-cn")


@dataclass(frozen=True)
class UtteranceMeasures:
    """What `process_one` computes for one utterance, plus jiwer's raw counts.

    `wer` is a fraction (it can exceed 1). The three rates divide by `len(reference.split(" "))`
    of the normalised reference, empty strings from extra spaces included, as the official code does.
    """

    wer: float
    sub_rate: float
    del_rate: float
    ins_rate: float
    hits: int
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int
    normalized_reference: str
    normalized_hypothesis: str


class EmptyReferenceError(ValueError):
    """The reference is empty after normalisation: WER is undefined (the official script crashes)."""


def utterance_measures(reference: str, hypothesis: str, lang: str) -> UtteranceMeasures:
    """Per-utterance measures of a raw ASR hypothesis against the raw reference text."""
    import jiwer

    _check_language(lang)
    if lang == "zh":
        hypothesis = to_simplified(hypothesis)
    truth = normalize(reference, lang)
    hypo = normalize(hypothesis, lang)
    if not truth.strip():
        raise EmptyReferenceError(
            f"reference text {reference!r} is empty after Seed-TTS-eval normalisation; WER is undefined"
        )
    out = jiwer.process_words(truth, hypo)
    n_ref_official = len(truth.split(" "))
    return UtteranceMeasures(
        wer=float(out.wer),
        sub_rate=out.substitutions / n_ref_official,
        del_rate=out.deletions / n_ref_official,
        ins_rate=out.insertions / n_ref_official,
        hits=int(out.hits),
        substitutions=int(out.substitutions),
        deletions=int(out.deletions),
        insertions=int(out.insertions),
        ref_words=int(out.hits + out.substitutions + out.deletions),
        normalized_reference=truth,
        normalized_hypothesis=hypo,
    )


def utterance_wer(reference: str, hypothesis: str, lang: str) -> float:
    """Per-utterance WER (fraction) exactly as seed-tts-eval's `process_one` (CER for zh)."""
    return utterance_measures(reference, hypothesis, lang).wer


@dataclass(frozen=True)
class WerAggregate:
    """The corpus figure `average_wer.py` prints, plus coverage that the official script hides.

    `wer_percent` is `round(mean * 100, 3)` like the official output; `mean_wer` is unrounded.
    `missing_ids` lists utterances with no value (missing or unscorable outputs): the official
    script silently skips missing wavs, we never do.
    """

    wer_percent: float
    mean_wer: float
    n_scored: int
    n_expected: int
    n_above_half: int
    missing_ids: tuple[str, ...]

    @property
    def coverage(self) -> float:
        return self.n_scored / self.n_expected if self.n_expected else 0.0

    def official_line(self) -> str:
        return f"WER: {self.wer_percent:.3f}%"


def aggregate_wer(values: Sequence[float | None], ids: Sequence[str] | None = None) -> WerAggregate:
    """Mean of per-utterance WER fractions; `None` marks an utterance with no value (listed as missing)."""
    if ids is not None and len(ids) != len(values):
        raise ValueError(f"aggregate_wer: {len(values)} values but {len(ids)} ids")
    names = list(ids) if ids is not None else [str(i) for i in range(len(values))]
    scored = [float(v) for v in values if v is not None]
    missing = tuple(name for name, v in zip(names, values, strict=True) if v is None)
    for v in scored:
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"aggregate_wer: per-utterance WER must be a finite fraction >= 0, got {v}")
    mean = sum(scored) / len(scored) if scored else math.nan
    return WerAggregate(
        wer_percent=round(mean * 100, 3) if scored else math.nan,
        mean_wer=mean,
        n_scored=len(scored),
        n_expected=len(values),
        n_above_half=sum(1 for v in scored if v > 0.5),
        missing_ids=missing,
    )
