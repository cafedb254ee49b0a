"""IB-Score: our ImageBind towers and MOVA-toolkit inputs against the official code's vectors; the metric."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from nava_eval.metrics import imagebind_data as ibd
from nava_eval.metrics.base import ScoreInput, get_metric
from nava_eval.metrics.ib import ImageBindScore
from nava_eval.metrics.imagebind_model import (
    UNUSED_MODALITIES,
    ImageBindAV,
    ImageBindConfig,
    key_shapes,
    load_imagebind_state,
)
from nava_eval.runners.perf.sync import write_synthetic_clip
from tests.seeded_weights import seeded_state

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((REFERENCE / "imagebind_reference.json").read_text())


@pytest.fixture(scope="module")
def tiny_model() -> ImageBindAV:
    # The weights the official model ran with (make_imagebind_embeddings.py), rebuilt from the seed:
    # its vision and audio keys, which are all this model has.
    reference = json.loads((REFERENCE / "imagebind_reference.json").read_text())
    keys = [(k, s) for k, s in reference["tiny_keys"].items() if k.split(".")[1] in ("vision", "audio")]
    model = ImageBindAV(ImageBindConfig.tiny()).eval()
    assert load_imagebind_state(model, seeded_state(keys, reference["weights"]["seed"])) == []
    return model


# The inputs the reference script fed the official code (tests/metrics/reference/README.md).
def _frames(seed: int, t: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng([seed, 1]).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def _audio(seed: int, channels: int, rate: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng([seed, 2])
    n = int(rate * seconds)
    t = np.arange(n) / rate
    sig = [
        0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) + 0.05 * rng.standard_normal(n) for c in range(channels)
    ]
    return np.stack(sig).astype(np.float32)


def test_inputs_and_embeddings_match_the_official_code(reference: dict, tiny_model: ImageBindAV) -> None:
    """Resample, mel clips, vision crops/pairs, both towers and the cosine: MOVA's toolkit + ImageBind.

    Tolerances: inputs 1e-5 absolute (they agree bit for bit on CPU), embeddings 1e-5, IB 1e-6.
    """
    for case in reference["cases"]:
        a = case["audio"]
        raw = _audio(case["seed"], a["channels"], a["rate"], a["seconds"])
        resampled = ibd.resample_sinc(torch.from_numpy(raw.copy()), a["rate"], ibd.IB_SAMPLE_RATE)
        assert resampled.shape[1] == case["resampled_len"]
        assert torch.allclose(resampled[:, :64], torch.tensor(case["resampled_head"]), atol=1e-6)
        assert float(resampled.double().sum()) == pytest.approx(case["resampled_sum"], abs=1e-3)
        mels = ibd.audio_mels(ibd.DecodedAudio(raw, a["rate"]))
        assert list(mels.shape) == case["mel_shape"]
        assert torch.allclose(mels[:, 0, ::8, ::12], torch.tensor(case["mel_sub"]), atol=1e-5)
        assert float(mels.double().sum()) == pytest.approx(case["mel_sum"], rel=1e-6)
        clips = ibd.vision_clips(_frames(case["seed"], *case["frames_shape"][:3]))
        assert list(clips.shape) == case["clips_shape"]
        assert torch.allclose(clips[:, 0, :, 100:104, 100:104], torch.tensor(case["clips_patch"]), atol=1e-5)
        with torch.no_grad():
            v = tiny_model.embed_vision(clips[None])[0]
            au = tiny_model.embed_audio(mels[None])[0]
            flat_v = tiny_model.encode_clips("vision", clips).mean(dim=0)  # the metric's batched path
        assert torch.allclose(v, torch.tensor(case["vision_embedding"]), atol=1e-5)
        assert torch.allclose(flat_v, v, atol=1e-6)
        assert torch.allclose(au, torch.tensor(case["audio_embedding"]), atol=1e-4)  # norm 20
        ib = float(torch.cosine_similarity(v[None], au[None], dim=-1)[0])
        assert ib == pytest.approx(case["ib"], abs=1e-6)


def test_huge_config_has_the_release_key_names_and_shapes() -> None:
    """imagebind_huge.pth's vision/audio keys (listed from the official model) are ours, shape for shape."""
    release: dict[str, tuple[int, ...]] = {}
    for line in (REFERENCE / "imagebind_huge_keys.tsv").read_text().splitlines()[1:]:
        key, shape = line.split("\t")
        release[key] = tuple(int(s) for s in shape.split("x")) if shape else ()
    with torch.device("meta"):
        ours = key_shapes(ImageBindAV(ImageBindConfig.huge()))
    used = {k: s for k, s in release.items() if k.split(".")[1] in ("vision", "audio")}
    assert ours == used
    assert all(k.split(".")[1] in UNUSED_MODALITIES for k in release if k not in used)


