"""The speech benchmark runs end to end on the tiny models and reports consistent numbers."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nava_eval.runners.cli.bench_speech import command
from nava_eval.runners.perf.speech import bench_speech


def test_bench_speech_reports_both_settings() -> None:
    result = bench_speech(("sim",), n_utterances=3, seconds=0.5, batch_size=2)
    (timing,) = result.timings
    assert timing.metric == "sim" and timing.protocol.endswith("+smoke-random-weights")
    assert timing.n_utterances == 3 and timing.batched_s > 0 and timing.single_s > 0
    assert timing.speedup == timing.single_s / timing.batched_s
    assert result.machine.torch_version and result.machine.cpu
    assert len(result.audio_seconds) == 3 and min(result.audio_seconds) < max(result.audio_seconds)


def test_bench_speech_command_json() -> None:
    out = CliRunner().invoke(command, ["--metric", "wer", "--utterances", "2", "--seconds", "0.5", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output.strip().splitlines()[-1])
    (row,) = data["timings"]
    assert row["metric"] == "wer" and row["batched_utt_per_s"] > 0 and row["single_utt_per_s"] > 0
