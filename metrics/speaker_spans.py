"""Where each `<S>…<E>` speech span of a prompt is spoken in a clip, from ASR word timestamps.

Used by per-speaker SIM (`metrics.sim_speakers`). The span texts and the transcript's words are both
cut into tokens (lowercase words; one token per CJK character), the two token sequences are aligned
with difflib's SequenceMatcher (longest common blocks, in order), and a span is located when at least
`min_fraction` of its tokens are matched: it runs from the start of its first matched word to the
end of its last. A span that is not located carries the reason, never a silent drop.

numpy only, no torch: the matching and cutting are tested apart from any network.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

__all__ = [
    "MIN_FRACTION",
    "MIN_SECONDS",
    "SpanLocation",
    "Word",
    "cut",
    "locate_spans",
    "speech_spans",
    "tokens",
]

SPEECH_SPAN = re.compile(r"<S>(.*?)<E>", re.S)
#: A span is located when at least this share of its tokens is heard in the transcript.
MIN_FRACTION = 0.5
#: A located stretch shorter than this is too short for a speaker embedding.
MIN_SECONDS = 0.2
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


@dataclass(frozen=True)
class Word:
    """One transcript word and its time in the clip (seconds); `end` None: until the clip's end."""

    text: str
    start: float
    end: float | None


@dataclass(frozen=True)
class SpanLocation:
    """Where span `index` was found, or why it was not (`reason`)."""

    index: int
    text: str
    tokens: int  # how many tokens the span has
    matched: int  # how many of them the transcript has, in order
    start: float | None = None
    end: float | None = None
    reason: str | None = None

    @property
    def located(self) -> bool:
        return self.reason is None


def speech_spans(prompt: str) -> list[str]:
    """The texts inside `<S>…<E>`, in order (NAVA binds the i-th speaker wav to the i-th span)."""
    return [s.strip() for s in SPEECH_SPAN.findall(prompt)]


def tokens(text: str) -> list[str]:
    """Lowercase word tokens of `text`; each CJK character is a token of its own."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _CJK.sub(lambda m: f" {m.group(0)} ", text)
    return _WORD.findall(text)


def locate_spans(
    spans: Sequence[str],
    words: Sequence[Word],
    *,
    duration: float,
    min_fraction: float = MIN_FRACTION,
    min_seconds: float = MIN_SECONDS,
) -> list[SpanLocation]:
    """Each span's [start, end] in a clip of `duration` seconds whose transcript is `words`."""
    ref: list[int] = []  # span index of each span token
    ref_tokens: list[str] = []
    for s, span in enumerate(spans):
        toks = tokens(span)
        ref += [s] * len(toks)
        ref_tokens += toks
    hyp: list[int] = []  # word index of each transcript token
    hyp_tokens: list[str] = []
    for w, word in enumerate(words):
        toks = tokens(word.text)
        hyp += [w] * len(toks)
        hyp_tokens += toks
    matched_words: dict[int, list[int]] = {s: [] for s in range(len(spans))}
    matched_count = dict.fromkeys(range(len(spans)), 0)
    blocks = SequenceMatcher(None, ref_tokens, hyp_tokens, autojunk=False).get_matching_blocks()
    for a, b, size in blocks:
        for k in range(size):
            matched_count[ref[a + k]] += 1
            matched_words[ref[a + k]].append(hyp[b + k])
    out = []
    for s, span in enumerate(spans):
        total = ref.count(s)
        found = matched_count[s]
        base = SpanLocation(index=s, text=span, tokens=total, matched=found)
        if total == 0:
            out.append(_with(base, reason="the span has no words to look for"))
            continue
        if not words:
            out.append(_with(base, reason="the transcript has no words"))
            continue
        if found < min_fraction * total:
            out.append(
                _with(
                    base,
                    reason=f"only {found} of its {total} words are in the transcript "
                    f"(at least {min_fraction:.0%} needed)",
                )
            )
            continue
        first, last = words[min(matched_words[s])], words[max(matched_words[s])]
        start = max(0.0, float(first.start))
        end = min(float(duration), float(last.end) if last.end is not None else float(duration))
        if end - start < min_seconds:
            out.append(
                _with(
                    base,
                    start=start,
                    end=end,
                    reason=f"located at {start:.2f}–{end:.2f} s, shorter than {min_seconds} s",
                )
            )
            continue
        out.append(_with(base, start=start, end=end))
    return out


def _with(base: SpanLocation, **changes: object) -> SpanLocation:
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


def cut(wave: np.ndarray, sample_rate: int, start: float, end: float) -> np.ndarray:
    """Samples [floor(start·sr), ceil(end·sr)) of a 1-D wave."""
    a = max(0, math.floor(start * sample_rate))
    b = min(len(wave), math.ceil(end * sample_rate))
    return wave[a:b]
