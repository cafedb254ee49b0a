"""Weight specs of MOVA's audio scorers (dnsmos), registered lazily.

* `dnsmos-p808` / `dnsmos-p835`: the DNSMOS ONNX files MOVA bundles in
  `evaluation/metrics/dnsmos/DNSMOS/` (model_v8.onnx, sig_bak_ovr.onnx), first published in
  microsoft/DNS-Challenge. The URL is MOVA's repository at the commit its protocol page names; the
  `speechmos` package (extra `metrics`) ships byte-identical copies, which `metrics.dnsmos` uses in
  place when the cache holds none (after checking the sha256 below).
"""

from __future__ import annotations

from nava_eval.metrics.weights import WeightSpec, register_weight

MOVA_COMMIT = "595a97691123e8356a65ba9fdeee23ae81aaa471"
_MOVA_RAW = f"https://github.com/OpenMOSS/MOVA/raw/{MOVA_COMMIT}/evaluation/metrics/dnsmos/DNSMOS"
_PIN = (
    "sha256 and size of the files in OpenMOSS/MOVA at that commit (git blob 15f1da4d… and 814b8dc6…), "
    "equal to speechmos 0.0.1.1's dnsmos_models/ (measured)"
)

MOVA_AUDIO_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="dnsmos-p808",
        filename="model_v8.onnx",
        url=f"{_MOVA_RAW}/model_v8.onnx",
        license="MIT (microsoft/DNS-Challenge DNSMOS; speechmos LICENSE.txt, Copyright Microsoft)",
        used_by=("dnsmos",),
        sha256="9246480c58567bc6affd4200938e77eef49468c8bc7ed3776d109c07456f6e91",
        size=224860,
        pin_source=_PIN,
        description="DNSMOS P.808 MOS network (log-mel [N, 900, 120] → MOS), run with onnxruntime",
        subdir="dnsmos",
    ),
    WeightSpec(
        name="dnsmos-p835",
        filename="sig_bak_ovr.onnx",
        url=f"{_MOVA_RAW}/sig_bak_ovr.onnx",
        license="MIT (microsoft/DNS-Challenge DNSMOS; speechmos LICENSE.txt, Copyright Microsoft)",
        used_by=("dnsmos",),
        sha256="269fbebdb513aa23cddfbb593542ecc540284a91849ac50516870e1ac78f6edd",
        size=1157965,
        pin_source=_PIN,
        description="DNSMOS P.835 network (raw 9.01 s window [N, 144160] → SIG, BAK, OVRL before the "
        "polynomial mapping), run with onnxruntime",
        subdir="dnsmos",
    ),
)

for _spec in MOVA_AUDIO_WEIGHTS:
    register_weight(_spec)
