"""Environment checks behind `nava-eval doctor`: each is a ✓/✗ with what to do about a ✗."""

from __future__ import annotations

import importlib
import importlib.util
import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass

from nava_eval.lazy import load


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("python", ok, platform.python_version(), "" if ok else "use Python 3.10 or newer")


def check_torch() -> list[Check]:
    try:
        import torch
    except ImportError as exc:
        return [Check("torch", False, str(exc), "pip install 'torch==2.14.1'")]
    checks = [Check("torch", True, torch.__version__)]
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        checks.append(
            Check("cuda", True, f"CUDA {torch.version.cuda}, {len(names)} GPU(s): {', '.join(names)}")
        )
    else:
        checks.append(
            Check(
                "cuda", False, "no CUDA device", "CPU works for the smoke preset; real runs need GPUs", False
            )
        )
    return checks


def find_ffmpeg() -> str | None:
    """An ffmpeg executable: the one on PATH, else imageio-ffmpeg's bundled binary."""
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None


def check_ffmpeg() -> Check:
    exe = find_ffmpeg()
    if exe is None:
        return Check("ffmpeg", False, "no ffmpeg executable", "pip install imageio-ffmpeg (bundles a binary)")
    return Check("ffmpeg", True, exe)


def check_pyav() -> Check:
    try:
        import av
    except ImportError:
        return Check("pyav", False, "not installed", "pip install av")
    return Check(
        "pyav",
        True,
        f"{av.__version__} (bundled FFmpeg {'.'.join(map(str, av.library_versions['libavcodec']))})",
    )


def check_optional(module: str, name: str, fix: str) -> Check:
    found = importlib.util.find_spec(module) is not None
    return Check(name, found, "importable" if found else "not installed", "" if found else fix, False)


def weight_checks() -> list[Check]:
    """One check per registered weight file (NAVA components and scorers)."""
    checks: list[Check] = []
    for provider in WEIGHT_CHECK_PROVIDERS:
        try:
            func: Callable[[], list[Check]] = load(provider)
        except ImportError as exc:  # lazy.BadTargetError (no such attribute) included
            checks.append(
                Check(provider, False, f"cannot load weight registry: {exc}", "reinstall nava-eval")
            )
            continue
        checks.extend(func())
    return checks


def scorer_weight_checks() -> list[Check]:
    """Scorer weights (metrics.weights registry): present in the cache or not, without hashing."""
    from nava_eval.metrics.weights import weight_statuses

    checks = []
    for status in weight_statuses(verify=False):
        used_by = ", ".join(status.spec.used_by)
        if status.present:
            checks.append(
                Check(f"weights:{status.spec.name}", True, f"{status.path} (for {used_by})", required=False)
            )
        else:
            checks.append(
                Check(
                    f"weights:{status.spec.name}",
                    False,
                    f"missing {status.path} (for {used_by})",
                    f"nava-eval weights download {status.spec.name}",
                    False,
                )
            )
    return checks


def nava_weight_checks() -> list[Check]:
    """The NAVA release files the nava-6b preset reads (HF cache or $NAVA_WEIGHTS_DIR)."""
    import os

    from nava_eval.nava.components import release_files, resolve_weights_dir

    fix = "nava-eval weights download nava (or pass --weights-dir to run/generate)"
    try:
        root = resolve_weights_dir(os.environ.get("NAVA_WEIGHTS_DIR"))
    except FileNotFoundError as exc:
        return [Check("weights:nava-6b", False, str(exc).split(";")[0], fix, False)]
    try:
        files = release_files(root)
    except FileNotFoundError as exc:
        return [Check("weights:nava-6b", False, str(exc).split(";")[0], fix, False)]
    return [Check(f"weights:nava-6b:{name}", True, str(path), required=False) for name, path in files.items()]


#: "module:function" returning a list of Check, one per weight file (NAVA components and scorers).
WEIGHT_CHECK_PROVIDERS: tuple[str, ...] = (
    "nava_eval.runners.doctor:nava_weight_checks",
    "nava_eval.runners.doctor:scorer_weight_checks",
)


def run_checks(with_weights: bool = True) -> list[Check]:
    checks = [check_python(), *check_torch(), check_ffmpeg(), check_pyav()]
    checks.append(
        check_optional("flash_attn", "flash-attn", "pip install 'nava-eval[gpu]' (needs CUDA to build)")
    )
    checks.append(check_optional("whisper", "openai-whisper", "pip install 'nava-eval[metrics]'"))
    checks.append(
        check_optional("pyiqa", "pyiqa", "pip install 'nava-eval[iqa]' (PolyForm-Noncommercial licence)")
    )
    checks.append(
        check_optional("funasr", "funasr", "pip install 'nava-eval[zh]' (Chinese ASR for Seed-TTS zh)")
    )
    if with_weights:
        checks.extend(weight_checks())
    return checks


#: Presets whose memory doctor estimates (smoke runs on the CPU).
MEMORY_PRESETS: tuple[str, ...] = ("versebench", "versebench-bf16", "seedtts")


def print_memory_table(gpus, presets=MEMORY_PRESETS, console=None, shape=None) -> None:
    """A rich table: per preset and GPU model, the estimated peak and the switches that make it fit.

    shape: (width, height, latent frames) of the clips to estimate (default: each preset's own)."""
    from rich.console import Console
    from rich.table import Table

    from nava_eval.runners.memory import GIB, estimate, memory_table

    console = console or Console(highlight=False)
    title = "Estimated peak GPU memory per sample (an estimate from parameter counts, not a measurement)"
    if shape is not None:
        title += f", at {shape[0]}x{shape[1]}, {shape[2]} latent frames"
    table = Table(title=title, title_justify="left")
    if not gpus:
        table.add_column("preset")
        table.add_column("estimated peak", justify="right")
        for preset in presets:
            table.add_row(preset, f"{estimate(preset, shape=shape).peak / GIB:.1f} GiB")
        console.print(table)
        console.print("no CUDA GPU found: run doctor on the GPU machine to see what fits")
        return
    for column in ("preset", "GPU", "estimated peak", "fits", "add these switches"):
        table.add_column(column, justify="right" if column == "estimated peak" else "left")
    for advice in memory_table(presets, gpus, shape=shape):
        gpu = f"{advice.gpu.name} ({advice.gpu.total_bytes / GIB:.0f} GiB)"
        peak = f"{advice.default_peak / GIB:.1f} GiB"
        if advice.fits_by_default:
            table.add_row(advice.preset, gpu, peak, "[green]yes[/green]", "none needed")
        elif advice.fits:
            switches = " ".join(advice.switches) + f" → {advice.peak_with_switches / GIB:.1f} GiB"
            table.add_row(advice.preset, gpu, peak, "[yellow]with switches[/yellow]", switches)
        else:
            table.add_row(
                advice.preset, gpu, peak, "[red]no[/red]",
                "even with " + (" ".join(advice.switches) or "every switch")
                + f": {advice.peak_with_switches / GIB:.1f} GiB; use a larger GPU or more GPUs with --sp",
            )  # fmt: skip
    console.print(table)
