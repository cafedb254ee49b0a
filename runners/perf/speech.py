"""Speed benchmark of the speech metrics: utterances/s for WER and SIM, batched vs one at a time.

Both settings run in the same process on the same synthetic utterances (tones of varied length
written as 16 kHz wavs), after one warm-up call that loads the models, so the ratio is the
batching speed-up on this machine. `smoke=True` (default) uses the tiny random models: the
numbers then measure the harness (decode, resample, padding, batched generate), not Whisper-large.
"""

from __future__ import annotations

import logging
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Machine:
    cpu: str
    cpu_threads: int
    torch_version: str
    device: str
    device_name: str

    @classmethod
    def collect(cls, device: str) -> Machine:
        import torch

        name = torch.cuda.get_device_name(device) if device.startswith("cuda") else _cpu_name()
        return cls(_cpu_name(), torch.get_num_threads(), torch.__version__, device, name)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass(frozen=True)
class SpeechTiming:
    metric: str
    protocol: str
    n_utterances: int
    batch_size: int
    batched_s: float
    single_s: float

    @property
    def batched_utt_per_s(self) -> float:
        return self.n_utterances / self.batched_s

    @property
    def single_utt_per_s(self) -> float:
        return self.n_utterances / self.single_s

    @property
    def speedup(self) -> float:
        return self.single_s / self.batched_s


@dataclass(frozen=True)
class SpeechBenchResult:
    machine: Machine
    audio_seconds: tuple[float, ...]
    timings: tuple[SpeechTiming, ...]


def synthetic_utterances(folder: Path, n: int, seconds: float, seed: int = 0) -> list[Path]:
    """`n` 16 kHz wavs of harmonic tones, lengths spread over 0.6-1.4 x `seconds`."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        dur = seconds * (0.6 + 0.8 * i / max(n - 1, 1))
        t = np.arange(int(16_000 * dur)) / 16_000
        f0 = rng.uniform(100, 250)
        wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5)) * 0.1
        wave = wave + 0.01 * rng.standard_normal(len(t))
        path = folder / f"utt{i:03d}.wav"
        sf.write(path, wave.astype(np.float32), 16_000)
        paths.append(path)
    return paths


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_speech(
    metrics: Sequence[str] = ("wer", "sim"),
    *,
    n_utterances: int = 16,
    seconds: float = 3.0,
    batch_size: int = 8,
    device: str = "cpu",
    smoke: bool = True,
    full_size_sim: bool = False,
) -> SpeechBenchResult:
    """Time `score_batch` over all utterances in batches of `batch_size` vs one call per utterance.

    `full_size_sim` runs SIM with the real WavLM-Large + ECAPA architecture and random weights (no
    download), which gives realistic compute per utterance without the checkpoint.
    """
    from nava_eval.metrics.base import ScoreInput, get_metric

    timings = []
    with tempfile.TemporaryDirectory(prefix="nava-bench-speech-") as tmp:
        paths = synthetic_utterances(Path(tmp), n_utterances, seconds)
        prompt = paths[0]
        items = [
            ScoreInput(
                p.stem,
                "bench",
                p,
                reference_text="the quick brown fox",
                reference_audio=prompt,
                language="en",
            )
            for p in paths
        ]
        for name in metrics:
            metric = get_metric(name, smoke=smoke, batch_size=batch_size)
            if name == "sim" and full_size_sim:
                metric.model = _full_size_random_sim(device)
                metric.protocol = "sim/wavlm-large-ecapa-v1+full-size-random-weights"
            metric.setup(device)
            metric.score_batch(items[:2])  # warm-up: lazy loads, kernels, allocator
            batched = _time(lambda m=metric: _check(m.score_batch(items)))
            single = _time(lambda m=metric: [_check(m.score_batch([it])) for it in items])
            timings.append(SpeechTiming(name, metric.protocol, len(items), batch_size, batched, single))
            log.info("%s: batched %.2fs, one at a time %.2fs", name, batched, single)
    lengths = tuple(
        round(seconds * (0.6 + 0.8 * i / max(n_utterances - 1, 1)), 3) for i in range(n_utterances)
    )
    return SpeechBenchResult(Machine.collect(device), lengths, tuple(timings))


def _full_size_random_sim(device: str):
    import torch
    from transformers import WavLMModel

    from nava_eval.metrics.ecapa_tdnn import EcapaHead
    from nava_eval.metrics.speaker_similarity import WavLMEcapa
    from nava_eval.metrics.wavlm_keymap import wavlm_large_config

    torch.manual_seed(0)
    return WavLMEcapa(WavLMModel(wavlm_large_config()), EcapaHead(), device)


def _check(outcomes: list) -> None:
    bad = [o.reason for o in outcomes if o.status != "ok"]
    if bad:
        raise RuntimeError(f"benchmark utterance not scored: {bad[0]}")
