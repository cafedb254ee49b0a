"""Section `ceiling`: the device's matrix rate and copy bandwidth, measured in the same run.

MFU elsewhere is achieved FLOP/s ÷ the bf16 GEMM rate measured here on random data (square
products, inputs rotated over several buffers so no repeat hits a warm cache), not a datasheet
number. The fp8 row is the rate of `torch._scaled_mm` with row-wise scales, the kernel the
opt-in fp8 GEMM path uses.
"""

from __future__ import annotations

import torch

from nava_eval.nava.fp8 import quantize_rows
from nava_eval.runners.perf.gpu.budget import Deadline
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.report import Measurement, SectionResult
from nava_eval.runners.perf.gpu.timing import measure

BUFFERS = 3  # input pairs rotated between products
PRODUCTS_PER_CALL = 4


def run(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> None:
    n, device, dtype = ctx.plan.matmul_size, ctx.device, ctx.compute_dtype
    gen = torch.Generator(device=device).manual_seed(0)
    pairs = [
        (
            torch.randn(n, n, device=device, dtype=dtype, generator=gen),
            torch.randn(n, n, device=device, dtype=dtype, generator=gen),
        )
        for _ in range(BUFFERS)
    ]

    def gemms() -> torch.Tensor:
        for i in range(PRODUCTS_PER_CALL):
            a, b = pairs[i % BUFFERS]
            out = a @ b
        return out

    flops = PRODUCTS_PER_CALL * 2.0 * n**3
    timing, _ = measure(gemms, device, deadline.sub(deadline.remaining() / 2), max_repeats=10)
    ctx.matmul_flops_per_s = flops / timing.seconds
    name = "bf16" if dtype == torch.bfloat16 else "fp32"
    section.add(
        Measurement(
            label=f"{name} GEMM {n}×{n}×{n}",
            seconds=timing.seconds,
            seconds_all=timing.seconds_all,
            first_s=timing.first_s,
            peak_memory_bytes=timing.peak_memory_bytes,
            flops=flops,
            flops_per_s=ctx.matmul_flops_per_s,
            mfu=1.0,
            per=f"{PRODUCTS_PER_CALL} products",
            note="the ceiling: MFU elsewhere is relative to this rate",
        )
    )
    section.checks["matmul_ceiling_tflops"] = float(f"{ctx.matmul_flops_per_s / 1e12:.4g}")
    _fp8_gemm(ctx, section, deadline, pairs)
    _copy_bandwidth(ctx, section, deadline)


def _fp8_gemm(ctx: BenchContext, section: SectionResult, deadline: Deadline, pairs) -> None:
    n, device = ctx.plan.matmul_size, ctx.device
    try:
        quantized = [(quantize_rows(a), quantize_rows(b)) for a, b in pairs]

        def fp8_gemms() -> torch.Tensor:
            for i in range(PRODUCTS_PER_CALL):
                (qa, sa), (qb, sb) = quantized[i % BUFFERS]
                out = torch._scaled_mm(
                    qa, qb.t(), scale_a=sa, scale_b=sb.reshape(1, -1), out_dtype=torch.bfloat16
                )
            return out

        timing, _ = measure(fp8_gemms, device, deadline.sub(deadline.remaining() / 2), max_repeats=10)
    except (RuntimeError, NotImplementedError, AttributeError, TypeError) as err:
        # No fp8 kernel for this device (before sm_89) or build, or a torch without _scaled_mm.
        section.notes.append(f"fp8 GEMM unavailable here: {type(err).__name__}: {str(err).splitlines()[0]}")
        return
    flops = PRODUCTS_PER_CALL * 2.0 * n**3
    section.add(
        Measurement(
            label=f"fp8 e4m3 GEMM {n}×{n}×{n} (torch._scaled_mm, row-wise scales)",
            seconds=timing.seconds,
            seconds_all=timing.seconds_all,
            first_s=timing.first_s,
            peak_memory_bytes=timing.peak_memory_bytes,
            flops=flops,
            flops_per_s=flops / timing.seconds,
            mfu=ctx.mfu(flops / timing.seconds),
            per=f"{PRODUCTS_PER_CALL} products",
            note="MFU column: ÷ the bf16 ceiling",
        )
    )


def _copy_bandwidth(ctx: BenchContext, section: SectionResult, deadline: Deadline) -> None:
    device = ctx.device
    elements = (256 if device.type == "cuda" else 4) * 2**20  # 1 GiB / 16 MiB of float32
    src = torch.randn(elements, device=device)
    dst = torch.empty_like(src)
    timing, _ = measure(lambda: dst.copy_(src), device, deadline, max_repeats=10)
    moved = 2.0 * src.numel() * src.element_size()  # read + write
    section.add(
        Measurement(
            label=f"device copy {src.numel() * 4 / 2**20:.0f} MiB",
            seconds=timing.seconds,
            seconds_all=timing.seconds_all,
            first_s=timing.first_s,
            peak_memory_bytes=timing.peak_memory_bytes,
            note=f"{moved / timing.seconds / 1e9:.0f} GB/s counting bytes read and written",
            extra={"bytes_per_s": moved / timing.seconds},
        )
    )
