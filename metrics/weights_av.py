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
    WeightSpec(
        name="dinov3_vitl16",
        filename="model.safetensors",
        # Verse-Bench dino/dinov3_inferencer.py loads f"{models}/dinov3-vitl16-pretrain-lvd1689m".
        url="hf://facebook/dinov3-vitl16-pretrain-lvd1689m/model.safetensors",
        revision="ea8dc2863c51be0a264bab82070e3e8836b02d51",
        hub_files=("config.json", "preprocessor_config.json"),
        license="DINOv3 License (Meta's own licence; the hub repository is gated: accept it there first)",
        used_by=("id",),
        unpinned_reason=(
            "the repository is gated and publishes no checksum outside the hub; its LFS oid was not "
            "readable here; each run records the sha256 of the file it used"
        ),
        description="DINOv3 ViT-L/16 (LVD-1689M) for Verse-Bench's ID: frames against the conditioning image",
    ),
)

for _spec in AV_WEIGHTS:
    register_weight(_spec)
