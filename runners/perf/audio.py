"""Speed benchmark of the audio metrics (audiobox, clap, wer_sensevoice, dnsmos, kl, audio_is, clap_mova),
batched vs one at a time.

Both settings run in one process on the same synthetic clips (harmonic tones with noise, 16 kHz
wavs, each with a ground-truth wav, an audio prompt and a speech text), after a warm-up call that
loads the models, so the ratio is the batching speed-up on this machine. Model sizes:
* `smoke` (default): the tiny seeded networks (measures the harness: decode, resample, mel, padding);
* `full_size`: the official architectures (WavLM-base, HTSAT-tiny fusion + RoBERTa-base, PaSST-S, Cnn14) with random
  weights, no download: realistic compute per clip without the checkpoints (wer_sensevoice has no
  full-size variant without funasr and its model, so it runs as smoke there);
* `real`: the registered weights (they must be present).
dnsmos always runs its real ONNX networks (the only ones there are; 9.01 s windows batched through
onnxruntime), whatever the size.
It also times the set-level FD (exact nuclear-norm form, 1000 bootstrap resamples) on `fd_items`
random 512-d embedding pairs, the statistic `report` computes once per set.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from nava_eval.errors import InvalidValue
from nava_eval.runners.perf.speech import Machine

log = logging.getLogger(__name__)

Size = Literal["smoke", "full_size", "real"]
AUDIO_METRICS = ("audiobox", "clap", "wer_sensevoice", "dnsmos", "kl", "audio_is", "clap_mova")


@dataclass(frozen=True)
class AudioTiming:
    metric: str
    protocol: str
    n_clips: int
    batch_size: int
    batched_s: float
    single_s: float

    @property
    def batched_s_per_clip(self) -> float:
        return self.batched_s / self.n_clips

    @property
    def single_s_per_clip(self) -> float:
        return self.single_s / self.n_clips

    @property
    def speedup(self) -> float:
        return self.single_s / self.batched_s


@dataclass(frozen=True)
class FdTiming:
    n_items: int
    dims: int
    n_resamples: int
    point_s: float  # one FD of the whole set
    bootstrap_s: float  # the CI


@dataclass(frozen=True)
class AudioBenchResult:
    machine: Machine
    size: str
    clip_seconds: float
    timings: tuple[AudioTiming, ...]
    fd: FdTiming | None


def synthetic_clips(folder: Path, n: int, seconds: float, seed: int = 0) -> list[tuple[Path, Path]]:
    """`n` (generated, ground truth) 16 kHz wav pairs of harmonic tones with noise."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        t = np.arange(int(16_000 * seconds)) / 16_000
        paths = []
        for kind in ("gen", "gt"):
            f0 = rng.uniform(100, 400)
            wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5)) * 0.1
            wave = wave + 0.02 * rng.standard_normal(len(t))
            path = folder / f"{kind}{i:03d}.wav"
            sf.write(path, wave.astype(np.float32), 16_000)
            paths.append(path)
        pairs.append((paths[0], paths[1]))
    return pairs


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _check(outcomes: list) -> None:
    bad = [o.reason for o in outcomes if o.status != "ok"]
    if bad:
        raise RuntimeError(f"benchmark clip not scored: {bad[0]}")


