"""ID against the Verse-Bench toolkit's DINOv3 inferencer and evaluate_dinov3_video; the metric class."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from nava_eval.metrics import dino_id as di
from nava_eval.metrics.base import ScoreInput, get_metric
from nava_eval.metrics.media_decode import ffmpeg_exe
from nava_eval.metrics.moviepy_frames import frame_plan

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import av_reference_clips as clips  # noqa: E402

REFERENCE = Path(__file__).parent / "reference"
SCRIPT = Path(__file__).parent / "data" / "reference_scripts" / "make_dino_id.py"


def _script():
    spec = importlib.util.spec_from_file_location("make_dino_id", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _script()


def _reference(size: str) -> dict:
    return json.loads((REFERENCE / f"dino_id_{size}.json").read_text())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], dict[str, Path]]:
    """The reference clips (sha256 checked) and conditioning images, rebuilt."""
    folder = tmp_path_factory.mktemp("dino_id")
    built = {
        s.name: clips.build_clip(s, folder / "clips", ffmpeg_exe())
        for s in clips.CLIPS
        if s.name in MAKE.CLIP_NAMES
    }
    for case in _reference("tiny")["cases"]:
        assert clips.sha256(built[case["name"]]) == case["sha256"], (
            f"{case['name']}.mp4 rebuilt with other bytes: this ffmpeg ({ffmpeg_exe()}) encodes differently "
            "from the reference's; set NAVA_EVAL_FFMPEG to imageio-ffmpeg's n9.0.2 or remake the reference"
        )
    return built, MAKE.condition_images(folder / "images")


def _metric(size: str) -> di.DinoIdentity:
    from transformers import DINOv3ViTModel

    # built on the CPU, not the meta device: RoPE's inverse frequencies are a non-persistent buffer
    # that only __init__ fills
    model = DINOv3ViTModel(di.dinov3_config(tiny=size == "tiny"))
    model.load_state_dict(MAKE.random_state(_reference(size)["config"]), strict=True)
    metric = di.DinoIdentity(batch_size=7)  # batches that cut across videos
    metric._model, metric._processor = model.eval(), di.image_processor()
    return metric


def _items(inputs, names) -> list[ScoreInput]:
    built, images = inputs
    return [ScoreInput(n, "set1", built[n], meta={"image": str(images[n])}) for n in names]


def test_tiny_network_matches_the_official_code(inputs) -> None:
    """Frames (moviepy's count and repeats), processor, DINOv3 token -2, float64 cosine, mean.

    Tolerance 1e-6 absolute on ID; with batches of 7 cutting across videos (the official code embeds
    one image per call) it is equal bit for bit on the reference machine.
    """
    ref = _reference("tiny")
    names = [c["name"] for c in ref["cases"]]
    outcomes = _metric("tiny").score_batch(_items(inputs, names))
    for case, out in zip(ref["cases"], outcomes, strict=True):
        assert out.status == "ok", out.reason
        assert out.values["n_frames"] == case["n_frames"], case["name"]
        assert out.values["id"] == pytest.approx(case["id"], abs=1e-6), case["name"]


def test_tiny_config_differs_from_the_release_only_in_size() -> None:
    """Every DINOv3ViTConfig field except the sizes equals the release config (FULL_CONFIG)."""
    assert _reference("tiny")["config"] == {**di.FULL_CONFIG, **di.TINY_SIZES}
    tiny = di.dinov3_config(tiny=True).to_dict()
    released = di.dinov3_config(tiny=False).to_dict()
    for key, value in released.items():
        if key in di.SIZE_FIELDS:
            assert tiny[key] == di.TINY_SIZES[key]
        elif key in ("stage_names", "out_features", "out_indices"):  # one per layer: follow the depth
            assert len(tiny["stage_names"]) == di.TINY_SIZES["num_hidden_layers"] + 1
        elif key not in ("transformers_version", "_name_or_path"):
            assert tiny[key] == value, key
    for key, value in di.FULL_CONFIG.items():
        assert released[key] == value, key


@pytest.mark.slow
def test_full_size_network_matches_the_official_code(inputs) -> None:
    """ViT-L/16 at the release's size with seeded random weights (1.2 GB in memory): 1e-6 on ID.

    Equal bit for bit on the reference machine (batches of 7).
    """
    ref = _reference("full")
    assert ref["config"] == di.FULL_CONFIG
    assert [c["name"] for c in ref["cases"]] == list(MAKE.FULL_CLIP_NAMES)
    outcomes = _metric("full").score_batch(_items(inputs, list(MAKE.FULL_CLIP_NAMES)))
    for case, out in zip(ref["cases"], outcomes, strict=True):
        assert out.values["n_frames"] == case["n_frames"], case["name"]
        assert out.values["id"] == pytest.approx(case["id"], abs=1e-6), case["name"]


def test_frame_plan_is_moviepys(inputs) -> None:
    """fps snapped to 30000/1001, Duration in centiseconds, one frame number per arange step."""
    built, _ = inputs
    plan = frame_plan(built["portrait_2997fps"])
    assert plan.fps == 30 * 1000 / 1001 and plan.size == (180, 320)
    assert plan.positions[:3] == (1, 2, 3) and len(plan.positions) == 75


def test_items_without_an_image_are_skipped_and_missing_files_fail(inputs, tmp_path: Path) -> None:
    built, images = inputs
    metric = get_metric("id", smoke=True)
    assert metric.protocol == "id/versebench-dinov3-vitl16-v1+smoke-random-weights"
    items = [
        ScoreInput("a", "set1", built["one_frame"]),
        ScoreInput("b", "set1", built["one_frame"], meta={"image": str(tmp_path / "gone.png")}),
        ScoreInput("c", "set1", tmp_path / "gone.mp4", meta={"image": str(images["one_frame"])}),
        ScoreInput("d", "set1", built["short_0p4s"], meta={"image": str(images["short_0p4s"])}),
    ]
    out = metric.score_batch(items)
    assert out[0].status == "skipped" and "I2AV" in out[0].reason
    assert out[1].status == "failed" and "gone.png" in out[1].reason
    assert out[2].status == "failed" and "gone.mp4" in out[2].reason
    assert out[3].status == "ok" and -1.0 <= out[3].values["id"] <= 1.0 and out[3].values["n_frames"] == 10


def test_two_seeds_of_one_item_in_one_batch_score_as_each_alone(inputs) -> None:
    """Outcomes follow the batch order, never the item id: two outputs of item "7" stay apart."""
    built, images = inputs
    metric = _metric("tiny")
    a = ScoreInput("7", "set1", built["short_0p4s"], meta={"image": str(images["one_frame"]), "seed": 1})
    b = ScoreInput("7", "set1", built["one_frame"], meta={"image": str(images["one_frame"]), "seed": 2})
    together = metric.score_batch([a, b])
    alone = [metric.score_batch([x])[0] for x in (a, b)]
    assert [o.values["n_frames"] for o in together] == [10, 1]
    for t, s in zip(together, alone, strict=True):
        assert t.values["id"] == pytest.approx(s.values["id"], abs=1e-6)
    assert together[0].values["id"] != pytest.approx(together[1].values["id"], abs=1e-4)
