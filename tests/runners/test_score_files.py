"""`nava-eval score-files` and `nava-eval weights` through the CLI (click's runner)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from nava_eval.runners.cli.main import cli
from nava_eval.runners.score_files import ScoreFilesRequest, expand_files, score_files


@pytest.fixture(scope="module")
def syncnet_fixture(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    fixture = shared_dir / "fixtures" / "syncnet"
    out = tmp_path_factory.mktemp("w")
    with tarfile.open(fixture / "weights.tar.xz", "r:xz") as tar:
        tar.extractall(out, members=[tar.getmember("syncnet_random_seed1234.safetensors")], filter="data")
    expected = json.loads((fixture / "expected.json").read_text())
    return fixture, out / "syncnet_random_seed1234.safetensors", expected


@pytest.mark.slow
def test_score_files_sync_cropped_details_matches_fixture(syncnet_fixture, tmp_path: Path) -> None:
    fixture, weights, expected = syncnet_fixture
    result = CliRunner().invoke(
        cli,
        [
            "score-files", "sync", "--cropped", "--details", "--device", "cpu",
            "--weights", f"syncnet={weights}", str(fixture / "clip" / "clip.mp4"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(s) for s in result.output.splitlines() if s.startswith("{")]
    exp = expected["official_mp4_pipeline"]
    assert line["status"] == "ok" and line["protocol"] == "sync/syncnet-lse-pass-v2+cropped"
    assert line["field_protocols"]["sync_c"] == "sync/syncnet-lse-v1+cropped"
    assert line["field_protocols"]["sync_d_mova"] == "sync/mova-lse-v1+cropped"
    # one pre-cropped track: MOVA's best track is that track
    assert (line["sync_c_mova"], line["sync_d_mova"]) == (line["sync_c"], line["sync_d"])
    assert line["offset"] == exp["av_offset"] and line["n_tracks"] == 1
    assert abs(line["sync_d"] - exp["sync_d_minval"]) < 1e-3
    assert abs(line["sync_c"] - exp["sync_c_conf"]) < 1e-3
    assert len(line["mean_dist"]) == 31
    assert max(abs(a - b) for a, b in zip(line["mean_dist"], exp["mean_dist_per_offset"], strict=True)) < 1e-3


def test_score_files_errors_are_short_and_precise(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NAVA_EVAL_WEIGHTS_DIR", str(tmp_path / "cache"))
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"x")
    runner = CliRunner()
    r = runner.invoke(cli, ["score-files", "sync", str(clip), "--device", "cpu"])
    assert r.exit_code == 1
    assert "nava-eval weights download syncnet" in r.output and "syncnet_v2.model" in r.output
    r = runner.invoke(cli, ["score-files", "sync", str(clip), "--weights", "whisper=x", "--device", "cpu"])
    assert r.exit_code == 1 and "not used by metric 'sync'" in r.output
    r = runner.invoke(cli, ["score-files", "nosuchmetric", str(clip)])
    assert r.exit_code == 1 and "valid metrics" in r.output
    r = runner.invoke(cli, ["score-files", "sync", str(clip), "--weights", "syncnet"])
    assert r.exit_code == 1 and "NAME=PATH" in r.output


@pytest.mark.slow
def test_score_files_folder_with_smoke_video_quality(tmp_path: Path) -> None:
    from nava_eval.runners.perf.sync import write_synthetic_clip

    folder = tmp_path / "clips"
    write_synthetic_clip(folder / "b.mp4", n_frames=4, size=(64, 64), seed=1)
    write_synthetic_clip(folder / "a.mp4", n_frames=4, size=(64, 64), seed=2)
    (folder / "notes.txt").write_text("ignored")
    (folder / "c.mp4").write_bytes(b"corrupt")
    assert [p.name for p in expand_files([folder])] == ["a.mp4", "b.mp4", "c.mp4"]
    r = CliRunner().invoke(cli, ["score-files", "video_quality", "--smoke", "--device", "cpu", str(folder)])
    lines = [json.loads(s) for s in r.output.splitlines() if s.startswith("{")]
    assert [Path(x["file"]).name for x in lines] == ["a.mp4", "b.mp4", "c.mp4"]
    assert [x["status"] for x in lines] == ["ok", "ok", "failed"]
    assert r.exit_code == 1  # a failed file sets the exit code
    assert 0 < lines[0]["video_quality"] < 1 and lines[0]["protocol"].endswith("+smoke-random-weights")
    assert "reason" in lines[2]


def test_score_files_builds_generic_inputs(tmp_path: Path, monkeypatch) -> None:
    """The runner is generic: it hands --reference/--text/--language to any registered metric."""
    from nava_eval.metrics import base

    seen = {}

    class Echo:
        name, protocol, fields, requires, description = "echo", "echo/v1", (), frozenset(), ""

        def __init__(self, **options):
            seen["options"] = options

        def setup(self, device="cpu"):
            seen["device"] = device

        def score_batch(self, items):
            seen["items"] = list(items)
            return [base.ScoreOutcome.ok(n=len(it.reference_text or "")) for it in items]

    monkeypatch.setattr(base, "get_metric", lambda name, **kw: Echo(**kw))
    ref = tmp_path / "ref.wav"
    ref.write_bytes(b"")
    files = (tmp_path / "x.wav", tmp_path / "y.wav")
    req = ScoreFilesRequest(
        "echo", files, reference=ref, text="hello there", language="en", device="cpu", details=True
    )
    lines = list(score_files(req))
    assert [line["n"] for line in lines] == [11, 11]
    assert seen["options"] == {"weights": {}, "smoke": False, "details": True}
    item = seen["items"][0]
    assert item.reference_audio == ref and item.language == "en" and item.id == "x"


def test_weights_cli_list_verify_download_offline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NAVA_EVAL_WEIGHTS_DIR", str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(cli, ["weights", "list"])
    assert r.exit_code == 0 and "syncnet_v2.model" in r.output and "sfd_face.pth" in r.output
    assert "nava-eval weights download syncnet" in r.output
    r = runner.invoke(cli, ["weights", "verify", "syncnet"])
    assert r.exit_code == 0 and "missing" in r.output
    r = runner.invoke(cli, ["weights", "download", "--for-metric", "sync", "--offline"])
    assert r.exit_code == 1 and "offline: not downloaded" in r.output
    r = runner.invoke(cli, ["--offline", "weights", "download", "syncnet"])  # the global switch
    assert r.exit_code == 1 and "offline: not downloaded" in r.output
    fake = tmp_path / "syncnet" / "syncnet_v2.model"
    fake.parent.mkdir()
    fake.write_bytes(b"fake")
    r = runner.invoke(cli, ["weights", "verify", "syncnet"])
    assert r.exit_code == 1 and "has 4 bytes, expected 54573114" in r.output
    assert "deleted it from the cache" in r.output and "nava-eval weights download syncnet" in r.output
    assert not fake.exists()


def test_request_refuses_a_batch_size_below_one() -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        ScoreFilesRequest(metric="sync", files=(Path("a.mp4"),), batch_size=0)


def test_score_files_audio_metrics_with_real_weights_paths(
    tmp_path: Path, reference_wavs: dict[str, Path]
) -> None:
    """audiobox and clap through the CLI with a `--weights NAME=PATH` checkpoint and `--caption`."""
    from tests.seeded_weights import audiobox_tiny_checkpoint

    tiny = audiobox_tiny_checkpoint(tmp_path)
    runner = CliRunner()
    wav = reference_wavs["clap"] / "tone_16k_3s.wav"
    # The tiny audiobox checkpoint has another WavLM size than the real one: loading it as the real
    # model must fail with a message naming the keys, and the exit code says so.
    r = runner.invoke(
        cli,
        ["score-files", "audiobox", str(wav), "--device", "cpu", "--weights",
         f"audiobox-aesthetics={tiny}"],
    )  # fmt: skip
    assert r.exit_code == 1 and "audiobox_tiny_checkpoint.pt" in r.output
    r = runner.invoke(
        cli,
        ["score-files", "clap", str(wav), "--smoke", "--device", "cpu", "--caption", "a hum",
         "--reference", str(reference_wavs["clap"] / "tone_8k_10s.wav")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    (line,) = [json.loads(s) for s in r.output.splitlines() if s.startswith("{")]
    assert line["status"] == "ok" and line["caption"] == "a hum" and line["fd"] > 0
    assert line["protocol"] == "cs/versebench-clap-v1+smoke-random-weights"
    assert len(line["embedding"]) == len(line["reference_embedding"]) == 512
    r = runner.invoke(cli, ["score-files", "audiobox", str(wav), "--smoke", "--device", "cpu"])
    (line,) = [json.loads(s) for s in r.output.splitlines() if s.startswith("{")]
    assert r.exit_code == 0 and line["status"] == "ok" and {"pq", "ce", "cu", "pc"} <= set(line)


def test_score_files_clap_mova_takes_the_caption_as_the_items_prompt(
    tmp_path: Path, reference_wavs: dict[str, Path]
) -> None:
    wav = reference_wavs["clap"] / "tone_16k_3s.wav"
    runner = CliRunner()
    r = runner.invoke(
        cli, ["score-files", "clap_mova", str(wav), "--smoke", "--device", "cpu", "--caption", "a hum"]
    )
    assert r.exit_code == 0, r.output
    (line,) = [json.loads(s) for s in r.output.splitlines() if s.startswith("{")]
    assert line["status"] == "ok" and line["prompt"] == "a hum" and -1.0 <= line["cs_mova"] <= 1.0
    r = runner.invoke(cli, ["score-files", "clap_mova", str(wav), "--smoke", "--device", "cpu"])
    (line,) = [json.loads(s) for s in r.output.splitlines() if s.startswith("{")]
    assert r.exit_code == 0 and line["status"] == "skipped" and "no prompt" in line["reason"]