def _full_size(metric, name: str, device: str) -> None:
    """Swap in the official architecture with random weights (no download)."""
    import tempfile as tf

    import torch

    torch.manual_seed(0)
    if name == "audiobox":
        from nava_eval.metrics import audiobox as ab

        head = ab.AudioboxHeadConfig(target_transform={a: (5.5, 1.5) for a in ab.AXES})
        metric.model = ab.AudioboxModel(ab.build_model(ab.official_wavlm_config(), head), head, device)
        metric.protocol = ab.PROTOCOL + "+full-size-random-weights"
    elif name in ("clap", "clap_mova"):
        from transformers import ClapModel

        from nava_eval.metrics import clap as C

        model = ClapModel(C.official_clap_config()).to(device).eval()
        tokenizer = C.byte_level_tokenizer(Path(tf.mkdtemp(prefix="nava-bench-tok-")))
        metric.embedder = C.ClapEmbedder(model, tokenizer, device)
        metric.protocol = type(metric).protocol + "+full-size-random-weights"
    elif name == "audio_is":
        from nava_eval.metrics import panns_cnn14 as P

        model = P.Cnn14(P.Cnn14Config.official())
        model.init_front_end()
        metric.model = model.to(device).eval()
        metric.device = device  # loaded: setup() keeps it
        metric.protocol = type(metric).protocol + "+full-size-random-weights"
    elif name == "kl":
        from nava_eval.metrics import kl as K
        from nava_eval.metrics import passt_model as pm

        metric.model = pm.load_passt(pm.seeded_state_dict(pm.OFFICIAL, 0), pm.OFFICIAL, device)
        metric.device = device  # loaded: setup() keeps it
        metric.protocol = K.PROTOCOL + "+full-size-random-weights"


def time_set_fd(n_items: int = 300, dims: int = 512, n_resamples: int = 1000, seed: int = 0) -> FdTiming:
    """Seconds for one set-level FD and its bootstrap CI on `n_items` random unit embedding pairs."""
    from nava_eval.metrics.frechet import embedding_set_fd
    from nava_eval.reports.stats import bootstrap_ci_statistic

    rng = np.random.default_rng(seed)

    def unit(x: np.ndarray) -> list[float]:
        return (x / np.linalg.norm(x)).tolist()

    items = [
        {"embedding": unit(rng.standard_normal(dims)), "reference_embedding": unit(rng.standard_normal(dims))}
        for _ in range(n_items)
    ]
    point = _time(lambda: embedding_set_fd(items))
    boot = _time(lambda: bootstrap_ci_statistic(items, embedding_set_fd, seed, n_resamples))
    return FdTiming(n_items, dims, n_resamples, point, boot)


def bench_audio(
    metrics: Sequence[str] = AUDIO_METRICS,
    *,
    n_clips: int = 8,
    seconds: float = 5.0,
    batch_size: int = 8,
    device: str = "cpu",
    size: Size = "smoke",
    fd_items: int = 300,
) -> AudioBenchResult:
    """Time `score_batch` over all clips in batches of `batch_size` vs one call per clip."""
    from nava_eval.metrics.base import ScoreInput, get_metric

    unknown = sorted(set(metrics) - set(AUDIO_METRICS))
    if unknown:
        raise InvalidValue(f"bench audio: unknown metric(s) {unknown}; valid: {', '.join(AUDIO_METRICS)}")
    timings = []
    with tempfile.TemporaryDirectory(prefix="nava-bench-audio-") as tmp:
        pairs = synthetic_clips(Path(tmp), n_clips, seconds)
        items = [
            ScoreInput(
                gen.stem,
                "set2",
                gen,
                reference_text="the quick brown fox jumps over the lazy dog",
                reference_audio=gt,
                meta={
                    "audio_prompt": ["a low hum with some noise"],
                    "official_prompt": "a low hum, some noise",
                },
            )
            for gen, gt in pairs
        ]
        for name in metrics:
            smoke = size == "smoke" or (size == "full_size" and name == "wer_sensevoice")
            options = {} if name == "wer_sensevoice" else {"batch_size": batch_size}
            metric = get_metric(name, smoke=smoke, **options)
            if size == "full_size":
                _full_size(metric, name, device)
            metric.setup(device)
            metric.score_batch(items[:2])  # warm-up: lazy loads, kernels, allocator
            batched = _time(lambda m=metric: _check(m.score_batch(items)))
            single = _time(lambda m=metric: [_check(m.score_batch([it])) for it in items])
            # wer_sensevoice transcribes one clip per funasr call, as the toolkit does: ratio ~1 by design.
            timings.append(AudioTiming(name, metric.protocol, len(items), batch_size, batched, single))
            log.info("%s: batched %.2fs, one at a time %.2fs", name, batched, single)
    fd = time_set_fd(fd_items) if fd_items > 0 else None
    return AudioBenchResult(Machine.collect(device), size, seconds, tuple(timings), fd)
