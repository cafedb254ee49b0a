"""Weight spec of the Verse-Bench KL scorer (kl), registered lazily.

* `passt-s-swa-ap476`: PaSST-S (AudioSet, mAP .476, SWA), the file hear21passt 0.0.26 downloads for
  `get_basic_model(mode="logits")` (its default arch `passt_s_swa_p16_128_ap476`) when the toolkit's
  `kl/kld_inferencer.py` builds its KLDInferencer. A plain state dict of the PaSST network's tensors,
  read with torch.load(weights_only=True) and loaded strictly into `metrics.passt_model.PasstNet`.
"""

from __future__ import annotations

from nava_eval.metrics.weights import WeightSpec, register_weight

PASST = "passt-s-swa-ap476"

KL_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name=PASST,
        filename="passt-s-f128-p16-s10-ap.476-swa.pt",
        # hear21passt/models/passt.py default_cfgs["passt_s_swa_p16_128_ap476"]["url"] (also kkoutini/PaSST).
        url="https://github.com/kkoutini/PaSST/releases/download/v0.0.1-audioset/passt-s-f128-p16-s10-ap.476-swa.pt",
        license="Apache-2.0 (kkoutini/PaSST LICENSE; hear21passt's licence)",
        used_by=("kl",),
        unpinned_reason=(
            "the authors publish no sha256 (hear21passt downloads it with check_hash=False) and the GitHub "
            "release was not reachable from the workplace that added it; one third-party project quotes "
            "sha256 302903fa8c4aee817b11dc982da0b29aaf8d11a3e722420476d0a12c9db70c2c for it, not verified here"
        ),
        description="PaSST-S AudioSet classifier (527 classes) of the Verse-Bench toolkit's KL "
        "(hear21passt get_basic_model(mode='logits')); about 330 MB",
        subdir="passt",
    ),
)

for _spec in KL_WEIGHTS:
    register_weight(_spec)
