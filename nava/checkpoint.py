"""Strict checkpoint loading and saving for NavaModel (`NAVA.safetensors` and its fp8 variant).

Only safetensors is read (never pickle). The model is built on the meta device and each tensor is read
from the memory-mapped file, converted and assigned in place, so peak memory is one model plus one
tensor. Every key of the file must match the model exactly in name and shape: a wrong, truncated or
partial file fails with one error naming the first offending keys and the file.

Dtype policy: fp32 on CPU; bf16 weights with bf16 autocast on CUDA; fp8 weight-only files keep the block
Linears in float8_e4m3fn with a bf16 per-row `.weight_scale`, dequantised on the fly.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nava_eval.errors import UserError
from nava_eval.nava.config import NavaConfig
from nava_eval.nava.fp8 import FP8_MAX, check_gemm, dequant_linear, scaled_mm_linear
from nava_eval.nava.modeling.model import NavaModel

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "backbone."
WEIGHT_DTYPES = ("auto", "fp32", "bf16", "fp8_e4m3fn")
_FP8_STORED = "F8_E4M3"
_FLOAT_STORED = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
# Only the Linears of the transformer blocks are quantized in the release's fp8 file.
_FP8_ELIGIBLE = re.compile(
    r"^(double_blocks|single_blocks|double_final_blocks)\.\d+\.(self_attn|cross_attn|ffn)\."
)
_REPORT_FIRST = 5

Shape = tuple[int, ...]


class CheckpointError(UserError, ValueError):
    """The file is not a checkpoint of this model (or not in the requested dtype)."""


@dataclass(frozen=True)
class KeyReport:
    """Differences between the tensors a model expects and those a file holds."""

    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[tuple[str, Shape, Shape], ...]  # (name, expected shape, found shape)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = _REPORT_FIRST) -> str:
        def first(names: list[str], count: int) -> str:
            more = f" (+{count - limit} more)" if count > limit else ""
            return ", ".join(names[:limit]) + more

        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing: {first(list(self.missing), len(self.missing))}")
        if self.unexpected:
            parts.append(
                f"{len(self.unexpected)} unexpected: {first(list(self.unexpected), len(self.unexpected))}"
            )
        if self.mismatched:
            shown = [f"{n} expected {list(e)} found {list(f)}" for n, e, f in self.mismatched]
            parts.append(f"{len(self.mismatched)} with wrong shape: {first(shown, len(shown))}")
        return "; ".join(parts) if parts else "all keys and shapes match"


def compare_keys(expected: Mapping[str, Shape], found: Mapping[str, Shape]) -> KeyReport:
    """Name-by-name comparison; lists keep the expected (registration) order, then the file's."""
    return KeyReport(
        missing=tuple(k for k in expected if k not in found),
        unexpected=tuple(k for k in found if k not in expected),
        mismatched=tuple(
            (k, tuple(expected[k]), tuple(found[k]))
            for k in expected
            if k in found and tuple(expected[k]) != tuple(found[k])
        ),
    )


# ------------------------------------------------------------------------------------------------------
# fp8 weight-only Linear


class Fp8Linear(nn.Module):
    """Linear whose weight is float8_e4m3fn with a per-output-row bf16 scale.

    `gemm` picks the product (nava.fp8): "dequant" (the release: dequantised per call, bf16 GEMM) or
    "scaled_mm" (opt-in real fp8 GEMM, see `set_fp8_gemm`).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool, scale_shape: Shape) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(
            torch.empty(out_features, in_features, dtype=torch.float8_e4m3fn), requires_grad=False
        )
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.register_buffer("weight_scale", torch.empty(scale_shape, dtype=torch.bfloat16))
        self.gemm = "dequant"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The activation dtype decides the compute dtype (fp32 on CPU), as under autocast on CUDA.
        dtype = (
            torch.get_autocast_dtype("cuda") if x.is_cuda and torch.is_autocast_enabled("cuda") else x.dtype
        )
        product = scaled_mm_linear if self.gemm == "scaled_mm" else dequant_linear
        return product(x, self.weight, self.weight_scale, self.bias, dtype)


def set_fp8_gemm(model: nn.Module, mode: str) -> int:
    """Switch every Fp8Linear of `model` to `mode` ("dequant" | "scaled_mm"); returns how many."""
    check_gemm(mode)
    layers = [m for m in model.modules() if isinstance(m, Fp8Linear)]
    for layer in layers:
        layer.gemm = mode
    return len(layers)


def quantize_fp8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row fp8: scale_i = max|w_i| / 448 (bf16), q = w / scale. Returns (q [out, in], scale [out])."""
    scale = (weight.float().abs().amax(dim=1) / FP8_MAX).clamp(min=1e-12).to(torch.bfloat16)
    quantized = (weight.float() / scale.float()[:, None]).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return quantized, scale


