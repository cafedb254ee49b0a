"""`bench audio` times MOVA's IS and CLAP score batched against one clip at a time."""

from __future__ import annotations

import pytest

from nava_eval.runners.perf.audio import AUDIO_METRICS, bench_audio


@pytest.mark.slow
def test_bench_audio_times_audio_is_and_clap_mova() -> None:
    assert {"audio_is", "clap_mova"} <= set(AUDIO_METRICS)
    result = bench_audio(("audio_is", "clap_mova"), n_clips=3, seconds=1.0, batch_size=2, fd_items=0)
    by_name = {t.metric: t for t in result.timings}
    assert by_name["audio_is"].protocol == "is/mova-panns-cnn14-v1+smoke-random-weights"
    assert by_name["clap_mova"].protocol == "clap/mova-laion-630k-fusion-v1+smoke-random-weights"
    assert all(t.batched_s > 0 and t.single_s > 0 for t in result.timings)
