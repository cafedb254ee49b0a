"""Weight specs of the audio-visual scorers added for VerseBench's IB column (registered lazily)."""

from __future__ import annotations

from nava_eval.metrics.weights import WeightSpec, register_weight

AV_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="imagebind_huge",
        filename="imagebind_huge.pth",
        # The URL facebookresearch/ImageBind's imagebind_huge(pretrained=True) downloads, and the one
        # OpenMOSS/MOVA's evaluation README names.
        url="https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth",
        unpinned_reason=(
            "neither facebookresearch/ImageBind nor MOVA's toolkit publishes a checksum, and no mirror "
            "with a readable LFS pointer was found; each run records the sha256 of the file it used"
        ),
        license="CC-BY-NC-4.0 (facebookresearch/ImageBind): non-commercial use only",
        used_by=("ib",),
        description="ImageBind-huge (all six modalities; IB-Score loads the vision and audio towers)",
        subdir="imagebind",
    ),
)

for _spec in AV_WEIGHTS:
    register_weight(_spec)
