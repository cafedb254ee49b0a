"""`nava-eval verify-model` on the reference folder, on edited copies of it, and on key lists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

from nava_eval.nava.verify.model import FAIL, PASS, PENDING, read_tolerances, verify_folder
from nava_eval.runners.cli.verify_model import command

FORWARD_CASES = {
    "a_joint",
    "b_masked",
    "c_speaker",
    "c2_speaker_null",
    "c3_speaker_nopos",
    "d_i2v",
    "e_audio_only",
    "e2_audio_only_speaker",
    "h_pad_oddhw",
}


@pytest.fixture(scope="module")
def fixture_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "nava_tiny"


def _copy(fixture_dir: Path, dst: Path) -> Path:
    shutil.copytree(fixture_dir, dst)
    for path in dst.iterdir():
        path.chmod(0o644)
    return dst


def test_reference_folder_passes(fixture_dir: Path) -> None:
    result = verify_folder(fixture_dir)
    status = {r.name: r for r in result.results}
    assert result.ok
    assert {n for n, r in status.items() if r.status == PASS} >= FORWARD_CASES
    for name in FORWARD_CASES:
        assert status[name].max_abs < 1e-4 and status[name].max_rel is not None
    assert all(r.status in (PASS, PENDING) for r in result.results)
    assert set(status) == set(json.loads((fixture_dir / "cases.json").read_text())["cases"])


def test_tolerances_come_from_the_readme(fixture_dir: Path, tmp_path: Path) -> None:
    tol = read_tolerances(fixture_dir / "README.md")
    assert (tol.rtol, tol.atol, tol.trajectory) == (1e-4, 1e-4, 1e-3)
    readme = tmp_path / "README.md"
    readme.write_text("Suggested comparison: allclose with rtol 2e-3 and\natol 5e-4 for single forwards.")
    assert (read_tolerances(readme).rtol, read_tolerances(readme).atol) == (2e-3, 5e-4)


def test_cli_prints_one_line_per_case_and_exits_zero(fixture_dir: Path) -> None:
    result = CliRunner().invoke(command, [str(fixture_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(
        line.startswith("a_joint ") and " pass " in line and "max_abs" in line and "max_rel" in line
        for line in lines
    )
    cases = json.loads((fixture_dir / "cases.json").read_text())["cases"]
    assert len(lines) == len(cases) + 1
    assert lines[-1].startswith(f"{len(cases)} passed, 0 failed")


def test_wrong_reference_output_fails_with_exit_code_1(fixture_dir: Path, tmp_path: Path) -> None:
    folder = _copy(fixture_dir, tmp_path / "edited")
    tensors = load_file(str(folder / "cases.safetensors"))
    tensors["d_i2v.out_video"][0, 0, 0, 0] += 1e-3  # just above atol + rtol*|ref|
    save_file(tensors, str(folder / "cases.safetensors"))
    status = {r.name: r for r in verify_folder(folder).results}
    assert status["d_i2v"].status == FAIL and "out_video" in status["d_i2v"].detail
    assert status["a_joint"].status == PASS
    result = CliRunner().invoke(command, [str(folder)])
    assert result.exit_code == 1
    assert "1 failed" in result.output


def test_other_folder_of_the_same_format(fixture_dir: Path, tmp_path: Path) -> None:
    """Case names are free beyond their kind letter; unknown kinds fail instead of passing silently."""
    folder = _copy(fixture_dir, tmp_path / "renamed")
    listing = json.loads((folder / "cases.json").read_text())
    tensors = load_file(str(folder / "cases.safetensors"))
    renamed = {"b7_masked_again": "b_masked", "e5_tts": "e2_audio_only_speaker", "z_unknown": "a_joint"}
    cases = {}
    for new, old in renamed.items():
        cases[new] = listing["cases"][old]
        for key in [k for k in tensors if k.startswith(old + ".")]:
            tensors[new + key[len(old) :]] = tensors[key].clone()
    listing["cases"] = cases
    (folder / "cases.json").write_text(json.dumps(listing))
    save_file(tensors, str(folder / "cases.safetensors"))
    status = {r.name: r for r in verify_folder(folder).results}
    assert status["b7_masked_again"].status == PASS and status["e5_tts"].status == PASS
    assert status["z_unknown"].status == FAIL and "no runner" in status["z_unknown"].detail


def test_wrong_weights_are_one_clear_error(fixture_dir: Path, tmp_path: Path) -> None:
    folder = _copy(fixture_dir, tmp_path / "badweights")
    tensors = load_file(str(folder / "weights.safetensors"))
    del tensors["backbone.head_audio.head.bias"]
    save_file(tensors, str(folder / "weights.safetensors"))
    result = CliRunner().invoke(command, [str(folder)])
    assert result.exit_code == 1
    assert "weights.safetensors" in result.output and "backbone.head_audio.head.bias" in result.output


def test_preset_against_release_key_list(shared_dir: Path, tmp_path: Path) -> None:
    keys = shared_dir / "reference" / "nava_6b_keys.tsv"
    result = CliRunner().invoke(command, ["--preset", "nava-6b", "--keys", str(keys)])
    assert result.exit_code == 0, result.output
    assert "1052 tensors, 6,296,995,520 parameters" in result.output

    lines = keys.read_text().splitlines()
    edited = [line for line in lines if not line.startswith("backbone.head.head.bias\t")]
    edited = [line.replace("[3072, 48, 1, 2, 2]", "[3072, 48, 1, 4, 4]") for line in edited]
    bad = tmp_path / "keys.tsv"
    bad.write_text("\n".join(edited) + "\n")
    result = CliRunner().invoke(command, ["--preset", "nava-6b", "--keys", str(bad)])
    assert result.exit_code == 1
    assert "backbone.head.head.bias" in result.output
    assert (
        "backbone.patch_embedding.weight expected [3072, 48, 1, 4, 4] found [3072, 48, 1, 2, 2]"
        in result.output
    )


def test_usage_errors() -> None:
    assert CliRunner().invoke(command, []).exit_code == 2
    assert CliRunner().invoke(command, ["--preset", "nava-6b"]).exit_code == 2
    result = CliRunner().invoke(command, ["--preset", "nava-9b", "--keys", __file__])
    assert result.exit_code == 1 and "valid models" in result.output


def _only_cases(folder: Path, keep: set[str]) -> tuple[dict, dict]:
    listing = json.loads((folder / "cases.json").read_text())
    listing["cases"] = {k: v for k, v in listing["cases"].items() if k in keep}
    tensors = {
        k: v for k, v in load_file(str(folder / "cases.safetensors")).items() if k.split(".")[0] in keep
    }
    return listing, tensors


def test_guided_step_reads_its_scales_from_cases_json(fixture_dir: Path, tmp_path: Path) -> None:
    """A reference folder made with other guidance scales passes: the scales come from the case."""
    folder = _copy(fixture_dir, tmp_path / "other_scales")
    listing, tensors = _only_cases(folder, {"f_guided"})
    scales = {"g_v": 5.0, "g_a": 4.0, "g_va": 1.5, "g_aa": 0.5, "g_t": 2.5}
    listing["cases"]["f_guided"]["guidance"] = scales
    # The official combination (reference §6.4) recomputed from the stored passes with the new scales.
    p = {name: tensor for name, tensor in tensors.items() if name.startswith("f_guided.")}
    c, u, m, s = (p[f"f_guided.{x}_video"] for x in "CUMS")
    tensors["f_guided.guided_video"] = c + scales["g_v"] * (c - u) + scales["g_va"] * (c - m)
    c, u, m, s = (p[f"f_guided.{x}_audio"] for x in "CUMS")
    tensors["f_guided.guided_audio"] = (
        c + scales["g_a"] * (c - u) + scales["g_aa"] * (c - m) + scales["g_t"] * (c - s)
    )
    (folder / "cases.json").write_text(json.dumps(listing))
    save_file(tensors, str(folder / "cases.safetensors"))
    (result,) = verify_folder(folder).results
    assert result.status == PASS, result.detail
    # Stating the release's scales against these outputs fails: the scales are really used.
    listing["cases"]["f_guided"]["guidance"] = {"g_v": 3.0, "g_a": 2.0, "g_va": 3.0, "g_aa": 2.0, "g_t": 3.0}
    (folder / "cases.json").write_text(json.dumps(listing))
    (result,) = verify_folder(folder).results
    assert result.status == FAIL and "guided_video" in result.detail
    # A case without its scales is a clear failure naming what is missing.
    del listing["cases"]["f_guided"]["guidance"]["g_t"]
    (folder / "cases.json").write_text(json.dumps(listing))
    (result,) = verify_folder(folder).results
    assert result.status == FAIL and "lacks g_t" in result.detail