def fp8_state_dict(model: NavaModel) -> dict[str, torch.Tensor]:
    """The release's fp8 layout of a model: block Linears quantized, everything else bf16 (unprefixed keys)."""
    out: dict[str, torch.Tensor] = {}
    linears = {
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and _FP8_ELIGIBLE.match(name + ".")
    }
    for key, tensor in model.state_dict().items():
        module = key.rsplit(".", 1)[0]
        if module in linears and key.endswith(".weight"):
            out[key], out[f"{module}.weight_scale"] = quantize_fp8(tensor)
        else:
            out[key] = tensor.to(torch.bfloat16)
    return out


def quantize_linears_fp8(model: NavaModel) -> int:
    """Replace the block Linears of a live model by Fp8Linears (the release's fp8 layout), in place.

    Same quantisation as `fp8_state_dict`, on the model's own device; returns how many were replaced.
    """
    names = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and _FP8_ELIGIBLE.match(name + ".")
    ]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        linear = getattr(parent, child)
        quantized, scale = quantize_fp8(linear.weight.detach())
        with torch.device("meta"):
            layer = Fp8Linear(
                linear.in_features, linear.out_features, linear.bias is not None, tuple(scale.shape)
            )
        layer.weight = nn.Parameter(quantized, requires_grad=False)
        layer.weight_scale = scale
        if linear.bias is not None:
            layer.bias = nn.Parameter(linear.bias.detach().to(torch.bfloat16), requires_grad=False)
        setattr(parent, child, layer)
    return len(names)


# ------------------------------------------------------------------------------------------------------
# building, reading, loading


def build_model(config: NavaConfig, device: str | torch.device = "meta") -> NavaModel:
    """Construct without initialising real memory when device is "meta" (6.3 B parameters cost nothing)."""
    with torch.device(device):
        return NavaModel(config)