def test_loading_is_strict_and_sets_other_modalities_aside(reference: dict) -> None:
    shapes = reference["tiny_keys"]
    full = {k: torch.zeros(s) for k, s in shapes.items()}
    model = ImageBindAV(ImageBindConfig.tiny())
    unused = load_imagebind_state(model, full)
    assert unused and all(k.split(".")[1] in UNUSED_MODALITIES for k in unused)
    assert len(unused) + len(model.state_dict()) == len(full)
    key = "modality_trunks.audio.blocks.1.attn.bias_k"
    with pytest.raises(ValueError, match=f"missing 1 key.*{key}"):
        load_imagebind_state(model, {k: v for k, v in full.items() if k != key})
    with pytest.raises(ValueError, match="shape mismatch.*modality_heads.vision.2.weight"):
        load_imagebind_state(model, {**full, "modality_heads.vision.2.weight": torch.zeros(3, 3)})
    with pytest.raises(ValueError, match="unexpected key.*modality_heads.vision.9.weight"):
        load_imagebind_state(model, {**full, "modality_heads.vision.9.weight": torch.zeros(1)})


def test_clip_sampler_follows_pytorchvideo() -> None:
    # ConstantClipsPerVideoSampler(2, 3): starts at k·(d − 2)/3, all at 0 for a track under 2 s
    assert ibd.clip_bounds(8.0) == [(0, 2), (2, 4), (4, 6)]
    assert [float(a) for a, _ in ibd.clip_bounds(5.9)] == pytest.approx([0, 1.3, 2.6])
    assert ibd.clip_bounds(1.5) == [(0, 2)] * 3
    assert ibd.vision_frame_count(7.9) == 3 and ibd.vision_frame_count(5.9) == 2
    assert ibd.vision_frame_count(1.9) == 0


