"""Per-speaker SIM: span location from word timestamps, cutting, scoring each span against its own wav.

The two-speaker clip is built at test time from espeak-ng, one word at a time (`-v en+m3` for the
first span, `-v en+f4` for the second), so every word's time in the clip is known exactly: those
times are the word timestamps a perfect aligner would return. Each word is padded to a whole number
of 1/16 s (1000 samples at 16 kHz), so the times are exact binary fractions and cutting is sample
exact. The Whisper path itself runs with the tiny smoke network (random text: nothing is located,
and every span says why).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from nava_eval.metrics.base import SMOKE_SUFFIX, ScoreInput, get_metric
from nava_eval.metrics.sim_speakers import PROTOCOL, tiny_whisper_words
from nava_eval.metrics.speaker_spans import Word, cut, locate_spans, speech_spans, tokens

SR = 16_000
STEP = 1000  # samples: 1/16 s
SPEAKERS = (
    ("en+m3", "Good evening, I will meet you at the station."),
    ("en+f4", "Thank you, see you tomorrow morning."),
)
PROMPT = (
    f"A man in a grey coat says <S>{SPEAKERS[0][1]}<E> and the woman beside him answers "
    f"<S>{SPEAKERS[1][1]}<E> Rain falls on the platform."
)


def _espeak_word(voice: str, word: str, out: Path) -> np.ndarray:
    from scipy.signal import resample_poly

    subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), word], check=True, capture_output=True)
    wave, sr = sf.read(out, dtype="float64")
    assert sr == 22050
    wave = resample_poly(wave, 160, 441)
    return np.pad(wave, (0, -len(wave) % STEP))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """two.wav (speaker A's span, 0.5 s pause, speaker B's span), each span's wav, the exact words."""
    folder = tmp_path_factory.mktemp("two_speakers")
    parts: list[np.ndarray] = []
    words: list[Word] = []
    spans: list[tuple[int, int]] = []
    at = 0
    for k, (voice, sentence) in enumerate(SPEAKERS):
        if k:
            parts.append(np.zeros(8 * STEP))
            at += 8 * STEP
        first = at
        for n, word in enumerate(sentence.split()):
            wave = _espeak_word(voice, word.strip(",."), folder / f"w{k}_{n}.wav")
            words.append(Word(" " + word, at / SR, (at + len(wave)) / SR))
            parts.append(wave)
            at += len(wave)
        spans.append((first, at))
    parts.append(np.zeros(4 * STEP))
    sf.write(folder / "two.wav", 0.9 * np.concatenate(parts), SR, subtype="PCM_16")
    held, _ = sf.read(folder / "two.wav", dtype="float64")
    refs = []
    for k, (a, b) in enumerate(spans):
        sf.write(folder / f"speaker{k}.wav", held[a:b], SR, subtype="PCM_16")
        refs.append(folder / f"speaker{k}.wav")
    return {"path": folder / "two.wav", "wave": held, "words": words, "spans": spans, "refs": refs}


def _item(clip: dict, refs: list[Path] | None = None, **kw) -> ScoreInput:
    meta = {"prompt": PROMPT, "speaker_wavs": [str(p) for p in (clip["refs"] if refs is None else refs)]}
    return ScoreInput(id="two", set="s", output=clip["path"], language="en", meta=meta, **kw)


def test_spans_and_tokens() -> None:
    assert speech_spans(PROMPT) == [s for _, s in SPEAKERS]
    assert tokens(" Good evening, I'll") == ["good", "evening", "i'll"]
    assert tokens("你好，世界 ok") == ["你", "好", "世", "界", "ok"]


