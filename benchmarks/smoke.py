"""The miniature data set behind `--preset smoke`, written at run time (no committed media).

The real benchmarks come from the Hub or by hand, so the smoke preset runs on a few items the
project writes itself, in exactly the official formats, and reads them with the real loaders:
- `versebench/`: set1/set2/set3 items (`<id>.json` + a first-frame `<id>.jpg` drawn here; set2
  also a ground-truth `<id>.wav`) and NAVA-style prompt files `nava_prompts/setN.jsonl` whose
  prompts carry `<S>...<E>` speech spans (one span wraps on-screen text, as in the real files).
- `seedtts/`: `en/meta.lst`, `zh/meta.lst`, `zh/hardcase.lst` with speaker prompt wavs
  synthesised here (harmonic "voices" with distinct pitch per speaker).
- `user_prompts.jsonl`: a user prompt set (one I2AV line with a speaker wav, one T2AV line, and two
  T2AV lines with their own shape: a portrait clip and a longer clip, at the smoke preset's tiny scale).
- `t2a_prompts.jsonl`: text-to-audio lines (`"mode": "t2a"`, as scripts/inference_t2a.sh reads them).
Everything is a pure function of `seed`: the same seed writes the same bytes.
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nava_eval.rundir.files import atomic_write_bytes, atomic_write_text

SAMPLE_RATE = 16000
IMAGE_SIZE = (320, 176)  # width, height: NAVA's 1280x704 aspect ratio, small
SMOKE_VERSEBENCH_COUNTS = {"set1": 2, "set2": 2, "set3": 2}
SMOKE_SEEDTTS_COUNTS = {"en": 2, "zh": 2, "hard": 1}
SMOKE_USER_COUNT = 4
SMOKE_T2A_COUNT = 2


@dataclass(frozen=True)
class SmokePaths:
    """Where the smoke data went; pass these to the real loaders."""

    root: Path
    versebench: Path  # data_dir for VerseBench
    versebench_prompts: Path  # NAVA-style set1/2/3.jsonl (also found automatically inside versebench/)
    seedtts: Path  # data_dir for SeedTTSEval
    user_prompts: Path  # path for UserPromptSet / `jsonl:PATH`
    t2a_prompts: Path  # T2A lines for `jsonl:PATH` (wav outputs)
    files: tuple[Path, ...]  # every file written, sorted


@dataclass(frozen=True)
class _VerseSpec:
    set: str
    id: str
    caption: str  # NAVA-style generation prompt, with <S>...<E>
    video_prompt: str
    audio_prompt: tuple[str, ...]
    speaker: str
    speech_text: str  # official reference ("" = no speech)
    face: bool
    pitch: float  # Hz, for the set2 ground-truth wav


_VERSE_ITEMS: tuple[_VerseSpec, ...] = (
    _VerseSpec(
        "set1",
        "00000",
        "A realistic close-up of a young woman in a red coat on a city street at dusk. She looks at the camera "
        "and says: <S>Good evening, I will meet you at the station.<E> Light traffic noise in the background.",
        "A young woman in a red coat talks to the camera on a city street at dusk.",
        ("light traffic noise",),
        "young woman",
        "Good evening, I will meet you at the station.",
        True,
        220.0,
    ),
    _VerseSpec(
        "set1",
        "00001",
        "A cartoon-style poster of three girls holding a banner that reads <S>GIRLS RULE<E>, "
        "with upbeat pop music and cheering.",
        "Three cartoon girls hold a banner and cheer.",
        ("upbeat pop music", "cheering"),
        "",
        "",
        True,
        0.0,
    ),
    _VerseSpec(
        "set2",
        "300",
        "A realistic shot of an old man by a fireplace. He smiles and says: <S>这是我小时候的故事。<E> "
        "The fire crackles softly.",
        "An old man sits by a fireplace and tells a story.",
        ("fire crackling",),
        "old man",
        "这是我小时候的故事。",
        True,
        120.0,
    ),
    _VerseSpec(
        "set2",
        "301",
        "A dog runs across a green lawn and barks twice at a ball; birds chirp in the trees.",
        "A dog runs on a lawn and barks at a ball.",
        ("a dog barking", "birds chirping"),
        "",
        "",
        False,
        0.0,
    ),
    _VerseSpec(
        "set3",
        "01000",
        "A realistic medium shot of a man in a grey suit giving a talk on a stage with a blue curtain. "
        "He says: <S>Ideas are worth spreading when we share them.<E>",
        "A man in a grey suit gives a talk on stage.",
        (),
        "man",
        "Ideas are worth spreading when we share them.",
        True,
        0.0,
    ),
    _VerseSpec(
        "set3",
        "01001",
        "A realistic close-up of a woman with glasses speaking into a microphone in front of a dark background. "
        "She says: <S>Curiosity is the engine of learning.<E>",
        "A woman with glasses speaks into a microphone.",
        (),
        "woman",
        "Curiosity is the engine of learning.",
        True,
        0.0,
    ),
)

# (set, utt, speaker key, prompt_text, infer_text, with ground truth)
_SEED_LINES: tuple[tuple[str, str, str, str, str, bool], ...] = (
    (
        "en",
        "smoke_en_0001",
        "en_a",
        "The weather is lovely today.",
        "Please bring the blue folder to the meeting.",
        True,
    ),
    (
        "en",
        "smoke_en_0002",
        "en_b",
        "I read that book last summer.",
        "Turn left at the bakery and walk two blocks.",
        False,
    ),
    ("zh", "smoke_zh_0001", "zh_a", "今天天气很好。", "请把蓝色的文件夹带到会议室。", False),
    ("zh", "smoke_zh_0002", "zh_b", "我去年夏天读过这本书。", "在面包店左转，再走两个路口。", False),
    ("hard", "smoke_hard_0001", "zh_a", "今天天气很好。", "四是四，十是十，十四是十四，四十是四十。", False),
)
_SPEAKER_PITCH = {"en_a": 210.0, "en_b": 115.0, "zh_a": 180.0, "zh_b": 135.0}


def _wav_bytes(samples: np.ndarray) -> bytes:
    import soundfile

    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    soundfile.write(buf, pcm, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def synth_voice(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    """A speech-like signal: harmonics of a gliding F0 under a ~4 Hz syllable envelope, plus breath noise."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    glide = 1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.6, 1.2) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(pitch * glide) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 9))
    rate = rng.uniform(3.5, 5.0)
    envelope = np.clip(np.sin(2 * np.pi * rate * t / 2) ** 2, 0, 1) * np.minimum(1.0, t / 0.05)
    signal = voice * envelope + 0.02 * rng.standard_normal(t.size)
    return 0.6 * signal / np.max(np.abs(signal))


