"""Weight spec of Synchformer, shared by DeSync (MOVA) and AV-A (Verse-Bench) (registered lazily)."""

from __future__ import annotations

from nava_eval.metrics.weights import WeightSpec, register_weight

SYNCHFORMER_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="synchformer",
        filename="synchformer_state_dict.pth",
        # A plain state dict (readable without unpickling code) of v-iashin's Synchformer AudioSet run 2,
        # 24-01-04T16-39-21: the file name MOVA's av_bench loads, as MMAudio publishes it. MOVA's
        # scripts/download_weights.sh instead fetches the training checkpoint from
        # https://a3s.fi/swift/v1/AUTH_a235c0f452d648828f745589cde1219a/sync/sync_models/24-01-04T16-39-21/24-01-04T16-39-21.pt
        # and saves its "state_dict" without "module."; Verse-Bench loads that checkpoint's "model".
        # `--weights synchformer=PATH` takes either form (load_synchformer_state).
        url="https://github.com/hkchengrex/MMAudio/releases/download/v0.1/synchformer_state_dict.pth",
        unpinned_reason=(
            "neither v-iashin/Synchformer, MOVA nor Verse-Bench publishes a sha256 (MMAudio lists only an "
            "MD5), and the file could not be fetched here; each run records the sha256 of the file it used"
        ),
        license="MIT (v-iashin/Synchformer code and checkpoints; trained on AudioSet)",
        used_by=("desync", "av_a"),
        description="Synchformer (AudioSet, 24-01-04T16-39-21): audio-visual offset classifier for DeSync and AV-A",
        subdir="synchformer",
    ),
)

for _spec in SYNCHFORMER_WEIGHTS:
    register_weight(_spec)
