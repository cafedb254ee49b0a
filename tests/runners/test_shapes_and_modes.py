"""--width/--height/--frames on run and generate (command line, --config, jsonl: lines), T2A lines,
and what the dry run and run.json say about them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner

from nava_eval.benchmarks.smoke import write_smoke_dataset
from nava_eval.nava.media import read_mp4
from nava_eval.rundir.run_file import load_run_file
from nava_eval.runners.cli.main import cli
from nava_eval.runners.presets import get_preset
from nava_eval.runners.run import RunRequest


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory: pytest.TempPathFactory):
    return write_smoke_dataset(tmp_path_factory.mktemp("smoke-data"))


def _plan(*args: str) -> dict:
    result = invoke(*args, "--dry-run")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def versebench_dir(tmp_path: Path) -> Path:
    return write_smoke_dataset(tmp_path / "sd").versebench


@pytest.mark.parametrize("command", ["run", "generate"])
def test_shape_options_reach_the_plan_and_the_hash(
    command: str, tmp_path: Path, versebench_dir: Path
) -> None:
    base = _plan(
        command,
        "versebench",
        "--preset",
        "nava",
        "--run-dir",
        str(tmp_path / "r"),
        "--data-dir",
        str(versebench_dir),
    )
    portrait = _plan(
        command, "versebench", "--preset", "nava", "--run-dir", str(tmp_path / "r"), "--data-dir", str(versebench_dir),
        "--width", "704", "--height", "1280", "--frames", "55",
    )  # fmt: skip
    assert (portrait["width"], portrait["height"], portrait["latent_frames"]) == (704, 1280, 55)
    shape = portrait["shape"]
    assert (
        shape["orientation"] == "portrait" and shape["pixel_frames"] == 217 and shape["audio_tokens"] == 227
    )
    assert shape["latent_grid"] == [55, 80, 44] and shape["seconds_at_fps"] == pytest.approx(
        217 / 24, abs=1e-4
    )
    assert portrait["spec_hash"] != base["spec_hash"]


def test_config_file_takes_the_shape(tmp_path: Path, versebench_dir: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(f"width: 960\nheight: 960\nframes: 61\ndata_dir: {versebench_dir}\n", encoding="utf-8")
    plan = _plan(
        "run", "versebench", "--config", str(config), "--preset", "nava", "--run-dir", str(tmp_path / "r")
    )
    assert plan["shape"]["orientation"] == "square" and plan["latent_frames"] == 61


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("--width", "1000"), 1, "width: 1000 is not a multiple of 16"),
        (("--height", "700"), 1, "nearest valid: 704"),
        (
            ("--width", "1000", "--height", "700"),
            1,
            "nearest valid shape: --width 1008 --height 704 --frames 37",
        ),
        # Out of range is click's own refusal, naming the range (the audio RoPE table's 246 frames).
        (("--frames", "300"), 2, "1<=x<=246"),
        (("--width", "8"), 2, "32<=x<=32768"),
    ],
)
def test_a_shape_the_model_cannot_take_is_refused(
    tmp_path: Path, versebench_dir: Path, args, code, expected
) -> None:
    result = invoke(
        "run", "versebench", "--preset", "nava", "--data-dir", str(versebench_dir), "--run-dir", str(tmp_path / "r"),
        *args, "--dry-run",
    )  # fmt: skip
    assert result.exit_code == code and expected in result.output and "Traceback" not in result.output


def test_smoke_runs_a_portrait_and_a_longer_clip(smoke_data, tmp_path: Path) -> None:
    run_dir = tmp_path / "user"
    result = invoke(
        "generate", f"jsonl:{smoke_data.user_prompts}", "--preset", "smoke", "--run-dir", str(run_dir),
        "--no-progress", "--frames", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    clips = {p.stem: read_mp4(p) for p in (run_dir / "outputs" / "default").glob("*.mp4")}
    assert set(clips) == {"talk", "waves", "portrait", "long"}
    # portrait: the line's 48×80 (an odd 3×5 latent grid), frames from --frames 2 → 5 pixel frames;
    # long: the line's 7 latent frames → 25 pixel frames on the run's 64×64.
    assert clips["portrait"].frames.shape == (5, 80, 48, 3)
    assert clips["long"].frames.shape == (25, 64, 64, 3)
    assert clips["waves"].frames.shape == (5, 64, 64, 3)
    # The audio track follows the clip: ceil(25/24·25) = 27 tokens → (27·4 − 3)·160 samples (AAC-padded).
    assert clips["long"].audio.shape[-1] >= (27 * 4 - 3) * 160 > clips["waves"].audio.shape[-1]
    spec = load_run_file(run_dir).spec
    assert spec.generation.latent_frames == 2 and load_run_file(run_dir).config["frames"] == 2


def test_t2a_lines_run_as_inference_t2a(smoke_data, tmp_path: Path) -> None:
    assert RunRequest(benchmark=f"jsonl:{smoke_data.t2a_prompts}").preset_name() == "t2a"
    g = get_preset("t2a").generation
    assert (g.t2a_seconds, g.guidance.align_3d, g.guidance.timbre, g.guidance.audio) == (6.0, False, 3.0, 2.0)
    assert get_preset("smoke", f"jsonl:{smoke_data.t2a_prompts}").generation.guidance == g.guidance
    run_dir = tmp_path / "t2a"
    result = invoke(
        "run", f"jsonl:{smoke_data.t2a_prompts}", "--preset", "smoke", "--run-dir", str(run_dir), "--no-progress"
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # wav outputs are scored with the audio metrics (SIM where the line has a speaker wav), no video ones.
    assert load_run_file(run_dir).spec.metrics == ["audiobox", "sim"]
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert {"pq", "sim"} <= set(results["metrics"]) and "video_quality" not in results["metrics"]
    lengths = {p.stem: soundfile.info(p).frames for p in (run_dir / "outputs" / "default").glob("*.wav")}
    # 6 s (150 tokens) by default, the line's 2 s (50 tokens): (tokens·4 − 3)·160 samples.
    assert lengths == {"rain": (150 * 4 - 3) * 160, "hello": (50 * 4 - 3) * 160}
    bad = invoke(
        "run", f"jsonl:{smoke_data.t2a_prompts}", "--preset", "nava", "--run-dir", str(tmp_path / "x")
    )
    assert bad.exit_code == 1 and "--preset t2a" in bad.output


def test_preset_t2a_reads_every_line_as_t2a_like_the_script(tmp_path: Path) -> None:
    # NAVA's infer_cases/t2a prompts carry no mode: inference_t2a.sh's config makes them audio-only.
    path = tmp_path / "t2a.jsonl"
    path.write_text('{"prompt": "rain on a roof"}\n{"prompt": "a bell", "duration": 3}\n', encoding="utf-8")
    refused = invoke("run", f"jsonl:{path}", "--run-dir", str(tmp_path / "r0"), "--dry-run")
    assert refused.exit_code == 1 and "only a T2A line" in refused.output  # as T2AV, a duration is wrong
    plan = _plan("run", f"jsonl:{path}", "--preset", "t2a", "--run-dir", str(tmp_path / "r"))
    assert [(s["mode"], s["seconds"]) for s in plan["samples"]] == [("t2a", 6.0), ("t2a", 3.0)]
