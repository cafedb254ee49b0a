"""Weight specs of the audio-visual scorers added for VerseBench's IB column (registered lazily)."""

from __future__ import annotations

from nava_eval.metrics.weights import WeightSpec, register_weight

AV_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="imagebind_huge",
        filename="imagebind_huge.pth",
        # The URL facebookresearch/ImageBind's imagebind_huge(pretrained=True) downloads, and the one
        # OpenMOSS/MOVA's evaluation README names. Neither publishes a checksum, and no mirror with an
        # LFS pointer was found, so the sha256 is not pinned: `weights verify` shows "unpinned" and each
        # run records the digest of the file it used.
        url="https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth",
        license="CC-BY-NC-4.0 (facebookresearch/ImageBind): non-commercial use only",
        used_by=("ib",),
        description="ImageBind-huge (all six modalities; IB-Score loads the vision and audio towers)",
        subdir="imagebind",
    ),
)

for _spec in AV_WEIGHTS:
    register_weight(_spec)
