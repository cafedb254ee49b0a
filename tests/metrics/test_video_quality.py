"""Video quality (Verse-Bench AS, VBench imaging quality) with tiny seeded networks on a few frames."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.metrics.base import ScoreInput, get_metric
from nava_eval.metrics.frame_scorers import ToolkitCropScorer, maniqa_crop_scores, to_tensor01
from nava_eval.metrics.video_quality import (
    FrameTooSmallError,
    ImagingQuality,
    VerseBenchVideoQuality,
    decode_rgb_frames,
    toolkit_crop_offsets,
)
from nava_eval.runners.perf.sync import write_synthetic_clip

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_clip(tmp_path_factory.mktemp("vq") / "c.mp4", n_frames=6, size=(96, 80), seed=5)


def test_decode_gives_every_frame_rgb(clip: Path) -> None:
    frames = decode_rgb_frames(clip)
    assert frames.shape == (6, 80, 96, 3) and frames.dtype == np.uint8
    # the drawn face is skin-coloured (BGR 140,170,220 → RGB 220,170,140) at the centre
    assert frames[0, 40, 48, 0] > frames[0, 40, 48, 2]
    assert decode_rgb_frames(clip, stride=2).shape[0] == 3


def test_versebench_smoke_combines_components(clip: Path, tmp_path: Path) -> None:
    metric = get_metric("video_quality", smoke=True, details=True)
    assert isinstance(metric, VerseBenchVideoQuality)
    assert metric.protocol == "video-quality/versebench-as-v2+smoke-random-weights"
    metric.setup("cpu")
    wav = tmp_path / "a.wav"
    from scipy.io import wavfile

    wavfile.write(str(wav), 16000, np.zeros(1600, np.int16))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope" * 20)
    ok, audio_only, corrupt = metric.score_batch(
        [ScoreInput("c", "s", clip), ScoreInput("w", "s", wav), ScoreInput("b", "s", bad)]
    )
    assert ok.status == "ok", ok.reason
    v = ok.values
    assert v["n_frames"] == 6 and len(v["per_frame"]["maniqa"]) == 6
    assert (v["maniqa_seed"], v["maniqa_crops"]) == (0, 20)  # the crops are reproducible from these
    assert 1 <= v["aesthetic_mean"] <= 10 and 0 <= v["musiq_mean"] <= 100 and 0 <= v["maniqa_mean"] <= 1
    expected = (
        np.mean(v["per_frame"]["aesthetic"]) / 10
        + np.mean(v["per_frame"]["musiq"]) / 100
        + np.mean(v["per_frame"]["maniqa"])
    ) / 3
    assert v["video_quality"] == pytest.approx(expected)
    assert audio_only.status == "skipped" and audio_only.reason == "no video stream"
    assert corrupt.status == "failed" and "cannot decode" in corrupt.reason
    agg = metric.aggregate([ok, audio_only, corrupt])
    assert agg == {"video_quality": v["video_quality"], "n": 1, "n_skipped": 1, "n_failed": 1}

    # seeded: a second instance (and another batch composition) gives the same numbers
    again = VerseBenchVideoQuality(smoke=True)
    again.setup("cpu")
    (ok2,) = again.score_batch([ScoreInput("c", "s", clip)])
    assert ok2.values["video_quality"] == pytest.approx(v["video_quality"], abs=1e-9)


def test_imaging_quality_smoke_and_resize_policy(clip: Path) -> None:
    metric = ImagingQuality(smoke=True, frame_stride=2)
    assert metric.protocol == "imaging-quality/musiq-spaq-v1+stride2+smoke-random-weights"
    metric.setup("cpu")
    (out,) = metric.score_batch([ScoreInput("c", "s", clip)])
    assert out.status == "ok" and out.values["n_frames"] == 3
    assert out.values["imaging_quality"] == pytest.approx(out.values["musiq_spaq_mean"] / 100)
    scorer = metric._scorers["musiq_spaq"]
    big = torch.zeros(1, 3, 720, 1280)
    assert tuple(scorer._prep(big).shape[2:]) == (288, 512)  # VBench 'longer': longer side → 512
    assert tuple(scorer._prep(torch.zeros(1, 3, 80, 96)).shape[2:]) == (80, 96)  # small frames untouched


def _reference_frame(h: int, w: int) -> np.ndarray:
    # The image the reference script cropped (tests/metrics/reference/README.md).
    return np.random.default_rng([h, w]).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _stand_in_scorer(crops: torch.Tensor) -> torch.Tensor:
    # The reference script's stand-in network, on crops in [0, 1] after the toolkit's Normalize(0.5, 0.5).
    w = torch.linspace(0.5, 1.5, 224)[None, None, :] * torch.tensor([1.0, 0.5, 0.25])[:, None, None]
    return ((crops - 0.5) / 0.5 * w).mean(dim=(1, 2, 3))


def test_crop_offsets_and_mean_match_the_verse_bench_toolkit() -> None:
    """Verse-Bench's ImageSample after np.random.seed(s): same 20 offsets, same mean of per-crop scores."""
    import json

    ref = json.loads((REFERENCE / "maniqa_crops.json").read_text())
    for case in ref["cases"]:
        h, w, seed = case["h"], case["w"], case["seed"]
        offsets = toolkit_crop_offsets(h, w, 20, 224, seed)
        assert offsets == [tuple(o) for o in case["offsets"]]
        assert max(t for t, _ in offsets) < h - 224 and max(c for _, c in offsets) < w - 224
        frames = to_tensor01(_reference_frame(h, w)[None], "cpu")
        (mean,) = ToolkitCropScorer(_stand_in_scorer, seed).score(frames, 0)
        assert mean == pytest.approx(case["mean"], rel=1e-5, abs=1e-9)
    # the frame index shifts the seed, so every frame of a video gets its own crops
    two = to_tensor01(np.stack([_reference_frame(240, 300)] * 2), "cpu")
    first, second = ToolkitCropScorer(_stand_in_scorer, 0).score(two, 0)
    assert first == pytest.approx(ref["cases"][0]["mean"], rel=1e-5) and second != first


