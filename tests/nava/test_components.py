"""Component builders: the seeded nava-tiny set and the release file manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nava_eval.nava.components import (
    AUDIO_VAE_FILE,
    DIT_FILE,
    FETCH_COMMAND,
    T5_FILE,
    VIDEO_VAE_FILE,
    build_components,
    release_files,
)


def test_tiny_components_are_seeded() -> None:
    one, two = build_components("nava-tiny"), build_components("nava-tiny")
    assert one.smoke and one.model_name == "nava-tiny"
    for a, b in zip(one.model.state_dict().values(), two.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    a, b = one.text_encoder.encode(["hello"])[0], two.text_encoder.encode(["hello"])[0]
    torch.testing.assert_close(a.features, b.features)
    assert a.features.shape[1] == one.config.text_dim


def test_unknown_preset() -> None:
    with pytest.raises(ValueError, match="nava-tiny, nava-6b"):
        build_components("nava-7b")


def test_release_manifest_names_every_missing_file(tmp_path: Path) -> None:
    (tmp_path / DIT_FILE).write_bytes(b"")
    (tmp_path / Path(T5_FILE).parent).mkdir(parents=True)
    (tmp_path / T5_FILE).write_bytes(b"")
    with pytest.raises(FileNotFoundError) as err:
        release_files(tmp_path)
    message = str(err.value)
    assert VIDEO_VAE_FILE in message and AUDIO_VAE_FILE in message and FETCH_COMMAND in message
    assert f"{DIT_FILE}," not in message and T5_FILE not in message


def test_release_preset_with_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_components("nava-6b", weights_dir=tmp_path / "absent")


def test_download_plan_lists_release_files() -> None:
    from click.testing import CliRunner

    from nava_eval.nava.weights_download import nava_download_plan
    from nava_eval.runners.cli.weights_nava import command

    plan = nava_download_plan()
    assert plan[0] == DIT_FILE and {VIDEO_VAE_FILE, T5_FILE, AUDIO_VAE_FILE} <= set(plan)
    assert nava_download_plan("fp8_e4m3fn")[0] == "NAVA_fp8.safetensors"
    assert nava_download_plan("all")[:2] == (DIT_FILE, "NAVA_fp8.safetensors")
    with pytest.raises(ValueError, match="weight_dtype"):
        nava_download_plan("int4")
    out = CliRunner().invoke(command, ["--dry-run"])
    assert out.exit_code == 0 and out.output.splitlines()[0] == DIT_FILE and "ReDimNet" in out.output
