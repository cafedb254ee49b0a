"""GPU twins of the audio_is and clap_mova batch tests: a CUDA batch scores what the CPU scores.

CPU twins: test_audio_is.py / test_clap_mova.py `test_batch_of_seeds_equals_each_alone_and_bad_input`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nava_eval.metrics.base import ScoreInput, get_metric
from tests.reference_audio_mova import write_mova_audio_wavs


@pytest.mark.gpu
@pytest.mark.parametrize(("metric", "field"), [("audio_is", "is_probs"), ("clap_mova", "cs_mova")])
def test_cuda_batch_matches_cpu(tmp_path: Path, metric: str, field: str) -> None:
    media = write_mova_audio_wavs(tmp_path)
    items = [
        ScoreInput(p.stem, "set1", p, meta={"official_prompt": "a bell rings"})
        for p in sorted(media.glob("*.wav"))
    ]
    values = {}
    for device in ("cpu", "cuda"):
        scorer = get_metric(metric, smoke=True, batch_size=5)
        scorer.setup(device)
        out = scorer.score_batch(items)
        assert all(o.status == "ok" for o in out), [o.reason for o in out]
        values[device] = np.asarray([o.values[field] for o in out], dtype=np.float64)
    # TF32/cuDNN convolutions: float32 agreement, not bit equality.
    assert np.abs(values["cuda"] - values["cpu"]).max() < 1e-4