def _index_clip(path: Path, n: int, fps: int) -> Path:
    """A lossless clip whose frame i is grey level i, so a decoded frame names its source frame."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        stream.options = {"crf": "0"}
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_frames_at_half_fps_are_libavfilters_fps_filter(tmp_path: Path) -> None:
    """Our PyAV graph picks the frames ffmpeg's `fps=1/2` filter picks (torio runs the same filter).

    With the filter's default rounding the output frame at 0, 2, 4 s is the last input frame whose
    time rounds to it: 24-fps frames 23, 71, 119 (0.96 s, 2.96 s, 4.96 s), not frames 0, 48, 96
    (decord's fallback in the toolkit, which MOVA's requirements warn against).
    """
    from nava_eval.metrics.media_decode import run_ffmpeg

    clip = _index_clip(tmp_path / "idx.mp4", 150, 24)
    ours = ibd.decode_frames_fps(clip, ibd.IB_FPS, 10)
    raw = run_ffmpeg(
        ["-i", str(clip), "-vf", "fps=1/2", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture=True
    )
    theirs = np.frombuffer(raw, np.uint8).reshape(-1, 48, 64, 3)
    assert [int(f[0, 0, 0]) for f in ours] == [23, 71, 119]
    assert np.array_equal(ours, theirs)
    assert [int(f[0, 0, 0]) for f in ibd.decode_frames_fps(clip, ibd.IB_FPS, 2)] == [23, 71]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from nava_eval.metrics.media_decode import ffmpeg_exe

    d = tmp_path_factory.mktemp("ib")
    out = {
        "six": write_synthetic_clip(d / "six.mp4", n_frames=150, size=(96, 64), seed=1),
        "other": write_synthetic_clip(d / "other.mp4", n_frames=150, size=(64, 96), seed=2),
        "silent": write_synthetic_clip(d / "silent.mp4", n_frames=150, size=(96, 64), seed=3, silent=True),
        "short": write_synthetic_clip(d / "short.mp4", n_frames=40, size=(96, 64), seed=4),
    }
    mute = d / "mute.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", str(out["six"]), "-an", "-c:v", "copy", str(mute)],
        check=True,
    )
    out["mute"] = mute
    return out


@pytest.mark.slow
def test_smoke_metric_scores_batched_as_one_at_a_time(clips: dict[str, Path]) -> None:
    metric = get_metric("ib", smoke=True, details=True)
    assert isinstance(metric, ImageBindScore)
    assert metric.protocol == "ib/mova-imagebind-huge-v1+smoke-random-weights"
    metric.setup("cpu")
    items = [ScoreInput(n, "s", clips[n]) for n in ("six", "other", "silent", "mute")]
    six, other, silent, mute = metric.score_batch(items)
    assert six.status == "ok", six.reason
    v = six.values
    assert -1.0 <= v["ib"] <= 1.0
    # 6 s clip → video_second 6, clip duration 5.9 s → ⌊2.95⌋ = 2 frames → one pair × 3 crops
    assert (v["video_second"], v["clip_duration_s"], v["vision_frames_used"], v["n_vision_clips"]) == (
        6.0,
        5.9,
        2,
        3,
    )
    assert (v["audio_channels"], v["audio_sample_rate"]) == (1, 16000)
    cos = torch.cosine_similarity(
        torch.tensor(v["vision_embedding"]), torch.tensor(v["audio_embedding"]), dim=0
    )
    assert float(cos) == pytest.approx(v["ib"], abs=1e-6)
    assert silent.status == "ok"  # the toolkit scores silent audio
    assert mute.status == "skipped" and mute.reason == "no audio stream"
    (alone,) = metric.score_batch([ScoreInput("other", "s", clips["other"])])
    assert alone.values["ib"] == pytest.approx(other.values["ib"], abs=1e-6)


def test_items_the_toolkit_drops_are_skipped_with_the_reason(clips: dict[str, Path], tmp_path: Path) -> None:
    real = ImageBindScore(video_second=8)  # _prepare needs no network
    with pytest.raises(ibd.IBInputError, match="shorter than the clip duration 7.9 s.*Audio is too short"):
        real._prepare(clips["six"])
    with pytest.raises(ibd.IBInputError, match="shorter than the clip duration 1.9 s"):
        ImageBindScore()._prepare(clips["short"])  # 1.6 s → video_second 2 → 1.9 s of audio needed
    with pytest.raises(ibd.IBInputError, match="no vision frame"):
        ImageBindScore(video_second=1)._prepare(clips["short"])  # 0.9 s → ⌊0.45⌋ = 0 frames
    padded = ImageBindScore(video_second=10)
    padded.smoke = True  # lifts only the audio-length rule here: shows the frame padding
    inputs = padded._prepare(clips["six"])
    # a 6-s clip has 3 frames at 0.5 fps; the toolkit wants ⌊0.5 · 9.9⌋ = 4 and repeats the last
    assert inputs.details["vision_frames"] == 3 and inputs.details["vision_frames_used"] == 4
    assert "last frame repeated" in inputs.details["note"] and inputs.clips.shape[0] == 3 * 3
    longer = ImageBindScore(video_second=14.1)
    longer.smoke = True
    inputs = longer._prepare(clips["six"])
    assert inputs.details["vision_frames"] == 3 and inputs.details["vision_frames_used"] == 7
    assert "last frame repeated" in inputs.details["note"] and inputs.clips.shape[0] == 3 * 6
    corrupt = tmp_path / "bad.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 40)
    metric = ImageBindScore(smoke=True)
    metric.setup("cpu")
    bad, missing = metric.score_batch(
        [ScoreInput("b", "s", corrupt), ScoreInput("m", "s", tmp_path / "no.mp4")]
    )
    assert bad.status == "failed" and "cannot" in bad.reason
    assert missing.status == "failed" and "no such file" in missing.reason


def test_real_metric_without_weights_names_the_command(monkeypatch, tmp_path: Path) -> None:
    from nava_eval.metrics.weights import WeightsMissingError

    monkeypatch.setenv("NAVA_EVAL_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsMissingError, match="nava-eval weights download imagebind_huge"):
        ImageBindScore().setup("cpu")


@pytest.mark.slow
def test_score_files_ib_smoke(clips: dict[str, Path]) -> None:
    from click.testing import CliRunner

    from nava_eval.runners.cli.main import cli

    result = CliRunner().invoke(
        cli, ["score-files", "ib", "--smoke", "--device", "cpu", str(clips["six"]), str(clips["mute"])]
    )
    assert result.exit_code == 0, result.output
    six, mute = [json.loads(s) for s in result.output.splitlines() if s.startswith("{")]
    assert six["status"] == "ok" and six["protocol"] == "ib/mova-imagebind-huge-v1+smoke-random-weights"
    assert -1 <= six["ib"] <= 1 and six["clip_duration_s"] == 5.9
    assert mute["status"] == "skipped" and mute["reason"] == "no audio stream"


@pytest.mark.gpu
def test_cuda_fp16_autocast_agrees_with_cpu(clips: dict[str, Path]) -> None:
    """The toolkit runs ImageBind under fp16 autocast on CUDA; CPU twin: test_smoke_metric_scores_batched_as_one_at_a_time."""
    cpu = ImageBindScore(smoke=True)
    cpu.setup("cpu")
    gpu = ImageBindScore(smoke=True)
    gpu.setup("cuda")
    items = [ScoreInput(n, "s", clips[n]) for n in ("six", "other")]
    for a, b in zip(cpu.score_batch(items), gpu.score_batch(items), strict=True):
        assert a.status == b.status == "ok"
        assert b.values["ib"] == pytest.approx(a.values["ib"], abs=5e-3)  # fp16 rounding
