"""Weight files from outside are read without running their code, and a bad one is named plainly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from nava_eval.weight_files import WeightFileError, read_safetensors_file, read_torch_file

UNSAFE_ADVICE = "weights_only` set to `False"


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty.model"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.model"
    noise.write_bytes(bytes(range(256)) * 20)
    truncated = tmp_path / "truncated.pth"
    torch.save({"w": torch.ones(64)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    return {"empty": empty, "noise": noise, "truncated": truncated}


@pytest.mark.parametrize("kind", ["empty", "noise", "truncated"])
@pytest.mark.parametrize("mmap", [False, True])
def test_bad_torch_files_are_named_without_unsafe_advice(bad_files, kind, mmap):
    with pytest.raises(WeightFileError) as err:
        read_torch_file(bad_files[kind], "SyncNet weights", mmap=mmap)
    message = str(err.value)
    assert str(bad_files[kind]) in message and "SyncNet weights" in message
    assert UNSAFE_ADVICE not in message and "weights_only=False" not in message
    assert ("empty" in message) if kind == "empty" else ("not a readable" in message)


def test_good_files_read(tmp_path):
    from safetensors.torch import save_file

    pth = tmp_path / "w.pth"
    torch.save({"w": torch.arange(3.0)}, pth)
    assert torch.equal(read_torch_file(pth, "test")["w"], torch.arange(3.0))
    st = tmp_path / "w.safetensors"
    save_file({"w": torch.arange(3.0)}, str(st))
    assert torch.equal(read_safetensors_file(st, "test")["w"], torch.arange(3.0))
    for raw in (b"", b"\xff" * 100):
        st.write_bytes(raw)
        with pytest.raises(WeightFileError, match=rf"{st}.*(empty|not a readable safetensors)"):
            read_safetensors_file(st, "test")
    with pytest.raises(WeightFileError, match="no such file"):
        read_torch_file(tmp_path / "missing.pth", "test")


def test_score_files_names_a_bad_weight_file_instead_of_aborting(bad_files, tmp_path):
    from nava_eval.runners.cli.main import cli

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not decoded: the weights fail first")
    for syncnet in (bad_files["empty"], bad_files["noise"]):
        result = CliRunner().invoke(
            cli,
            ["score-files", "sync", str(clip), "--device", "cpu",
             "--weights", f"syncnet={syncnet}", "--weights", f"s3fd={bad_files['noise']}"],
        )  # fmt: skip
        assert result.exit_code == 1, result.output
        assert str(syncnet) in result.output and "Aborted" not in result.output
        assert UNSAFE_ADVICE not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("kind", ["empty", "noise", "truncated"])
def test_audio_and_av_scorer_checkpoints_are_named_without_unsafe_advice(bad_files, kind):
    """Audiobox, CLAP and ImageBind read their files through the same reader as every other model."""
    from nava_eval.metrics.audiobox import load_audiobox
    from nava_eval.metrics.clap import read_checkpoint
    from nava_eval.metrics.ib import _read_state

    for load in (load_audiobox, read_checkpoint, _read_state):
        with pytest.raises(WeightFileError) as err:
            load(bad_files[kind])
        message = str(err.value)
        assert str(bad_files[kind]) in message
        assert UNSAFE_ADVICE not in message and "weights_only=False" not in message
