"""Every batched metric keys a batch by the unit (item, seed), never the item id.

Three seeds of one item share the item id but not their bytes: scored in one batch they must get
the values each gets scored alone (issue 21, finding 1: CLAP keyed `gen:<item id>`, so every seed of
an item got the last seed's embedding). Smoke networks, real media.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nava_eval.metrics.base import ScoreInput, get_metric, metric_entries
from tests.runners.media_files import write_clip, write_tone

SEEDS = (100, 101, 102)
# Float32 batch composition moves values by about 1e-8 (docs/guarantees.md); a keying bug moves them by far more.
TOL = 1e-5


def _numbers(values: dict) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}


@pytest.fixture(scope="module")
def seed_clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ScoreInput], Path]:
    folder = tmp_path_factory.mktemp("seeds")
    reference = write_tone(folder / "prompt.wav", seed=7, seconds=2.0)
    image = folder / "first_frame.png"  # ID compares frames with the conditioning image
    from PIL import Image

    Image.new("RGB", (64, 64), (120, 60, 30)).save(image)
    clips = [write_clip(folder / f"seed{s}.mp4", seed=k + 1, frames=24, size=64) for k, s in enumerate(SEEDS)]
    assert len({p.read_bytes() for p in clips}) == 3
    inputs = [
        ScoreInput(
            id="00300",
            set="set2",
            output=clip,
            reference_text="hello world",
            reference_audio=reference,
            language="en",
            meta={
                "prompt": "a hum",
                "official_prompt": "a hum",
                "audio_prompt": ["a low hum"],
                "mode": "i2av",
                "image": str(image),
            },
            seed=seed,
        )
        for clip, seed in zip(clips, SEEDS, strict=True)
    ]
    return inputs, folder


# CLAP (the metric that keyed by item id) stays in the fast lane; the whole set takes about 3 minutes.
# sim_speakers needs located speech spans, which the smoke Whisper (random text) never gives: its
# seeds-in-one-batch test feeds known word times (tests/metrics/test_sim_speakers.py).
BATCHED = sorted(set(metric_entries()) - {"sim_speakers"})


@pytest.mark.parametrize(
    "name", [n if n == "clap" else pytest.param(n, marks=pytest.mark.slow) for n in BATCHED]
)
def test_seeds_in_one_batch_score_as_each_alone(name: str, seed_clips) -> None:
    inputs, _ = seed_clips
    metric = get_metric(name, smoke=True)
    metric.setup("cpu")
    together = metric.score_batch(inputs)
    alone = [metric.score_batch([one])[0] for one in inputs]
    assert [o.status for o in alone] == ["ok"] * 3, [o.reason for o in alone]  # a skip would prove nothing
    assert [o.status for o in together] == ["ok"] * 3, [o.reason for o in together]
    for unit, batch, single in zip(inputs, together, alone, strict=True):
        got, want = _numbers(batch.values), _numbers(single.values)
        assert got.keys() == want.keys(), unit.unit
        for key in want:
            assert got[key] == pytest.approx(want[key], rel=TOL, abs=TOL), (name, unit.unit, key)
    scored = [_numbers(o.values) for o in alone]
    if name == "clap":
        # The three clips differ, so their embeddings do: a batch that returns one clip's values thrice fails.
        assert len({round(v["cs"], 6) for v in scored}) == 3