def test_frames_the_toolkit_cannot_crop_are_skipped_with_the_reason(clip: Path) -> None:
    with pytest.raises(FrameTooSmallError, match="both sides exceed 224"):
        toolkit_crop_offsets(224, 400, 20, 224, 0)
    metric = VerseBenchVideoQuality(smoke=True)
    metric.setup("cpu")
    metric._scorers["maniqa"].pad_small = False  # as the real scorer: no padding of small frames
    (out,) = metric.score_batch([ScoreInput("c", "s", clip)])
    assert out.status == "skipped" and "frame 96×80" in out.reason


class _StubManiqa(torch.nn.Module):
    """pyiqa MANIQA's interface with trivial layers: checks the per-crop plumbing, not the network."""

    def __init__(self) -> None:
        super().__init__()
        self.input_size, c = 2, 4
        self.default_mean = torch.full((1, 3, 1, 1), 0.5)
        self.default_std = torch.full((1, 3, 1, 1), 0.5)
        self.save_output = type("S", (), {"outputs": []})()
        self.tablock1 = self.tablock2 = torch.nn.ModuleList([torch.nn.Identity()])
        self.conv1 = torch.nn.Conv2d(4 * c, c, 1)
        self.conv2 = torch.nn.Conv2d(c, c, 1)
        self.swintransformer1 = self.swintransformer2 = torch.nn.Identity()
        self.fc_score = torch.nn.Sequential(torch.nn.Linear(c, 1), torch.nn.ReLU())
        self.fc_weight = torch.nn.Sequential(torch.nn.Linear(c, 1), torch.nn.Sigmoid())
        self.c = c

    def vit(self, x: torch.Tensor) -> None:
        pooled = torch.nn.functional.adaptive_avg_pool2d(x, self.input_size).flatten(2).transpose(1, 2)
        tokens = torch.cat([torch.zeros_like(pooled[:, :1]), pooled], 1)  # CLS + side² patches, 3 ch
        for k in range(12):
            self.save_output.outputs.append(torch.cat([tokens * (k + 1), tokens[..., :1]], -1))

    def extract_feature(self, save_output) -> torch.Tensor:
        return torch.cat([save_output.outputs[k][:, 1:] for k in (6, 7, 8, 9)], dim=2)


