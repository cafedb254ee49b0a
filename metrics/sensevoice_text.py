"""The text side of the Verse-Bench toolkit's WER (`wer/versebench-sensevoice-v1`), without the ASR model.

Facts from the toolkit (Dorniwang/Verse-Bench `wer/sensevoice_inferencer.py`, `wer/wer_inferencer.py`)
and from funasr's `rich_transcription_postprocess` (funasr 1.4.16), reproduced because the published
numbers were computed with them, quirks included:

1. SenseVoice's raw output carries tags per VAD segment: `<|lang|><|emotion|><|event|><|itn|>text`.
   The postprocess drops language/ITN tags, turns events into a leading emoji (🎼 BGM, 👏 applause,
   😀 laughter, 😭 cry, 🤧 sneeze or cough) and the most frequent emotion of each segment into a
   trailing emoji (😊 😔 😡 😰 🤢 😮), joins the segments with no space (a repeated event emoji or
   a repeated emotion emoji at a boundary is dropped), replaces every "The." by a space and strips.
   The emoji stay in the hypothesis and count as errors.
2. A hypothesis made only of ASCII punctuation (`string.punctuation`) becomes "" (the check runs
   before lowercasing and does not know Chinese punctuation).
3. Reference = `speech_prompt.text.strip().lower()`, hypothesis = `.strip().lower()`; punctuation is
   kept and Chinese is not split into characters, so "hello," ≠ "hello" and a Chinese sentence
   without spaces is one word.
4. `jiwer.wer(reference, hypothesis)` per item (jiwer's default transform: words split on spaces).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

_LANGUAGE_TAGS = ("<|zh|>", "<|en|>", "<|yue|>", "<|ja|>", "<|ko|>", "<|nospeech|>")
_NOSPEECH_UNKNOWN = "<|nospeech|><|Event_UNK|>"
_SEGMENT_MARK = "<|lang|>"

# Emotion tag -> trailing emoji ("" for neutral), in the order the most frequent one is searched.
_EMOTIONS = {
    "<|HAPPY|>": "😊",
    "<|SAD|>": "😔",
    "<|ANGRY|>": "😡",
    "<|NEUTRAL|>": "",
    "<|FEARFUL|>": "😰",
    "<|DISGUSTED|>": "🤢",
    "<|SURPRISED|>": "😮",
}
# Event tag -> leading emoji; each present event is prepended in this order.
_EVENTS = {
    "<|BGM|>": "🎼",
    "<|Speech|>": "",
    "<|Applause|>": "👏",
    "<|Laughter|>": "😀",
    "<|Cry|>": "😭",
    "<|Sneeze|>": "🤧",
    "<|Breath|>": "",
    "<|Cough|>": "🤧",
}
# Every tag removed from a segment before its emoji are put back (counted first, then deleted).
_ALL_TAGS = (
    _NOSPEECH_UNKNOWN,
    *_LANGUAGE_TAGS,
    *("<|HAPPY|>", "<|SAD|>", "<|ANGRY|>", "<|NEUTRAL|>", "<|BGM|>", "<|Speech|>", "<|Applause|>"),
    *("<|Laughter|>", "<|FEARFUL|>", "<|DISGUSTED|>", "<|SURPRISED|>", "<|Cry|>", "<|EMO_UNKNOWN|>"),
    *("<|Sneeze|>", "<|Breath|>", "<|Cough|>", "<|Sing|>", "<|Speech_Noise|>", "<|withitn|>"),
    *("<|woitn|>", "<|GBG|>", "<|Event_UNK|>"),
)
_EMOTION_EMOJI = frozenset({"😊", "😔", "😡", "😰", "🤢", "😮"})
_EVENT_EMOJI = frozenset({"🎼", "👏", "😀", "😭", "🤧", "😷"})
_ASCII_PUNCTUATION = frozenset(string.punctuation)


def _format_segment(segment: str) -> str:
    """One VAD segment: tags out, event emoji in front, the dominant emotion's emoji at the end."""
    counts = {}
    for tag in _ALL_TAGS:
        counts[tag] = segment.count(tag)
        segment = segment.replace(tag, "")
    emotion = "<|NEUTRAL|>"
    for tag in _EMOTIONS:  # strictly more frequent than the current pick (ties keep the earlier)
        if counts[tag] > counts[emotion]:
            emotion = tag
    for tag, emoji in _EVENTS.items():
        if counts[tag] > 0:
            segment = emoji + segment
    segment = segment + _EMOTIONS[emotion]
    for emoji in _EMOTION_EMOJI | _EVENT_EMOJI:
        segment = segment.replace(" " + emoji, emoji).replace(emoji + " ", emoji)
    return segment.strip()


def _leading_event(text: str) -> str | None:
    return text[0] if text[0] in _EVENT_EMOJI else None


def _trailing_emotion(text: str) -> str | None:
    return text[-1] if text[-1] in _EMOTION_EMOJI else None


def rich_transcription_postprocess(raw: str) -> str:
    """funasr's postprocess of a raw SenseVoice transcript (tags → emoji, segments joined)."""
    text = raw.replace(_NOSPEECH_UNKNOWN, "❓")
    for tag in _LANGUAGE_TAGS:
        text = text.replace(tag, _SEGMENT_MARK)
    segments = [_format_segment(s).strip(" ") for s in text.split(_SEGMENT_MARK)]
    joined = " " + segments[0]
    event = _leading_event(joined)
    for segment in segments[1:]:
        if not segment:
            continue
        if _leading_event(segment) is not None and _leading_event(segment) == event:
            segment = segment[1:]  # the same background event continues: one emoji for both
        if not segment:
            continue
        event = _leading_event(segment)
        if _trailing_emotion(segment) is not None and _trailing_emotion(segment) == _trailing_emotion(joined):
            joined = joined[:-1]
        joined += segment.strip()
    return joined.replace("The.", " ").strip()


def toolkit_reference(text: str) -> str:
    """The toolkit's reference: `speech_prompt.text.strip().lower()`."""
    return text.strip().lower()


def toolkit_hypothesis(postprocessed: str) -> str:
    """The toolkit's hypothesis: "" when only ASCII punctuation, else `.strip().lower()`."""
    if set(postprocessed) <= _ASCII_PUNCTUATION:
        return ""
    return postprocessed.strip().lower()


@dataclass(frozen=True)
class ToolkitWer:
    """One item's WER as the toolkit computes it, with the strings jiwer saw."""

    wer: float  # a fraction, as jiwer returns it
    reference: str
    hypothesis: str
    postprocessed: str


def toolkit_wer(reference_text: str, raw_transcript: str) -> ToolkitWer:
    """`infer_audio_text` on a raw SenseVoice transcript: postprocess, normalise, `jiwer.wer`.

    Raises ValueError for a reference that is empty after stripping (jiwer refuses it; the
    toolkit only scores items whose speech text is non-empty).
    """
    import jiwer

    reference = toolkit_reference(reference_text)
    if not reference:
        raise ValueError(f"reference speech text {reference_text!r} is empty after strip()")
    postprocessed = rich_transcription_postprocess(raw_transcript)
    hypothesis = toolkit_hypothesis(postprocessed)
    return ToolkitWer(float(jiwer.wer(reference, hypothesis)), reference, hypothesis, postprocessed)
