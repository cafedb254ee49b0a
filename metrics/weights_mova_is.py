"""Weight spec of MOVA's audio IS (audio_is), registered lazily.

* `panns-cnn14-32k`: PANNs `Cnn14_mAP=0.431.pth` (Kong et al., qiuqiangkong/audioset_tagging_cnn), the
  file MOVA's README places at `evaluation/metrics/audio_is_clap/pann_home/` and panns_inference's
  AudioTagging downloads from Zenodo record 3987831 when it is missing. A pickle holding the state
  dict under `model`; read with torch.load(weights_only=True).

MOVA's CLAP score (clap_mova) uses the `clap-630k-audioset-fusion` and `roberta-base` entries of
`weights_audio` (the same files as the Verse-Bench CLAP).
"""

from __future__ import annotations

from nava_eval.metrics.weights import WeightSpec, register_weight

PANNS_CNN14 = "panns-cnn14-32k"

MOVA_IS_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name=PANNS_CNN14,
        filename="Cnn14_mAP=0.431.pth",
        # panns_inference/inference.py AudioTagging.__init__: zenodo_path.
        url="https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth?download=1",
        license="the licence of Zenodo record 3987831 (PANNs, Kong et al. 2020; the record was not readable "
        "from the workplace that added this entry: check it there); panns_inference, which loads it, is MIT",
        used_by=("audio_is",),
        unpinned_reason="Zenodo lists only an md5 for this file and no source readable from the workplace "
        "that added it quotes a sha256; every run records the sha256 of the file it used",
        description="PANNs Cnn14, 32 kHz, 527 AudioSet classes (panns_inference AudioTagging), the "
        "classifier of MOVA's audio IS",
        subdir="panns",
    ),
)

for _spec in MOVA_IS_WEIGHTS:
    register_weight(_spec)
