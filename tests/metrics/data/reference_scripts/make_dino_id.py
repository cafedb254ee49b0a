"""Reference vectors for ID from the Verse-Bench toolkit's own code, on random DINOv3 weights.

Run in a plain venv with the toolkit's pins (requirements.txt: transformers~=4.56.1, moviepy~=1.0.3,
pillow~=11.0.0, numpy~=1.26.1; torch 2.14.1 + torchvision 0.29.1 here instead of its CUDA 2.6 build,
imageio-ffmpeg for moviepy's ffmpeg):

    python make_dino_id.py VERSE_BENCH_DIR OUT.json tiny|full [WORK_DIR]

`full` runs the three shortest clips only (ViT-L/16 on two CPU cores).

VERSE_BENCH_DIR holds Dorniwang/Verse-Bench's `dino/dinov3_inferencer.py` and `calculate_metrics.py`
(commit in OUT): the inferencer class is used as is and `evaluate_dinov3_video` is taken out of
calculate_metrics.py unmodified (that file imports every other scorer at its top). The model folder
the inferencer loads holds the DINOv3 ViT-L/16 release config (tiny: with TINY_SIZES), the
processor config, and weights from `random_state` (seeded per parameter name, so the test builds
the same weights). Clips: tests/av_reference_clips.py; images: `condition_images` below.
"""

from __future__ import annotations

import ast
import json
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[3]))  # tests/

import av_reference_clips as clips  # noqa: E402

CLIP_NAMES = ("landscape_25fps_sync", "portrait_2997fps", "short_0p4s", "one_frame", "long_8s_24fps")
FULL_CLIP_NAMES = ("portrait_2997fps", "short_0p4s", "one_frame")


def _constant(name: str):
    """A literal from metrics/dino_id.py (our package does not install in the toolkit's venv)."""
    tree = ast.parse((HERE.parents[4] / "metrics" / "dino_id.py").read_text())
    for node in tree.body:
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if getattr(target, "id", None) == name:
            return ast.literal_eval(node.value)
    raise KeyError(name)


def random_state(config: dict, seed: int = 0) -> dict:
    """Weights for DINOv3ViTModel(config): every tensor drawn from a generator seeded by its name."""
    import zlib

    import torch
    from transformers import DINOv3ViTConfig, DINOv3ViTModel

    with torch.device("meta"):
        model = DINOv3ViTModel(DINOv3ViTConfig(**config))
    state = {}
    for name, meta in sorted(model.state_dict().items()):
        # seeded by the transformers 4.56 key (transformers 5 prefixes the layers with "model.")
        canonical = name.removeprefix("model.")
        gen = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(canonical.encode()))
        x = torch.randn(meta.shape, generator=gen, dtype=torch.float32)
        if "norm" in name and name.endswith("weight"):
            x = 1.0 + 0.1 * x
        elif "lambda1" in name:
            x = 0.5 + 0.2 * x
        elif "token" in name:
            x = x
        else:
            x = 0.02 * x * (1.0 if name.endswith("weight") else 0.5)
        state[name] = x.contiguous()
    return state


def condition_images(folder: Path) -> dict[str, Path]:
    """One RGB PNG per clip from the clip's own first frame, plus grey and RGBA variants."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for spec in clips.CLIPS:
        if spec.name not in CLIP_NAMES:
            continue
        rgb = np.ascontiguousarray(clips._frames(spec)[0][..., ::-1])
        if spec.name == "portrait_2997fps":
            img = Image.fromarray(rgb).convert("L")  # load_image converts it to RGB
        elif spec.name == "short_0p4s":
            img = Image.fromarray(rgb).convert("RGBA")
        else:
            img = Image.fromarray(rgb)
        out[spec.name] = folder / f"{spec.name}.png"
        img.save(out[spec.name])
    return out


def main(verse_dir: str, out_json: str, size: str, work_dir: str | None = None) -> None:
    import imageio_ffmpeg
    import numpy as np
    import torch
    from PIL import Image
    from safetensors.torch import save_file
    from transformers import DINOv3ViTConfig, DINOv3ViTImageProcessorFast

    sys.path.insert(0, verse_dir)
    from dino.dinov3_inferencer import DinoV3Inferencer
    from moviepy.editor import VideoFileClip

    source = (Path(verse_dir) / "calculate_metrics.py").read_text()
    fn = next(n for n in ast.parse(source).body if getattr(n, "name", "") == "evaluate_dinov3_video")
    namespace = {"VideoFileClip": VideoFileClip, "Image": Image}
    exec(compile(ast.Module([fn], []), "calculate_metrics.py", "exec"), namespace)
    evaluate_dinov3_video = namespace["evaluate_dinov3_video"]

    work = Path(work_dir or Path(out_json).with_suffix(""))
    config = dict(_constant("FULL_CONFIG"))
    if size == "tiny":
        config.update(_constant("TINY_SIZES"))
    model_dir = work / "models" / "dinov3-vitl16-pretrain-lvd1689m"
    model_dir.mkdir(parents=True, exist_ok=True)
    DINOv3ViTConfig(**config, architectures=["DINOv3ViTModel"]).save_pretrained(model_dir)
    save_file(random_state(config), str(model_dir / "model.safetensors"))
    # the release's preprocessor_config.json values (they are also the class defaults)
    proc = DINOv3ViTImageProcessorFast(
        do_resize=True,
        size={"height": 224, "width": 224},
        resample=2,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    proc.save_pretrained(model_dir)
    inferencer = DinoV3Inferencer(str(work / "models"))

    built = {
        n: clips.build_clip(s, work / "clips", imageio_ffmpeg.get_ffmpeg_exe())
        for s in clips.CLIPS
        for n in [s.name]
        if n in CLIP_NAMES
    }
    images = condition_images(work / "images")
    cases = []
    names = CLIP_NAMES if size == "tiny" else FULL_CLIP_NAMES
    for name in names:
        video, image = built[name], images[name]
        score = evaluate_dinov3_video(str(video), inferencer, str(image))
        anchor = np.array(inferencer.get_feature(Image.open(image)))
        frames = list(VideoFileClip(str(video)).iter_frames())
        first = np.array(inferencer.get_feature(Image.fromarray(frames[0])))
        cases.append(
            {
                "name": name,
                "sha256": clips.sha256(video),
                "id": score,
                "n_frames": len(frames),
                "anchor_feature_head": anchor[:8].tolist(),
                "anchor_feature_norm": float(np.linalg.norm(anchor)),
                "first_frame_feature_head": first[:8].tolist(),
                "first_frame_cos": inferencer.infer_feature(first, anchor),
            }
        )
    versions = {
        p: metadata.version(p) for p in ("transformers", "torch", "torchvision", "moviepy", "pillow", "numpy")
    }
    out = {
        "official": "Dorniwang/Verse-Bench dino/dinov3_inferencer.py + calculate_metrics.py evaluate_dinov3_video",
        "commit": "5645a09f7d89903854f8ec03ff10ba7231296fa1",
        "size": size,
        "config": config,
        "versions": versions,
        "torch_threads": torch.get_num_threads(),
        "cases": cases,
    }
    Path(out_json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
