"""Audiobox runs in float32 whatever model_cfg["precision"] says, as the official predictor does.

make_audiobox_precision.py ran audiobox-aesthetics 0.0.4 with the tiny checkpoint's precision set to
"bf16", "16" and "32": its autocast flag is False each time (it compares str(torch dtype) with
"16"/"bf16") and the values are the same. Ours must give those values for a bf16/16 checkpoint too.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import pytest

from nava_eval.metrics import audiobox as ab
from nava_eval.metrics.base import ScoreInput
from tests.seeded_weights import audiobox_tiny_checkpoint

DATA = Path(__file__).parent / "data" / "audiobox"
# make_audiobox.py's tiny checkpoint, rebuilt once per session from its recorded keys and seed.
_FOLDER = Path(tempfile.mkdtemp(prefix="audiobox-tiny-"))
TOL = 1e-4  # as test_audiobox.py (observed ≤ 3e-6)


@pytest.fixture(scope="module")
def official() -> dict:
    return json.loads((DATA / "precision.json").read_text())


def _metric(precision: str, **options) -> ab.AudioboxAesthetics:
    metric = ab.AudioboxAesthetics(batch_size=2, **options)
    model = ab.load_audiobox(audiobox_tiny_checkpoint(_FOLDER), "cpu", ab.tiny_wavlm_config())
    model.head = dataclasses.replace(model.head, precision=precision)
    model.checkpoint_precision = metric.checkpoint_precision
    metric.model = model
    return metric


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "16"])
def test_reduced_precision_checkpoint_scores_as_the_official_predictor(
    official: dict, reference_wavs: dict[str, Path], precision: str
) -> None:
    run = official["runs"][precision]
    assert run["enable_autocast"] is False  # the official dtype check never enables autocast
    wavs = reference_wavs["audiobox"]
    names = list(run["files"])
    outs = _metric(precision).score_batch([ScoreInput(n, "set1", wavs / n) for n in names])
    for name, out in zip(names, outs, strict=True):
        assert out.status == "ok", out.reason
        for axis, value in run["files"][name].items():
            assert out.values[axis.lower()] == pytest.approx(value, abs=TOL), (precision, name, axis)
            assert value == official["runs"]["32"]["files"][name][axis]


@pytest.mark.slow
def test_checkpoint_precision_is_a_named_non_official_variant(reference_wavs: dict[str, Path]) -> None:
    metric = _metric("bf16", checkpoint_precision=True)
    assert metric.protocol == "audiobox/versebench-aesthetics-v1+checkpoint-precision"
    wav = reference_wavs["audiobox"] / "short_22k_stereo.wav"
    reduced = metric.score_batch([ScoreInput("x", "set1", wav)])[0]
    full = _metric("bf16").score_batch([ScoreInput("x", "set1", wav)])[0]
    assert reduced.status == full.status == "ok"
    assert abs(reduced.values["pq"] - full.values["pq"]) > 1e-4  # bf16 autocast really changes values
