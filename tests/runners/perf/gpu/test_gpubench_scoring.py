"""Scoring-section rules: a figure only from clips that reached the scorer; the random SigLIP scorer."""

from __future__ import annotations

import torch

from nava_eval.metrics.base import ScoreInput, ScoreOutcome
from nava_eval.runners.perf.gpu.budget import Deadline
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.plan import small_plan
from nava_eval.runners.perf.gpu.report import SectionResult
from nava_eval.runners.perf.gpu.scoring_bench import RandomSiglipAesthetic, _time_paths


class _Metric:
    def __init__(self, outcome: ScoreOutcome) -> None:
        self.outcome, self.calls = outcome, []

    def setup(self, device: str) -> None:
        self.device = device

    def score_batch(self, items):
        self.calls.append(len(items))
        return [self.outcome] * len(items)


def test_no_scored_clip_is_an_error_and_no_figure(tmp_path) -> None:
    ctx = BenchContext(plan=small_plan(), device=torch.device("cpu"))
    items = [ScoreInput(id=f"c{i}", set="bench", output=tmp_path / f"c{i}.mp4") for i in range(3)]
    section = SectionResult("sync", "Sync")
    metric = _Metric(ScoreOutcome.skipped("no face track"))
    _time_paths(ctx, section, metric, items, "sync", Deadline(60))
    assert metric.calls == [1, 3, 1, 1, 1]  # warm-up, batched, one per clip
    assert section.status == "error" and "no clip was scored (skipped 3)" in section.error
    assert "sync_s_per_clip" not in ctx.figures

    section = SectionResult("sync", "Sync")
    _time_paths(ctx, section, _Metric(ScoreOutcome.ok(sync_c=1.0)), items, "sync", Deadline(60))
    assert section.status == "ok" and ctx.figures["sync_s_per_clip"] > 0
    assert section.checks["sync_statuses"] == "ok 3" and section.checks["sync_batched_speedup"] > 0


def test_random_siglip_scorer_scores_every_frame() -> None:
    scorer = RandomSiglipAesthetic("tiny", "cpu", batch_size=2)
    frames = torch.rand(5, 3, 40, 56, generator=torch.Generator().manual_seed(0))
    scores = scorer.score(frames, 0)
    assert len(scores) == 5 and all(isinstance(v, float) for v in scores)
    assert len(set(scores)) > 1  # distinct frames, distinct outputs
    assert scorer.encoder.config.image_size == 32