def synth_sfx(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Non-speech audio: two decaying noise bursts ("barks") over a soft chirping tone."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    signal = (
        0.15
        * np.sin(2 * np.pi * (2500 + 400 * np.sin(2 * np.pi * 7 * t)) * t)
        * (np.sin(2 * np.pi * 1.5 * t) > 0.6)
    )
    for start in (0.3, 0.9):
        burst = t >= start
        signal = (
            signal + burst * np.exp(-np.clip(t - start, 0, None) * 18) * rng.standard_normal(t.size) * 0.8
        )
    return 0.6 * signal / np.max(np.abs(signal))


def draw_first_frame(rng: np.random.Generator, face: bool) -> bytes:
    """A JPEG first frame: a gradient scene, with a simple front-facing face when the item speaks."""
    from PIL import Image, ImageDraw

    w, h = IMAGE_SIZE
    top, bottom = rng.integers(30, 225, size=3), rng.integers(30, 225, size=3)
    ramp = np.linspace(0.0, 1.0, h)[:, None, None]
    pixels = (top[None, None, :] * (1 - ramp) + bottom[None, None, :] * ramp).repeat(w, axis=1)
    img = Image.fromarray(pixels.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    if face:
        cx, cy = int(rng.integers(w // 3, 2 * w // 3)), h // 2
        rx, ry = 34, 44
        skin = tuple(int(v) for v in rng.integers(150, 235, size=3))
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=skin, outline=(60, 40, 30))
        for dx in (-13, 13):
            draw.ellipse((cx + dx - 5, cy - 14, cx + dx + 5, cy - 6), fill=(255, 255, 255))
            draw.ellipse((cx + dx - 2, cy - 12, cx + dx + 2, cy - 8), fill=(20, 20, 20))
        draw.line((cx, cy - 4, cx - 3, cy + 8), fill=(90, 60, 50), width=2)
        draw.ellipse((cx - 12, cy + 16, cx + 12, cy + 26), fill=(150, 40, 50))
        draw.rectangle(
            (cx - 50, cy + ry, cx + 50, h), fill=tuple(int(v) for v in rng.integers(20, 120, size=3))
        )
    else:
        x0, y0 = int(rng.integers(20, w - 80)), int(rng.integers(h // 2, h - 40))
        draw.ellipse((x0, y0, x0 + 60, y0 + 30), fill=(120, 80, 40))
        draw.ellipse((x0 + 50, y0 - 12, x0 + 75, y0 + 12), fill=(110, 70, 35))
        draw.ellipse((w - 60, 12, w - 20, 52), fill=(250, 220, 90))
    buf = io.BytesIO()
    # No EXIF/ICC or timestamps in JPEG from PIL: same pixels -> same bytes.
    img.save(buf, format="JPEG", quality=90, optimize=False, progressive=False)
    return buf.getvalue()


def _json_text(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _item_rng(seed: int, *key: str) -> np.random.Generator:
    # One independent stream per item, so adding an item never changes the others' bytes.
    return np.random.default_rng([seed, *(zlib.crc32(k.encode("utf-8")) for k in key)])


def write_smoke_dataset(folder: Path, seed: int = 0) -> SmokePaths:
    """Write the miniature VerseBench + Seed-TTS-eval + user-prompt data under `folder`; return the paths."""
    root = Path(folder)
    written: list[Path] = []

    def put_bytes(path: Path, data: bytes) -> None:
        atomic_write_bytes(path, data)
        written.append(path)

    def put_text(path: Path, text: str) -> None:
        atomic_write_text(path, text)
        written.append(path)

    verse = root / "versebench"
    prompts_dir = verse / "nava_prompts"
    nava_lines: dict[str, list[str]] = {s: [] for s in SMOKE_VERSEBENCH_COUNTS}
    for spec in _VERSE_ITEMS:
        rng = _item_rng(seed, "versebench", spec.set, spec.id)
        item_dir = verse / spec.set
        put_bytes(item_dir / f"{spec.id}.jpg", draw_first_frame(rng, spec.face))
        item = {
            "prompt": spec.video_prompt
            + (f" Audio: {', '.join(spec.audio_prompt)}." if spec.audio_prompt else ""),
            "video_prompt": spec.video_prompt,
            "audio_prompt": list(spec.audio_prompt),
            "speech_prompt": {"speaker": spec.speaker, "text": spec.speech_text},
        }
        put_text(item_dir / f"{spec.id}.json", _json_text(item))
        if spec.set == "set2":
            audio = synth_voice(rng, spec.pitch, 2.0) if spec.speech_text else synth_sfx(rng, 2.0)
            put_bytes(item_dir / f"{spec.id}.wav", _wav_bytes(audio))
        # NAVA's image paths point into its own checkout; only the stem (the id) is used.
        sub = "" if spec.set == "set1" else "clips/"
        line = {"prompt": spec.caption, "image_path": f"verse_bench_data/{spec.set}/{sub}{spec.id}.jpg"}
        nava_lines[spec.set].append(json.dumps(line, ensure_ascii=False))
    for set_name, lines in nava_lines.items():
        put_text(prompts_dir / f"{set_name}.jsonl", "\n".join(lines) + "\n")

    seed_dir = root / "seedtts"
    meta: dict[str, list[str]] = {"en": [], "zh": [], "hard": []}
    speaker_wavs: dict[str, str] = {}
    for set_name, utt, speaker, prompt_text, infer_text, with_gt in _SEED_LINES:
        lang_dir = seed_dir / ("en" if set_name == "en" else "zh")
        rel = f"prompt-wavs/{speaker}.wav"
        if speaker not in speaker_wavs:
            rng = _item_rng(seed, "seedtts", speaker)
            put_bytes(lang_dir / rel, _wav_bytes(synth_voice(rng, _SPEAKER_PITCH[speaker], 1.5)))
            speaker_wavs[speaker] = rel
        fields = [utt, prompt_text, rel, infer_text]
        if with_gt:
            gt_rel = f"wavs/{utt}.wav"
            rng = _item_rng(seed, "seedtts-gt", utt)
            put_bytes(lang_dir / gt_rel, _wav_bytes(synth_voice(rng, _SPEAKER_PITCH[speaker], 2.0)))
            fields.append(gt_rel)
        meta[set_name].append("|".join(fields))
    put_text(seed_dir / "en" / "meta.lst", "\n".join(meta["en"]) + "\n")
    put_text(seed_dir / "zh" / "meta.lst", "\n".join(meta["zh"]) + "\n")
    put_text(seed_dir / "zh" / "hardcase.lst", "\n".join(meta["hard"]) + "\n")

    user = root / "user_prompts.jsonl"
    user_lines = [
        {
            "id": "talk",
            "prompt": "A woman in a red coat looks at the camera and says: <S>See you tomorrow.<E>",
            "image_path": "versebench/set1/00000.jpg",
            "spk_wavs": ["seedtts/en/prompt-wavs/en_a.wav"],
            "reference_text": "See you tomorrow.",
            "language": "en",
        },
        {"id": "waves", "text": "Waves roll onto a sandy beach at sunset; seagulls call."},
        # Added lines only (the ones above keep their bytes and their outputs): per-line shapes at the
        # smoke scale. 48×80 is portrait with an odd latent grid (3×5, zero-padded to the DiT patch);
        # 7 latent frames = 25 pixel frames, 27 audio tokens, vs the preset's 4 frames.
        {
            "id": "portrait",
            "prompt": "A lighthouse on a cliff at night, filmed upright; waves crash on the rocks below.",
            "width": 48,
            "height": 80,
        },
        {"id": "long", "prompt": "A train passes a level crossing and sounds its horn twice.", "frames": 7},
    ]
    put_text(user, "".join(json.dumps(u, ensure_ascii=False) + "\n" for u in user_lines))

    t2a = root / "t2a_prompts.jsonl"
    t2a_lines = [
        {
            "id": "rain",
            "mode": "t2a",
            "prompt": "Heavy rain drums on a tin roof; thunder rolls in the distance.",
        },
        {
            "id": "hello",
            "mode": "t2a",
            "prompt": "A man greets a friend: <S>Hello there, good to see you.<E>",
            "spk_wavs": ["seedtts/en/prompt-wavs/en_b.wav"],
            "duration": 2.0,
        },
    ]
    put_text(t2a, "".join(json.dumps(u, ensure_ascii=False) + "\n" for u in t2a_lines))

    return SmokePaths(
        root=root,
        versebench=verse,
        versebench_prompts=prompts_dir,
        seedtts=seed_dir,
        user_prompts=user,
        t2a_prompts=t2a,
        files=tuple(sorted(written)),
    )
