"""The per-frame scorers behind the video-quality metrics (`metrics/video_quality.py`): torch lives here.

Each scorer's `score(frames [T,3,H,W] in [0,1], first_frame_index)` gives one raw score per frame:
MUSIQ and the smoke stand-ins whole-frame, MANIQA on the toolkit's seeded crops, Aesthetic V2.5 on
SigLIP embeddings. Kept apart so that importing the metric classes (`nava-eval ls`) needs no torch.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nava_eval.metrics.video_quality import MANIQA_CROP, MANIQA_CROPS, import_pyiqa, toolkit_crop_offsets


def to_tensor01(frames: np.ndarray, device: str) -> torch.Tensor:
    """[T,H,W,3] uint8 → [T,3,H,W] float in [0,1] (torchvision ToTensor)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float() / 255.0


def seeded_crops(x: torch.Tensor, n: int, size: int, seed: int) -> torch.Tensor:
    """`n` random size×size crops of one image [1,3,H,W] (zero-padded when smaller), from `seed`."""
    _, _, h, w = x.shape
    if h < size or w < size:
        x = F.pad(x, (0, max(0, size - w), 0, max(0, size - h)))
        h, w = x.shape[2:]
    gen = torch.Generator().manual_seed(seed)
    tops = torch.randint(0, h - size + 1, (n,), generator=gen).tolist()
    lefts = torch.randint(0, w - size + 1, (n,), generator=gen).tolist()
    return torch.cat([x[:, :, t : t + size, c : c + size] for t, c in zip(tops, lefts, strict=True)])


# ------------------------------------------------------------------------------------------
# Per-frame scorers: score(frames [T,3,H,W] in [0,1], first_frame_index) → list of raw scores


class TinyIQANet(torch.nn.Module):
    """A tiny seeded stand-in for an IQA network: conv → pool → linear → squashed to [lo, hi]."""

    def __init__(self, seed: int, lo: float, hi: float):
        super().__init__()
        gen_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.head = torch.nn.Linear(8, 1)
        finally:
            torch.random.set_rng_state(gen_state)
        self.lo, self.hi = lo, hi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = F.adaptive_avg_pool2d(F.relu(self.conv(x * 2 - 1)), 1).flatten(1)
        return self.lo + (self.hi - self.lo) * torch.sigmoid(self.head(z)).squeeze(1)


class NetScorer:
    """Batched whole-frame scorer (MUSIQ and the smoke stand-ins)."""

    def __init__(self, net, batch_size: int, resize_longer: int | None = None, fixed_size: int | None = None):
        self.net, self.batch_size = net, batch_size
        self.resize_longer, self.fixed_size = resize_longer, fixed_size

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_size is not None:
            return F.interpolate(
                x, size=(self.fixed_size, self.fixed_size), mode="bicubic", align_corners=False
            )
        if self.resize_longer is not None:
            h, w = x.shape[2:]
            if (
                max(h, w) > self.resize_longer
            ):  # VBench 'longer': Resize((int(s·h), int(s·w)), antialias=False)
                s = self.resize_longer / max(h, w)
                from torchvision.transforms.functional import resize

                x = resize(x, [int(s * h), int(s * w)], antialias=False)
        return x

    @torch.no_grad()
    def score(self, frames: torch.Tensor, first_index: int) -> list[float]:
        out: list[float] = []
        for s in range(0, frames.shape[0], self.batch_size):
            y = self.net(self._prep(frames[s : s + self.batch_size]))
            out.extend(float(v) for v in y.reshape(-1))
        return out


class ToolkitCropScorer:
    """Verse-Bench's MANIQA semantics: `n` seeded crops per frame, each scored alone, mean of the scores.

    `crop_scores(crops [n,3,size,size] in [0,1]) → [n]`. `pad_small` (smoke only) zero-pads frames
    the toolkit could not crop so tiny smoke videos still run the path.
    """

    def __init__(
        self, crop_scores, seed: int, n: int = MANIQA_CROPS, size: int = MANIQA_CROP, pad_small=False
    ):
        self.crop_scores, self.seed, self.n, self.size, self.pad_small = crop_scores, seed, n, size, pad_small

    @torch.no_grad()
    def score(self, frames: torch.Tensor, first_index: int) -> list[float]:
        if self.pad_small:
            h, w = frames.shape[2:]
            frames = F.pad(frames, (0, max(0, self.size + 1 - w), 0, max(0, self.size + 1 - h)))
        h, w = frames.shape[2:]
        out = []
        for k in range(frames.shape[0]):
            offsets = toolkit_crop_offsets(h, w, self.n, self.size, self.seed + first_index + k)
            crops = torch.stack([frames[k, :, t : t + self.size, c : c + self.size] for t, c in offsets])
            out.append(float(self.crop_scores(crops).reshape(-1).double().mean()))
        return out


