"""The SP benchmark runs end to end on gloo (tiny sizes) and rejects impossible settings up front."""

from __future__ import annotations

import pytest

from nava_eval.runners.perf.parallel import bench_parallel


def test_rejects_bad_sizes_before_spawning() -> None:
    with pytest.raises(ValueError, match="must divide the largest"):
        bench_parallel((3, 4), num_heads=12)
    with pytest.raises(ValueError, match="does not divide the model's 2 attention heads"):
        bench_parallel((4,))
    with pytest.raises(ValueError, match=">= 1"):
        bench_parallel(())


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_tiny_run_reports_references_and_sp2() -> None:
    result = bench_parallel((2,), latent_grid=(1, 4, 4), audio_tokens=5, repeats=1, warmup=0, timeout_s=80)
    assert [t.label for t in result.timings] == ["sp1 x1 thread", "sp1 x2 threads", "sp2"]
    assert [(t.processes, t.threads_per_process) for t in result.timings] == [(1, 1), (1, 2), (2, 1)]
    assert result.video_tokens == 4 and result.audio_tokens == 5 and result.num_heads == 2
    assert all(t.seconds > 0 and t.cpu_seconds > 0 and len(t.seconds_all) == 1 for t in result.timings)
    assert result.work_ratio(0) == 1.0
    sp2 = result.timings[2]
    assert sp2.collective_seconds is not None and 0 < sp2.collective_seconds <= sp2.seconds
    assert result.timings[0].collective_seconds is None and result.speedup(0) == 1.0
