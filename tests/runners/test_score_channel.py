"""`nava-eval score RUN --channel`: a run directory scored from another channel keeps both numbers apart.

An imported T2A run whose one output is stereo (espeak-ng speech left, noise right) and whose
speaker wav is a mono copy of the right channel: SIM under `--channel right` is the cosine of two
identical signals; the official pass (channel 0) is not, and each is cached under its own protocol.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from nava_eval.metrics.base import SMOKE_SUFFIX


def _run(tmp_path: Path) -> Path:
    from nava_eval.runners.cli.main import cli

    raw = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), "See you at the station."], check=True)
    speech, sr = sf.read(raw, dtype="float64")
    noise = 0.3 * np.random.default_rng(5).standard_normal(speech.size)
    (tmp_path / "out").mkdir()
    sf.write(tmp_path / "out" / "talk.wav", np.stack([0.8 * speech, noise], 1), sr, subtype="PCM_16")
    held, _ = sf.read(tmp_path / "out" / "talk.wav", dtype="float64")
    sf.write(tmp_path / "right.wav", held[:, 1], sr, subtype="PCM_16")
    line = {"id": "talk", "mode": "t2a", "prompt": "He says <S>See you.<E>", "spk_wavs": ["right.wav"]}
    (tmp_path / "p.jsonl").write_text(json.dumps(line) + "\n")
    run = tmp_path / "run"
    args = ["import", f"jsonl:{tmp_path / 'p.jsonl'}", str(tmp_path / "out"), "--model", "M"]
    result = CliRunner().invoke(cli, [*args, "--preset", "smoke", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    return run


def _scores(run: Path) -> dict[str, float]:
    lines = [json.loads(x) for x in (run / "scores" / "sim.jsonl").read_text().splitlines()]
    return {d["protocol"]: d["values"]["cosine"] for d in lines}


@pytest.mark.slow  # three scoring commands: about 10 s
def test_score_channel_right_is_its_own_protocol(tmp_path: Path) -> None:
    from nava_eval.runners.cli.main import cli

    run = _run(tmp_path)
    score = ["score", str(run), "--metrics", "sim", "--no-progress"]
    right = CliRunner().invoke(cli, [*score, "--channel", "right"])
    assert right.exit_code == 0, right.output
    variant = "sim/wavlm-large-ecapa-v1+channel-right" + SMOKE_SUFFIX
    assert f"[{variant}]" in right.output
    assert json.loads((run / "results.json").read_text())["metrics"]["sim"]["protocol"] == variant
    official = CliRunner().invoke(cli, score)
    assert official.exit_code == 0, official.output
    cosines = _scores(run)
    assert cosines[variant] == pytest.approx(1.0, abs=1e-5)
    assert cosines["sim/wavlm-large-ecapa-v1" + SMOKE_SUFFIX] < 0.9999
    refused = CliRunner().invoke(cli, [*score, "--channel", "scene"])
    assert refused.exit_code == 2 and "no separate speech or scene channel" in refused.output