def maniqa_crop_scores(net, crops: torch.Tensor) -> torch.Tensor:
    """MANIQA's score of each 224×224 crop on its own: pyiqa's network, none of its cropping or pooling.

    pyiqa's forward resizes a 224-px input to 225 and pools the patches of all its crops into one
    weighted mean; the toolkit's network (IIGROUP/MANIQA) scores one crop as the weighted mean of its
    own patch scores. `net` is pyiqa's MANIQA module (`create_metric("maniqa").net`).
    """
    x = (crops - net.default_mean.to(crops)) / net.default_std.to(crops)
    n, side = x.shape[0], net.input_size
    net.vit(x)
    feats = net.extract_feature(net.save_output)  # [n, side², 4·768]: ViT blocks 6–9 without CLS
    net.save_output.outputs.clear()
    x = feats.transpose(1, 2)
    for tab in net.tablock1:
        x = tab(x)
    x = net.swintransformer1(net.conv1(x.reshape(n, -1, side, side)))
    x = x.flatten(2)
    for tab in net.tablock2:
        x = tab(x)
    x = net.swintransformer2(net.conv2(x.reshape(n, -1, side, side)))
    x = x.flatten(2).transpose(1, 2)  # [n, side², c]
    scores, weights = net.fc_score(x).flatten(1), net.fc_weight(x).flatten(1)
    return (scores * weights).sum(dim=1) / weights.sum(dim=1)


class AestheticV25:
    """Aesthetic Predictor V2.5: SigLIP so400m pooled embedding, L2-normalised, MLP head (1–10)."""

    def __init__(self, siglip_source: str, head_path: Path, device: str, batch_size: int):
        from transformers import SiglipImageProcessor, SiglipVisionModel

        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32  # Verse-Bench runs bf16
        self.processor = SiglipImageProcessor.from_pretrained(siglip_source)
        self.encoder = SiglipVisionModel.from_pretrained(siglip_source, torch_dtype=dtype).to(device).eval()
        hidden = self.encoder.config.hidden_size
        self.head = torch.nn.Sequential(
            torch.nn.Linear(hidden, 1024), torch.nn.Dropout(0.5), torch.nn.Linear(1024, 128), torch.nn.Dropout(0.5),
            torch.nn.Linear(128, 64), torch.nn.Dropout(0.5), torch.nn.Linear(64, 16), torch.nn.Dropout(0.2),
            torch.nn.Linear(16, 1),
        )  # fmt: skip
        from nava_eval.weight_files import read_torch_file

        state = read_torch_file(head_path, "the aesthetic predictor head")
        state = {k.removeprefix("layers.").removeprefix("scoring_head."): v for k, v in state.items()}
        self.head.load_state_dict(state)
        self.head = self.head.to(device=device, dtype=dtype).eval()
        self.device, self.dtype, self.batch_size = device, dtype, batch_size

    @torch.no_grad()
    def score(self, frames: torch.Tensor, first_index: int) -> list[float]:
        out: list[float] = []
        for s in range(0, frames.shape[0], self.batch_size):
            chunk = (frames[s : s + self.batch_size] * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            pixels = self.processor(images=list(chunk), return_tensors="pt")["pixel_values"]
            pooled = self.encoder(pixel_values=pixels.to(self.device, self.dtype)).pooler_output
            pooled = pooled / pooled.norm(dim=-1, keepdim=True)
            out.extend(float(v) for v in self.head(pooled).float().reshape(-1))
        return out


def pyiqa_metric(name: str, url_file: Path, device: str):
    """pyiqa.create_metric(name) with its checkpoint taken from our verified file, not downloaded.

    pyiqa fetches checkpoints by URL into its cache folder and reuses a file of the same name;
    we put (a link to) our checked copy there first.
    """
    pyiqa = import_pyiqa()
    try:
        from pyiqa.utils import download_util

        cache = Path(download_util.DEFAULT_CACHE_DIR)
    except (ImportError, AttributeError):
        cache = Path(torch.hub.get_dir()) / "pyiqa"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / url_file.name
    if not target.exists():
        try:
            os.symlink(url_file, target)
        except OSError:
            import shutil

            shutil.copyfile(url_file, target)
    return pyiqa.create_metric(name, device=torch.device(device), as_loss=False)