def test_located_spans_run_from_the_first_to_the_last_heard_word(clip: dict) -> None:
    words = clip["words"]
    # An ASR-like transcript: case and punctuation changed, "at" dropped, "meet" misheard, a filler
    # word between the speakers, and the second span's words run together with other punctuation.
    heard = [Word(w.text.upper().rstrip(",."), w.start, w.end) for w in words]
    heard = [w for w in heard if w.text.strip() != "AT"]
    heard[4] = Word(" meat", heard[4].start, heard[4].end)
    heard.insert(8, Word(" um", heard[7].end, heard[7].end + 0.1))
    located = locate_spans([s for _, s in SPEAKERS], heard, duration=len(clip["wave"]) / SR)
    assert [loc.located for loc in located] == [True, True]
    for loc, (a, b) in zip(located, clip["spans"], strict=True):
        assert (loc.start, loc.end) == (a / SR, b / SR)
    assert (located[0].matched, located[0].tokens) == (7, 9)
    assert (located[1].matched, located[1].tokens) == (6, 6)
    # Cutting at those times gives exactly each speaker's samples.
    for loc, (a, b) in zip(located, clip["spans"], strict=True):
        np.testing.assert_array_equal(cut(clip["wave"], SR, loc.start, loc.end), clip["wave"][a:b])


def test_a_span_that_is_not_heard_says_why(clip: dict) -> None:
    duration = len(clip["wave"]) / SR
    first_only = clip["words"][:9]
    located = locate_spans([s for _, s in SPEAKERS], first_only, duration=duration)
    assert located[0].located and not located[1].located
    assert located[1].reason == "only 0 of its 6 words are in the transcript (at least 50% needed)"
    half = [w for w in clip["words"][9:] if w.text.strip(" ,.").lower() in {"thank", "tomorrow"}]
    assert "only 2 of its 6 words" in locate_spans([SPEAKERS[1][1]], half, duration=duration)[0].reason
    assert (
        locate_spans(["..."], clip["words"], duration=duration)[0].reason
        == "the span has no words to look for"
    )
    assert locate_spans(["hello"], [], duration=duration)[0].reason == "the transcript has no words"
    short = locate_spans(["hi"], [Word(" hi", 1.0, 1.1)], duration=duration)[0]
    assert short.start == 1.0 and "shorter than 0.2 s" in short.reason
    open_end = locate_spans(["hi"], [Word(" hi", 1.0, None)], duration=duration)[0]
    assert (open_end.start, open_end.end) == (1.0, duration)


def _known_words(clip: dict):
    return lambda waves: {i: list(clip["words"]) for i in waves}


def test_each_span_is_scored_against_its_own_speaker(clip: dict) -> None:
    metric = get_metric("sim_speakers", smoke=True)
    out = metric.score_with_words([_item(clip)], _known_words(clip))[0]
    assert out.status == "ok", out.reason
    sims = [row["sim"] for row in out.values["spans"]]
    # Each located stretch is exactly its reference wav's samples: cosine 1 (batch padding aside).
    assert sims == pytest.approx([100.0, 100.0], abs=1e-3)
    assert out.values["sim_speakers"] == pytest.approx(np.mean(sims))
    assert out.values["sim_speakers_worst"] == min(sims)
    assert (out.values["n_spans"], out.values["n_located"]) == (2, 2)
    # Bound to the wrong speakers (spk_wavs reversed), both spans score lower.
    swapped = metric.score_with_words([_item(clip, clip["refs"][::-1])], _known_words(clip))[0]
    # (Each span equals the other speaker's wav, so the two cosines are the same number.)
    assert all(row["sim"] < 99.99 for row in swapped.values["spans"])
    assert swapped.values["sim_speakers_worst"] == pytest.approx(swapped.values["sim_speakers"])


def test_a_span_without_a_wav_or_not_heard_is_recorded_not_dropped(clip: dict) -> None:
    metric = get_metric("sim_speakers", smoke=True)
    one_wav = metric.score_with_words([_item(clip, clip["refs"][:1])], _known_words(clip))[0]
    assert one_wav.status == "ok" and one_wav.values["n_located"] == 1
    assert one_wav.values["spans"][1]["reason"] == "no speaker wav for this span (spk_wavs has 1 for 2 spans)"
    assert one_wav.values["sim_speakers"] == one_wav.values["sim_speakers_worst"]
    nothing = metric.score_with_words([_item(clip)], lambda waves: {i: [] for i in waves})[0]
    assert nothing.status == "skipped"
    assert nothing.reason == (
        "two: no span could be scored (span 1: the transcript has no words; span 2: the transcript has no words)"
    )
    assert [row["reason"] for row in nothing.values["spans"]] == ["the transcript has no words"] * 2