@torch.no_grad()
def test_maniqa_scores_each_crop_as_the_weighted_mean_of_its_own_patches() -> None:
    torch.manual_seed(0)
    net = _StubManiqa()
    crops = torch.rand(3, 3, 16, 16)
    got = maniqa_crop_scores(net, crops)
    assert got.shape == (3,) and net.save_output.outputs == []
    for i in range(3):  # one crop at a time: pooling never mixes crops
        (alone,) = maniqa_crop_scores(net, crops[i : i + 1])
        assert float(alone) == pytest.approx(float(got[i]), rel=1e-6)
    x = (crops - 0.5) / 0.5
    net.vit(x)
    feats = net.extract_feature(net.save_output).transpose(1, 2).reshape(3, -1, 2, 2)
    net.save_output.outputs.clear()
    z = net.conv2(net.conv1(feats)).flatten(2).transpose(1, 2)
    s, w = net.fc_score(z).flatten(1), net.fc_weight(z).flatten(1)
    assert torch.allclose(got, (s * w).sum(1) / w.sum(1), atol=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("pyiqa") is not None, reason="pyiqa is installed here")
def test_real_metric_without_pyiqa_names_the_extra() -> None:
    with pytest.raises(ImportError, match=r"pip install 'nava-eval\[iqa\]'"):
        VerseBenchVideoQuality().setup("cpu")
    with pytest.raises(ImportError, match="PolyForm-Noncommercial"):
        ImagingQuality().setup("cpu")


def test_aesthetic_v25_head_on_a_tiny_siglip(tmp_path: Path) -> None:
    """The real Aesthetic Predictor V2.5 code path (SigLIP processor + encoder + MLP head file)."""
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    from nava_eval.metrics.frame_scorers import AestheticV25

    torch.manual_seed(0)
    config = SiglipVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    SiglipVisionModel(config).save_pretrained(tmp_path / "siglip")
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path / "siglip")
    head = torch.nn.Sequential(
        torch.nn.Linear(16, 1024), torch.nn.Dropout(0.5), torch.nn.Linear(1024, 128), torch.nn.Dropout(0.5),
        torch.nn.Linear(128, 64), torch.nn.Dropout(0.5), torch.nn.Linear(64, 16), torch.nn.Dropout(0.2),
        torch.nn.Linear(16, 1),
    )  # fmt: skip
    # the released file is `AestheticPredictorV2_5Head.state_dict()`: keys `scoring_head.N.*`
    torch.save({f"scoring_head.{k}": v for k, v in head.state_dict().items()}, tmp_path / "head.pth")
    scorer = AestheticV25(str(tmp_path / "siglip"), tmp_path / "head.pth", "cpu", batch_size=2)
    frames = to_tensor01(np.random.default_rng(1).integers(0, 255, (3, 40, 48, 3), dtype=np.uint8), "cpu")
    scores = scorer.score(frames, 0)
    assert len(scores) == 3 and all(np.isfinite(scores))
    # same numbers as the reference formula: pooled output, L2-normalised, head
    pixels = scorer.processor(
        images=list((frames * 255).round().byte().permute(0, 2, 3, 1).numpy()), return_tensors="pt"
    )
    pooled = scorer.encoder(pixel_values=pixels["pixel_values"]).pooler_output
    expected = head.eval()(pooled / pooled.norm(dim=-1, keepdim=True)).reshape(-1)
    np.testing.assert_allclose(scores, expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_pyiqa_checkpoint_is_taken_from_our_cache(tmp_path: Path, monkeypatch) -> None:
    """pyiqa is handed our verified file (linked into its cache under the URL's name), never a download."""
    import sys
    import types

    from nava_eval.metrics.frame_scorers import pyiqa_metric

    calls = {}
    pyiqa = types.ModuleType("pyiqa")
    utils = types.ModuleType("pyiqa.utils")
    download_util = types.ModuleType("pyiqa.utils.download_util")
    download_util.DEFAULT_CACHE_DIR = str(tmp_path / "pyiqa_cache")
    pyiqa.create_metric = lambda name, **kw: calls.setdefault("metric", (name, kw))
    utils.download_util = download_util
    pyiqa.utils = utils
    monkeypatch.setitem(sys.modules, "pyiqa", pyiqa)
    monkeypatch.setitem(sys.modules, "pyiqa.utils", utils)
    monkeypatch.setitem(sys.modules, "pyiqa.utils.download_util", download_util)
    ckpt = tmp_path / "weights" / "musiq_koniq_ckpt-e95806b9.pth"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"ckpt")
    name, kwargs = pyiqa_metric("musiq", ckpt, "cpu")
    assert name == "musiq" and kwargs["as_loss"] is False
    linked = tmp_path / "pyiqa_cache" / ckpt.name
    assert linked.read_bytes() == b"ckpt"
