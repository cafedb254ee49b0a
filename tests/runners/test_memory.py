"""The GPU-memory estimator's arithmetic and doctor's memory table with a faked GPU list."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from nava_eval.runners import memory as M
from nava_eval.runners.doctor import print_memory_table


def test_token_counts_at_the_versebench_shape() -> None:
    # 1280×704 → latent 80×44 → patch 2×2 → 40×22 per frame; 145 pixel frames at 24 fps → ceil(151.04) audio.
    assert M.token_counts(1280, 704, 37) == (37 * 22 * 40, 152)
    assert M.token_counts(1280, 704, 37, video=False) == (0, 152)


def test_activation_bytes_follow_the_stated_formula() -> None:
    # dim 8, ffn 100: per token 8·8·2 = 128 persistent + max(attention 4·8·2 + 2·8·8 = 192, ffn 2·100·2 = 400).
    assert M.dit_activation_bytes(8, 100, 10, 2, sp=1, passes_per_forward=1) == 12 * (128 + 400)
    # SP 2: 6 local tokens, + the full-sequence modulation of the 6 others (6·8·2 each), × 3 passes.
    assert M.dit_activation_bytes(8, 100, 10, 2, sp=2, passes_per_forward=3) == 3 * (6 * 528 + 6 * 96)
    # A wide model where attention outgrows the FFN: the SP all-to-all buffers count.
    # attention 4·100·2 + 2·100·8 + 6·100·2 = 3600 > ffn 40; 2 local tokens; 2 others × 6·100·2.
    assert M.dit_activation_bytes(100, 10, 4, 0, sp=2, passes_per_forward=1) == 2 * (1600 + 3600) + 2 * 1200


def test_decode_bytes_whole_frame_and_tile() -> None:
    assert M.decode_bytes(1280, 704, tiled=False) == 4 * 352 * 640 * 256 * 4 * 6
    assert M.decode_bytes(1280, 704, tiled=True) == 4 * 176 * 320 * 256 * 4 * 6  # one 22×40 latent tile
    assert M.decode_bytes(64, 64, tiled=True) == M.decode_bytes(64, 64, tiled=False)  # smaller than a tile


def _reference_total(shared_dir: Path, name: str) -> int:
    if name == "nava-6b":
        header = (shared_dir / "reference" / "nava_6b_keys.tsv").read_text().splitlines()[0]
        return int(header.split("total_params=")[1].split()[0])
    from safetensors import safe_open

    with safe_open(shared_dir / "fixtures" / "nava_tiny" / "weights.safetensors", "pt") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())


@pytest.mark.slow
@pytest.mark.parametrize("model", ["nava-tiny", "nava-6b"])
def test_parameter_counts_match_the_official_state_dicts(shared_dir: Path, model: str) -> None:
    total, block_linear = M.dit_parameter_counts(model)
    assert total == _reference_total(shared_dir, model)  # 6,296,995,520 / 9,385,920 (official code)
    if model == "nava-6b":
        expected = 0
        for line in (shared_dir / "reference" / "nava_6b_keys.tsv").read_text().splitlines()[1:]:
            key, shape, _ = line.split("\t")
            dims = json.loads(shape)
            if "blocks." in key and key.endswith(".weight") and len(dims) == 2:
                expected += math.prod(dims)
        assert block_linear == expected


@pytest.mark.slow
def test_versebench_estimate_adds_up_and_switches_lower_it() -> None:
    est = M.estimate("versebench-bf16")
    total, _ = M.dit_parameter_counts("nava-6b")
    assert est.dit_weights == total * 2 and est.t5_weights == M.t5_parameter_count() * 2
    assert est.passes == 4 and (est.video_tokens, est.audio_tokens) == (32560, 152)
    assert est.dit_activations == M.dit_activation_bytes(3072, 14336, 32560, 152, 1, 4)
    assert est.peak == (
        est.dit_weights
        + est.t5_weights
        + est.vae_weights
        + max(est.dit_activations, est.decode)
        + est.overhead
    )
    offload = M.estimate("versebench-bf16", M.MemorySwitches(t5_offload=True))
    assert est.peak - offload.peak == est.t5_weights
    sequential = M.estimate("versebench-bf16", M.MemorySwitches(cfg_batch=1))
    assert sequential.dit_activations * 4 == est.dit_activations
    fp8 = M.estimate("versebench")  # NAVA's VerseBench script: the fp8 checkpoint
    assert fp8.dit_weights < est.dit_weights and M.estimate("seedtts").decode == 0


def _faked_doctor_output(gpus: list[M.GpuInfo]) -> str:
    console = Console(record=True, width=220, force_terminal=False)
    print_memory_table(gpus, console=console)
    return console.export_text()


@pytest.mark.slow
def test_doctor_memory_table_with_faked_gpus() -> None:
    versebench = M.estimate("versebench")
    roomy = M.GpuInfo("NVIDIA H200", 141 * M.GIB)
    tight = M.GpuInfo("NVIDIA A100-SXM4-40GB", 40 * M.GIB)
    tiny = M.GpuInfo("Small GPU", 8 * M.GIB)
    text = _faked_doctor_output([roomy, tight, tight, tiny])
    rows = {
        line.split("│")[1].strip() + "|" + line.split("│")[2].strip(): line
        for line in text.splitlines()
        if line.count("│") >= 5
    }
    assert f"{versebench.peak / M.GIB:.1f} GiB" in rows["versebench|NVIDIA H200 (141 GiB)"]
    assert "none needed" in rows["versebench|NVIDIA H200 (141 GiB)"]
    # The bf16 variant needs a switch on a 40 GiB card; the fp8 preset (NAVA's VerseBench script) does not.
    assert "none needed" in rows["versebench|NVIDIA A100-SXM4-40GB (40 GiB)"]
    advice = M.advise("versebench-bf16", tight, gpu_count=4)
    assert not advice.fits_by_default and advice.fits and advice.switches[0] == "--t5-offload"
    assert " ".join(advice.switches) in rows["versebench-bf16|NVIDIA A100-SXM4-40GB (40 GiB)"]
    assert (
        "no" in rows["versebench|Small GPU (8 GiB)"]
        and "use a larger GPU" in rows["versebench|Small GPU (8 GiB)"]
    )
    assert len([r for r in rows if r.startswith("versebench|")]) == 3  # one row per GPU model, not per device
    assert "no CUDA GPU found" in _faked_doctor_output([])
