"""Strict safetensors loading, key reports, dtype policy and the fp8 weight-only format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from nava_eval.nava.checkpoint import (
    CHECKPOINT_PREFIX,
    CheckpointError,
    Fp8Linear,
    build_model,
    compare_keys,
    count_parameters,
    expected_keys,
    fp8_state_dict,
    load_model,
    quantize_fp8,
    read_header,
    save_model,
    save_state_dict,
)
from nava_eval.nava.config import NavaConfig
from nava_eval.nava.verify.model import read_key_list

# Small enough to save and reload in milliseconds, still with both block types.
SMALL = NavaConfig.for_model(
    "nava-tiny",
    dim=64,
    ffn_dim=96,
    freq_dim=16,
    text_dim=32,
    num_layers=2,
    num_double_layers=1,
    num_single_layers=1,
)


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.randn(1, 48, 2, 4, 4, generator=gen),
        torch.randn(1, 7, 128, generator=gen),
        torch.tensor([500]),
        torch.randn(1, 5, SMALL.text_dim, generator=gen),
    )


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = build_model(SMALL, "cpu").eval()
    path = tmp_path_factory.mktemp("ckpt") / "small.safetensors"
    save_model(model, path)
    return path, model


def test_nava_6b_on_meta_matches_release_key_list(shared_dir: Path) -> None:
    listed, total = read_key_list(shared_dir / "reference" / "nava_6b_keys.tsv")
    model = build_model(NavaConfig.for_model("nava-6b"), "meta")
    keys = expected_keys(model)
    assert list(keys.items()) == list(listed.items())  # names, shapes and order
    assert len(keys) == 1052
    assert count_parameters(model) == 6_296_995_520 == total
    assert all(k.startswith(CHECKPOINT_PREFIX) for k in keys)


def test_round_trip_is_exact_and_fp32_on_cpu(small_file: tuple[Path, torch.nn.Module]) -> None:
    path, reference = small_file
    loaded = load_model(path, SMALL)
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in loaded.parameters())
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    with torch.no_grad():
        a, b = reference(*_inputs()), loaded(*_inputs())
    assert torch.equal(a.video, b.video) and torch.equal(a.audio, b.audio)


def test_bf16_weights_run_and_stay_close(small_file: tuple[Path, torch.nn.Module]) -> None:
    path, reference = small_file
    loaded = load_model(path, SMALL, weight_dtype="bf16")
    assert all(p.dtype == torch.bfloat16 for p in loaded.parameters())
    with torch.no_grad():
        ref, out = reference(*_inputs()), loaded(*_inputs())
    assert out.video.dtype == torch.bfloat16
    scale = ref.video.abs().max()
    assert (out.video.float() - ref.video).abs().max() < 0.05 * scale


def _rewrite(src: Path, dst: Path, edit) -> Path:
    tensors = load_file(str(src))
    edit(tensors)
    save_file(tensors, str(dst))
    return dst


def test_missing_key_is_named_with_the_file(small_file, tmp_path: Path) -> None:
    path, _ = small_file
    name = CHECKPOINT_PREFIX + "single_blocks.0.ffn.2.bias"
    bad = _rewrite(path, tmp_path / "missing.safetensors", lambda t: t.pop(name))
    with pytest.raises(
        CheckpointError, match=r"missing\.safetensors.*1 missing: backbone\.single_blocks\.0\.ffn\.2\.bias"
    ):
        load_model(bad, SMALL)


def test_unexpected_and_misshaped_keys_are_named(small_file, tmp_path: Path) -> None:
    path, _ = small_file

    def edit(t: dict) -> None:
        t[CHECKPOINT_PREFIX + "extra.weight"] = torch.zeros(3)
        t[CHECKPOINT_PREFIX + "head.head.bias"] = torch.zeros(5)

    bad = _rewrite(path, tmp_path / "odd.safetensors", edit)
    with pytest.raises(CheckpointError) as err:
        load_model(bad, SMALL)
    message = str(err.value)
    assert "1 unexpected: backbone.extra.weight" in message
    assert "backbone.head.head.bias expected [192] found [5]" in message


def test_other_model_is_refused_with_prefix_hint(small_file, tmp_path: Path) -> None:
    path, _ = small_file
    bad = _rewrite(
        path, tmp_path / "noprefix.safetensors", lambda t: t.update({k[9:]: t.pop(k) for k in list(t)})
    )
    with pytest.raises(CheckpointError, match="no key starts with 'backbone.'"):
        load_model(bad, SMALL)
    with pytest.raises(CheckpointError, match="wrong shape"):  # a checkpoint of a different size
        load_model(path, NavaConfig.for_model("nava-tiny"))


def test_truncated_and_pickle_files_are_refused(small_file, tmp_path: Path) -> None:
    path, _ = small_file
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.safetensors"):
        load_model(truncated, SMALL)
    pickle = tmp_path / "NAVA.ckpt"
    pickle.write_bytes(b"\x80\x04not loaded")
    with pytest.raises(CheckpointError, match="pickle files are never loaded"):
        load_model(pickle, SMALL)


def test_compare_keys_orders_report() -> None:
    report = compare_keys({"a": (1,), "b": (2,), "c": (3,)}, {"a": (1,), "c": (4,), "d": (1,)})
    assert report.missing == ("b",) and report.unexpected == ("d",)
    assert report.mismatched == (("c", (3,), (4,)),)
    assert not report.ok and compare_keys({"a": (1,)}, {"a": (1,)}).ok


def test_quantize_fp8_error_is_within_e4m3_precision() -> None:
    weight = torch.randn(32, 48, generator=torch.Generator().manual_seed(1))
    quantized, scale = quantize_fp8(weight)
    assert quantized.dtype == torch.float8_e4m3fn and scale.dtype == torch.bfloat16 and scale.shape == (32,)
    dequantized = quantized.float() * scale.float()[:, None]
    # 3 mantissa bits: relative rounding error <= 2^-4 for normal values, plus the bf16 scale's rounding.
    row_max = weight.abs().amax(dim=1, keepdim=True)
    assert ((dequantized - weight).abs() <= 0.07 * weight.abs() + 0.02 * row_max).all()


@pytest.fixture(scope="module")
def fp8_file(small_file, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, model = small_file
    path = tmp_path_factory.mktemp("fp8") / "small_fp8.safetensors"
    save_state_dict(fp8_state_dict(model), path)
    return path


def test_fp8_file_auto_detected_and_close(small_file, fp8_file: Path) -> None:
    _, reference = small_file
    header = read_header(fp8_file)
    assert header.is_fp8
    fp8_keys = [k for k, d in header.dtypes.items() if d == "F8_E4M3"]
    # 1 alignment block: 16 self/cross Linears + 2 FFN; 1 fusion block: 8 + 2.
    assert len(fp8_keys) == 28 and all(".weight_scale" not in k for k in fp8_keys)
    model = load_model(fp8_file, SMALL)  # auto
    fp8_layers = [m for m in model.modules() if isinstance(m, Fp8Linear)]
    assert len(fp8_layers) == 28
    assert all(layer.weight.dtype == torch.float8_e4m3fn for layer in fp8_layers)
    with torch.no_grad():
        ref, out = reference(*_inputs()), model(*_inputs())
    assert (out.video - ref.video).abs().max() < 0.1 * ref.video.abs().max()
    assert (out.audio - ref.audio).abs().max() < 0.1 * ref.audio.abs().max()


def test_fp8_file_with_bf16_request_is_a_clear_error(fp8_file: Path, small_file) -> None:
    with pytest.raises(
        CheckpointError, match=r"small_fp8\.safetensors holds fp8 weights .*cannot be loaded as bf16"
    ):
        load_model(fp8_file, SMALL, weight_dtype="bf16")
    path, _ = small_file
    with pytest.raises(CheckpointError, match="has no fp8 tensors"):
        load_model(path, SMALL, weight_dtype="fp8_e4m3fn")
    with pytest.raises(CheckpointError, match="unknown weight dtype"):
        load_model(path, SMALL, weight_dtype="int4")


def test_fp8_outside_block_linears_is_refused(small_file, tmp_path: Path) -> None:
    _, model = small_file
    state = fp8_state_dict(model)
    state["text_embedding.0.weight"], state["text_embedding.0.weight_scale"] = quantize_fp8(
        state["text_embedding.0.weight"]
    )
    path = tmp_path / "badfp8.safetensors"
    save_state_dict(state, path)
    with pytest.raises(CheckpointError, match="no quantizable Linear: backbone.text_embedding.0.weight"):
        load_model(path, SMALL)


def test_sequence_parallel_size_is_checked_before_reading(tmp_path: Path) -> None:
    # The file does not exist: the head-count error must come first.
    with pytest.raises(ValueError, match="does not divide num_heads 2"):
        load_model(tmp_path / "absent.safetensors", SMALL, sp_size=3)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "absent.safetensors", SMALL, sp_size=2)