@torch.no_grad()
def materialize_random(
    model: nn.Module, device: str | torch.device, dtype: torch.dtype = torch.float32, seed: int = 0
) -> nn.Module:
    """Give a meta-built model real, seeded random weights on `device` (for speed measurements).

    Weight matrices and kernels ~ N(0, 1/fan_in), norm scales 1, biases 0, the modulation tables as
    constructed (N(0, 1/D)), anything else N(0, 0.02): activations keep their scale through the depth
    and no tensor is all zeros (zeros run faster than real data). Not the official initialisation
    (`NavaModel.init_weights` is); every 6.3 B parameters cost only their memory on `device`.
    """
    device = torch.device(device)
    model.to(dtype)  # still on meta: free, and the device then holds only the final dtype
    model.to_empty(device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    for name, param in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "modulation":
            param.normal_(0.0, param.shape[-1] ** -0.5, generator=gen)
        elif param.dim() >= 2 and leaf == "weight":
            fan_in = param[0].numel()
            param.normal_(0.0, fan_in**-0.5, generator=gen)
        elif leaf == "weight":  # 1-D: LayerNorm / RMSNorm scales
            param.fill_(1.0)
        elif leaf == "bias":
            param.zero_()
        else:
            param.normal_(0.0, 0.02, generator=gen)
    return model


def expected_keys(model: nn.Module) -> dict[str, Shape]:
    """Checkpoint names (with the `backbone.` prefix) and shapes, in registration order."""
    return {CHECKPOINT_PREFIX + k: tuple(v.shape) for k, v in model.state_dict().items()}


@dataclass(frozen=True)
class CheckpointHeader:
    path: Path
    shapes: dict[str, Shape]
    dtypes: dict[str, str]  # safetensors dtype names, e.g. "F32", "BF16", "F8_E4M3"

    @property
    def is_fp8(self) -> bool:
        return any(d == _FP8_STORED for d in self.dtypes.values())


@contextlib.contextmanager
def _open(path: Path) -> Iterator[object]:
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.suffix != ".safetensors":
        raise CheckpointError(
            f"{path}: only .safetensors checkpoints are read (pickle files are never loaded)"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            yield handle
    except SafetensorError as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from err


def read_header(path: str | Path) -> CheckpointHeader:
    """Names, shapes and stored dtypes from the header only (no tensor data is read)."""
    path = Path(path)
    shapes: dict[str, Shape] = {}
    dtypes: dict[str, str] = {}
    with _open(path) as handle:
        for key in handle.keys():
            tensor_slice = handle.get_slice(key)
            shapes[key] = tuple(tensor_slice.get_shape())
            dtypes[key] = tensor_slice.get_dtype()
    return CheckpointHeader(path=path, shapes=shapes, dtypes=dtypes)


def resolve_weight_dtype(requested: str, header: CheckpointHeader, device: torch.device) -> str:
    """ "auto" picks fp8 for an fp8 file, else fp32 on CPU and bf16 on CUDA; impossible requests fail."""
    if requested not in WEIGHT_DTYPES:
        raise CheckpointError(f"unknown weight dtype {requested!r}; valid: {', '.join(WEIGHT_DTYPES)}")
    if header.is_fp8 and requested not in ("auto", "fp8_e4m3fn"):
        first = next(k for k, d in header.dtypes.items() if d == _FP8_STORED)
        raise CheckpointError(
            f"{header.path} holds fp8 weights (first: {first}); they cannot be loaded as {requested}: "
            "use --weight-dtype fp8_e4m3fn or auto, or the full-precision NAVA.safetensors"
        )
    if requested == "fp8_e4m3fn" and not header.is_fp8:
        raise CheckpointError(
            f"{header.path} has no fp8 tensors; --weight-dtype fp8_e4m3fn needs NAVA_fp8.safetensors"
        )
    if requested == "auto":
        if header.is_fp8:
            return "fp8_e4m3fn"
        return "bf16" if device.type == "cuda" else "fp32"
    return requested


def _swap_fp8_linears(model: NavaModel, header: CheckpointHeader) -> list[str]:
    """Replace each Linear whose file weight is fp8 by an Fp8Linear; returns offending fp8 keys, if any."""
    bad: list[str] = []
    for key, dtype in header.dtypes.items():
        if dtype != _FP8_STORED:
            continue
        name = key.removeprefix(CHECKPOINT_PREFIX)
        module_name = name.rsplit(".", 1)[0]
        parent_name, _, child = module_name.rpartition(".")
        try:
            parent = model.get_submodule(parent_name)
            linear = getattr(parent, child)
        except AttributeError:
            bad.append(key)
            continue
        scale_shape = header.shapes.get(f"{CHECKPOINT_PREFIX}{module_name}.weight_scale", (0,))
        if (
            not name.endswith(".weight")
            or not isinstance(linear, nn.Linear)
            or not _FP8_ELIGIBLE.match(module_name + ".")
            or scale_shape not in ((linear.out_features,), (linear.out_features, 1))
        ):
            bad.append(key)
            continue
        with torch.device("meta"):
            setattr(
                parent,
                child,
                Fp8Linear(linear.in_features, linear.out_features, linear.bias is not None, scale_shape),
            )
    return bad


def _assign(model: nn.Module, name: str, value: torch.Tensor) -> None:
    module_name, _, leaf = name.rpartition(".")
    module = model.get_submodule(module_name)
    if leaf in module._parameters:
        module._parameters[leaf] = nn.Parameter(value, requires_grad=False)
    elif leaf in module._buffers:
        module._buffers[leaf] = value
    else:  # unreachable after compare_keys; kept so a future refactor cannot load silently
        raise CheckpointError(f"{name} is neither a parameter nor a buffer")


def load_model(
    path: str | Path,
    config: NavaConfig,
    *,
    device: str | torch.device = "cpu",
    weight_dtype: str = "auto",
    sp_size: int = 1,
) -> NavaModel:
    """Build `config` and fill it strictly from a safetensors checkpoint; returns the model in eval mode.

    sp_size: the Ulysses group size the model will run with, checked against the head count before
    anything is read.
    """
    config.check_sp_size(sp_size)
    device = torch.device(device)
    header = read_header(path)
    resolved = resolve_weight_dtype(weight_dtype, header, device)
    model = build_model(config, "meta")
    bad_fp8 = _swap_fp8_linears(model, header) if resolved == "fp8_e4m3fn" else []
    expected = expected_keys(model)
    report = compare_keys(expected, header.shapes)
    bad_dtype = [
        k for k, d in header.dtypes.items() if d not in _FLOAT_STORED and d != _FP8_STORED and k in expected
    ]
    if bad_fp8 or bad_dtype or not report.ok:
        problems = [report.describe()] if not report.ok else []
        if bad_fp8:
            problems.append(
                f"fp8 tensors where the model has no quantizable Linear: {', '.join(bad_fp8[:_REPORT_FIRST])}"
            )
        if bad_dtype:
            problems.append(f"non-float tensors: {', '.join(bad_dtype[:_REPORT_FIRST])}")
        hint = ""
        if report.unexpected and not any(k.startswith(CHECKPOINT_PREFIX) for k in header.shapes):
            hint = f" (no key starts with {CHECKPOINT_PREFIX!r}: not a NAVA release checkpoint)"
        raise CheckpointError(f"{header.path} does not match the model: {'; '.join(problems)}{hint}")

    float_dtype = (
        torch.float32
        if resolved == "fp32" or (resolved == "fp8_e4m3fn" and device.type != "cuda")
        else torch.bfloat16
    )
    with _open(header.path) as handle:
        for key in expected:
            tensor = handle.get_tensor(key)
            if tensor.dtype == torch.float8_e4m3fn or key.endswith(".weight_scale"):
                value = tensor.to(device)  # stays fp8 / bf16 scale
            else:
                value = tensor.to(device=device, dtype=float_dtype)
            _assign(model, key.removeprefix(CHECKPOINT_PREFIX), value)
    logger.info("loaded %d tensors from %s as %s on %s", len(expected), header.path, resolved, device)
    return model.eval()


def save_model(model: NavaModel, path: str | Path, dtype: torch.dtype | None = None) -> None:
    """Write the model in the release layout (`backbone.` prefix); dtype converts floating tensors."""
    from safetensors.torch import save_file

    tensors = {
        CHECKPOINT_PREFIX + k: (
            v.to(dtype)
            if dtype is not None and v.is_floating_point() and v.dtype != torch.float8_e4m3fn
            else v
        )
        .detach()
        .contiguous()
        .cpu()
        for k, v in model.state_dict().items()
    }
    save_file(tensors, str(path), metadata={"format": "pt"})


def save_state_dict(state_dict: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Write unprefixed tensors (e.g. from fp8_state_dict) in the release layout."""
    from safetensors.torch import save_file

    save_file(
        {CHECKPOINT_PREFIX + k: v.contiguous().cpu() for k, v in state_dict.items()},
        str(path),
        metadata={"format": "pt"},
    )


def inference_autocast(device: str | torch.device) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CUDA (the release's precision); a no-op on CPU, which runs fp32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
