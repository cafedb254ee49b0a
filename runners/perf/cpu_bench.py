"""Speed benchmarks. Model part: one NavaModel forward, timed, with tokens/s and (on GPU) FLOP/s ÷ peak.

FLOPs are counted analytically, as agreed for this project: 2·params·tokens for the matmuls plus
4·layers·tokens²·dim for attention scores and values. It overcounts a little (cross-attention k/v and
the embeddings touch fewer tokens) and is meant for comparing runs, not for absolute roofline claims.
Every result records the machine so numbers are only compared within one run or one machine.
"""

from __future__ import annotations

import logging
import platform
import statistics
import time
from dataclasses import dataclass

import torch

from nava_eval.nava.checkpoint import build_model, count_parameters, inference_autocast
from nava_eval.nava.config import NavaConfig

logger = logging.getLogger(__name__)

# A mid-size member of the family: head dim 128 as the release, a third of its width, 6 of its 30 blocks.
BENCH_CONFIGS: dict[str, NavaConfig] = {
    "mid": NavaConfig.for_model(
        "nava-6b", dim=1024, ffn_dim=4096, num_heads=8, num_layers=6, num_double_layers=2, num_single_layers=4
    ),
}

# Dense bf16 tensor-core peaks (FLOP/s) from the vendors' datasheets, matched by device-name substring.
PEAK_BF16_FLOPS: dict[str, float] = {
    "H200": 989e12,
    "H100 SXM": 989e12,
    "H100 NVL": 835e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,  # an H100 whose name does not say the form factor: assume SXM
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 70e12,
}


@dataclass(frozen=True)
class MachineInfo:
    cpu: str
    cpu_threads: int
    torch_version: str
    device: str
    device_name: str

    @classmethod
    def collect(cls, device: torch.device) -> MachineInfo:
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
        return cls(_cpu_name(), torch.get_num_threads(), torch.__version__, str(device), name)


@dataclass(frozen=True)
class ForwardTiming:
    label: str  # e.g. "sdpa fp32"
    backend: str
    dtype: str
    seconds: float  # median over repeats
    seconds_all: tuple[float, ...]
    tokens_per_s: float
    flops_per_s: float
    peak_fraction: float | None  # achieved ÷ peak; GPU only


@dataclass(frozen=True)
class ModelBenchResult:
    machine: MachineInfo
    config_name: str
    num_parameters: int
    num_layers: int
    dim: int
    video_tokens: int
    audio_tokens: int
    flops: float  # per forward, analytic
    timings: tuple[ForwardTiming, ...]  # first = the measured setting, the rest = references

    @property
    def tokens(self) -> int:
        return self.video_tokens + self.audio_tokens

    def ratio(self, reference: int = 1) -> float:
        """Speed of the measured setting relative to a reference timing (>1 = faster)."""
        return self.timings[reference].seconds / self.timings[0].seconds


def forward_flops(num_parameters: int, num_layers: int, dim: int, tokens: int) -> float:
    return 2.0 * num_parameters * tokens + 4.0 * num_layers * tokens**2 * dim


def peak_flops(device_name: str) -> float | None:
    for key, value in PEAK_BF16_FLOPS.items():
        if key in device_name:
            return value
    return None


def bench_model(
    config_name: str = "mid",
    *,
    device: str = "cpu",
    latent_grid: tuple[int, int, int] | None = None,
    audio_tokens: int | None = None,
    settings: tuple[tuple[str, str], ...] | None = None,
    repeats: int = 5,
    warmup: int = 1,
    seed: int = 0,
) -> ModelBenchResult:
    """Time one forward per (backend, dtype) setting on random weights; the first setting is the one measured.

    config_name: a key of BENCH_CONFIGS or a model preset ("nava-tiny", "nava-6b").
    latent_grid: video latent (T, H, W) before patchify; default CPU-sized or GPU-sized.
    settings: (attention backend, "fp32" | "bf16"); default SDPA vs the naive math reference, in the
    device's dtype (fp32 on CPU, bf16 on CUDA).
    """
    dev = torch.device(device)
    on_gpu = dev.type == "cuda"
    config = BENCH_CONFIGS.get(config_name) or NavaConfig.for_model(config_name)
    grid = latent_grid or ((9, 44, 80) if on_gpu else (3, 16, 16))
    n_audio = audio_tokens if audio_tokens is not None else (38 if on_gpu else 13)
    dtype_name = "bf16" if on_gpu else "fp32"
    settings = settings or (("sdpa", dtype_name), ("math", dtype_name))

    torch.manual_seed(seed)
    model = build_model(config, dev).eval()
    n_params = count_parameters(model)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    video = torch.randn(1, config.vid_in_dim, *grid, generator=gen).to(dev)
    audio = torch.randn(1, n_audio, config.audio_in_dim, generator=gen).to(dev)
    context = torch.randn(1, min(64, config.text_len), config.text_dim, generator=gen).to(dev)
    timestep = torch.tensor([500], device=dev)

    pt, ph, pw = config.patch_size
    n_video = (grid[0] // pt) * (-(-grid[1] // ph)) * (-(-grid[2] // pw))
    flops = forward_flops(n_params, config.num_layers, config.dim, n_video + n_audio)
    machine = MachineInfo.collect(dev)
    peak = peak_flops(machine.device_name) if on_gpu else None

    def run_once(backend: str, weight_dtype: str) -> float:
        model.to(torch.bfloat16 if weight_dtype == "bf16" else torch.float32)
        model.set_attention_backend(backend)
        _sync(dev)
        start = time.perf_counter()
        with torch.no_grad(), inference_autocast(dev):
            model(video, audio, timestep, context)
        _sync(dev)
        return time.perf_counter() - start

    for setting in settings:
        for _ in range(warmup):
            run_once(*setting)
    # Round-robin over the settings so load from other processes on a shared machine hits all alike.
    seconds: dict[tuple[str, str], list[float]] = {setting: [] for setting in settings}
    for _ in range(repeats):
        for setting in settings:
            seconds[setting].append(run_once(*setting))

    timings = []
    for (backend, weight_dtype), values in seconds.items():
        median = statistics.median(values)
        logger.info("bench %s %s %s: %.4f s", config_name, backend, weight_dtype, median)
        timings.append(
            ForwardTiming(
                label=f"{backend} {weight_dtype}",
                backend=backend,
                dtype=weight_dtype,
                seconds=median,
                seconds_all=tuple(values),
                tokens_per_s=(n_video + n_audio) / median,
                flops_per_s=flops / median,
                peak_fraction=None if peak is None else flops / median / peak,
            )
        )
    return ModelBenchResult(
        machine=machine,
        config_name=config_name,
        num_parameters=n_params,
        num_layers=config.num_layers,
        dim=config.dim,
        video_tokens=n_video,
        audio_tokens=n_audio,
        flops=flops,
        timings=tuple(timings),
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