def test_inputs_it_cannot_score(clip: dict, tmp_path: Path) -> None:
    metric = get_metric("sim_speakers", smoke=True)
    no_span = ScoreInput("a", "s", clip["path"], meta={"prompt": "Waves.", "speaker_wavs": ["x.wav"]})
    no_wav = ScoreInput("b", "s", clip["path"], meta={"prompt": PROMPT})
    missing = ScoreInput("c", "s", tmp_path / "gone.wav", meta={"prompt": PROMPT, "speaker_wavs": ["x.wav"]})
    a, b, c = metric.score_with_words([no_span, no_wav, missing], _known_words(clip))
    assert a.status == "skipped" and "no <S>…<E> speech span" in a.reason
    assert b.status == "skipped" and "no speaker reference wavs" in b.reason
    assert c.status == "failed" and "gone.wav: file not found" in c.reason


def test_a_batch_of_seeds_scores_each_as_alone(clip: dict, tmp_path: Path) -> None:
    noisy = tmp_path / "noisy.wav"
    rng = np.random.default_rng(3)
    sf.write(noisy, clip["wave"] + 0.02 * rng.standard_normal(len(clip["wave"])), SR, subtype="PCM_16")
    items = [_item(clip, seed=1), ScoreInput(**{**_item(clip).__dict__, "output": noisy, "seed": 2})]
    metric = get_metric("sim_speakers", smoke=True)
    together = metric.score_with_words(items, _known_words(clip))
    alone = [metric.score_with_words([it], _known_words(clip))[0] for it in items]
    for t, a in zip(together, alone, strict=True):
        assert t.values["sim_speakers"] == pytest.approx(a.values["sim_speakers"], abs=1e-4)
    assert together[1].values["sim_speakers"] < together[0].values["sim_speakers"]


def test_whisper_word_timestamps_run_end_to_end_with_the_smoke_network(clip: dict) -> None:
    words = tiny_whisper_words(0).words([clip["wave"].astype(np.float32)], "en", batch_size=2)[0]
    duration = len(clip["wave"]) / SR
    assert words and all(0 <= w.start <= duration for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    metric = get_metric("sim_speakers", smoke=True)
    assert metric.protocol == PROTOCOL + SMOKE_SUFFIX
    out = metric.score_batch([_item(clip)])[0]
    # Random text locates nothing: the clip is skipped and each span carries its reason.
    assert out.status == "skipped" and out.values["n_spans"] == 2
    assert all(row["reason"].startswith("only 0 of its") for row in out.values["spans"])
    assert get_metric("sim_speakers", channel="right").protocol == PROTOCOL + "+channel-right"


def test_score_files_and_ls(clip: dict) -> None:
    from nava_eval.runners.cli.main import cli

    runner = CliRunner()
    refs = [a for p in clip["refs"] for a in ("--speaker-wav", str(p))]
    args = ["score-files", "sim_speakers", "--smoke", "--device", "cpu", "--prompt", PROMPT, *refs]
    result = runner.invoke(cli, [*args, "--language", "en", str(clip["path"])])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["protocol"] == PROTOCOL + SMOKE_SUFFIX and line["status"] == "skipped"
    assert [row["reference"] for row in line["spans"]] == [str(p) for p in clip["refs"]]
    listed = runner.invoke(cli, ["ls", "metrics"])
    assert listed.exit_code == 0 and "sim_speakers" in listed.output and PROTOCOL in listed.output


def test_user_prompts_with_two_speakers_get_it_by_default(clip: dict, tmp_path: Path) -> None:
    from nava_eval.benchmarks.base import get_benchmark

    lines = [
        {"id": "two", "prompt": PROMPT, "spk_wavs": [str(p) for p in clip["refs"]]},
        {"id": "one", "prompt": "A man says <S>Hi there.<E>", "spk_wavs": [str(clip["refs"][0])]},
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    bench = get_benchmark(f"jsonl:{path}")
    by_id = {s.id: s for s in bench.load(None)}
    assert bench.metrics_for(by_id["two"]) == ("video_quality", "sync", "sim", "sim_speakers")
    assert bench.metrics_for(by_id["one"]) == ("video_quality", "sync", "sim")  # one speaker: SIM says it
