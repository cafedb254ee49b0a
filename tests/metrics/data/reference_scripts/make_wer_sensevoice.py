"""Reference vectors for wer/versebench-sensevoice-v1: the Verse-Bench toolkit's own text path.

Runs wer/wer_inferencer.py WERInferencer.infer_audio_text and wer/sensevoice_inferencer.py
SenseVoiceInferencer.infer unchanged, with only the ASR network replaced by a stand-in that returns
a given raw SenseVoice transcript (res[0]["text"]), so funasr's rich_transcription_postprocess,
the toolkit's normalisation and jiwer.wer all run as released.
"""

import importlib.metadata as md
import json
import sys

sys.path.insert(0, "/tmp/ref-verse")
from wer.sensevoice_inferencer import SenseVoiceInferencer
from wer.wer_inferencer import WERInferencer


class FakeASR:
    def __init__(self):
        self.raw = None

    def generate(self, **kw):
        return [{"text": self.raw}]


sv = SenseVoiceInferencer.__new__(SenseVoiceInferencer)
sv.model = FakeASR()
w = WERInferencer.__new__(WERInferencer)
w.model = sv

CASES = [
    (
        "Good evening, I will meet you at the station.",
        "<|en|><|NEUTRAL|><|Speech|><|withitn|>Good evening, I will meet you at the station.",
    ),
    (
        "Good evening, I will meet you at the station.",
        "<|en|><|NEUTRAL|><|Speech|><|withitn|>Good evening I will meet you at the station",
    ),
    (
        "  Ideas are worth spreading when we share them. ",
        "<|en|><|HAPPY|><|Speech|><|withitn|>Ideas are worth spreading when we share them.<|en|><|HAPPY|><|Speech|><|withitn|>Thank you.",
    ),
    ("这是我小时候的故事。", "<|zh|><|NEUTRAL|><|Speech|><|withitn|>这是我小时候的故事。"),
    ("这是我小时候的故事。", "<|zh|><|SAD|><|BGM|><|withitn|>这是我小时候的故事"),
    ("Curiosity is the engine of learning.", "<|nospeech|><|Event_UNK|>"),
    ("Curiosity is the engine of learning.", "<|en|><|EMO_UNKNOWN|><|Speech|><|withitn|>."),
    ("Curiosity is the engine of learning.", "<|en|><|NEUTRAL|><|Speech|><|withitn|>?!"),
    ("Curiosity is the engine of learning.", ""),
    (
        "Curiosity is the engine of learning.",
        "<|en|><|NEUTRAL|><|BGM|><|withitn|>Curiosity is the engine of learning.<|en|><|NEUTRAL|><|BGM|><|withitn|>Yes.",
    ),
    ("I have 3 cats and 2 dogs.", "<|en|><|NEUTRAL|><|Speech|><|withitn|>I have three cats and two dogs."),
    ("I have 3 cats and 2 dogs.", "<|en|><|NEUTRAL|><|Speech|><|withitn|>I have 3 cats and 2 dogs."),
    ("Hello WORLD, it's me!", "<|en|><|ANGRY|><|Laughter|><|withitn|>Hello world, it's me!"),
    (
        "Hello WORLD, it's me!",
        "<|en|><|NEUTRAL|><|Applause|><|withitn|>Hello world.<|en|><|NEUTRAL|><|Applause|><|withitn|>It's me.",
    ),
    ("We love AI.", "<|en|><|NEUTRAL|><|Speech|><|withitn|>We love A I."),
    ("你好，世界", "<|zh|><|NEUTRAL|><|Speech|><|withitn|>你好世界。"),
    ("The. end", "<|en|><|NEUTRAL|><|Speech|><|withitn|>The. end"),
    (
        "mixed 中文 and English",
        "<|zh|><|NEUTRAL|><|Speech|><|withitn|>mixed中文and English<|en|><|NEUTRAL|><|Speech|><|withitn|>ok",
    ),
    ("Tabs\tand\nnewlines  here", "<|en|><|NEUTRAL|><|Speech|><|woitn|>tabs and newlines here"),
    ("short", "<|ja|><|SURPRISED|><|Speech|><|withitn|>ショート"),
]
out = []
for ref, raw in CASES:
    sv.model.raw = raw
    hyp = sv.infer("unused.wav")
    try:
        wer = w.infer_audio_text("unused.wav", ref)
        err = None
    except Exception as exc:
        wer, err = None, f"{type(exc).__name__}: {exc}"
    out.append({"reference": ref, "raw_transcript": raw, "postprocessed": hyp, "wer": wer, "error": err})
versions = {p: md.version(p) for p in ("funasr", "jiwer")}
json.dump(
    {
        "source": "Dorniwang/Verse-Bench wer/wer_inferencer.py + wer/sensevoice_inferencer.py (commit 5645a09), "
        "ASR network replaced by a stand-in returning raw_transcript",
        "versions": versions,
        "cases": out,
    },
    open(sys.argv[1], "w"),
    ensure_ascii=False,
    indent=1,
)
for c in out:
    print(repr(c["postprocessed"]), c["wer"], c["error"])
