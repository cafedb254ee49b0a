"""Submission bundles: submit → validate round trip, tampering, and a set of malicious zips, all rejected."""

from __future__ import annotations

import hashlib
import json
import stat
import warnings
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from nava_eval.reports.leaderboard import (
    MANIFEST_NAME,
    known_field_protocol,
    known_protocol,
    submit,
    validate_submission,
)

VALUES = {
    "sync_c": {"set1": [6.0, 7.0, 8.0], "set3": [5.0, 6.5]},
    "sync_d": {"set1": [8.0, 8.5, 7.0], "set3": [9.0, 8.0]},
}


@pytest.fixture
def run_dir(make_run) -> Path:
    return make_run("nava-run", VALUES)


@pytest.fixture
def bundle(run_dir: Path, tmp_path: Path) -> Path:
    return submit(run_dir, tmp_path / "submission.zip")


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rebuild(src: Path, dst: Path, changes: dict[str, bytes | None], fix_manifest: bool = True) -> Path:
    """Copy `src` with members replaced/removed (None); re-hash them in the manifest so only the change is wrong."""
    members = _members(src)
    manifest = json.loads(members[MANIFEST_NAME])
    for name, data in changes.items():
        if data is None:
            members.pop(name, None)
            if fix_manifest:
                manifest["files"].pop(name, None)
        else:
            members[name] = data
            if fix_manifest and name in manifest["files"]:
                manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    if MANIFEST_NAME not in changes:
        members[MANIFEST_NAME] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def _errors(path: Path, **options: int) -> str:
    report = validate_submission(path, **options)
    assert not report.ok, f"{path.name} should be rejected"
    return "\n".join(report.errors)


def test_submit_then_validate(bundle: Path, run_dir: Path) -> None:
    members = _members(bundle)
    assert sorted(members) == sorted(
        [MANIFEST_NAME, "results.json", "run.json", "samples.jsonl", "scores/sync.jsonl"]
    )
    manifest = json.loads(members[MANIFEST_NAME])
    assert manifest["counts"] == {"set1": 3, "set3": 2}
    assert manifest["with_media"] is False
    out = manifest["outputs"]["outputs/set1/set1-000.mp4"]
    assert out["sha256"] == hashlib.sha256((run_dir / "outputs/set1/set1-000.mp4").read_bytes()).hexdigest()
    assert manifest["files"]["results.json"]["sha256"] == hashlib.sha256(members["results.json"]).hexdigest()

    report = validate_submission(bundle)
    assert report.ok, report.errors
    assert report.benchmark == "versebench" and report.counts == {"set1": 3, "set3": 2}
    assert any("incomplete versebench" in w for w in report.warnings)  # 3/205 and 2/100: a partial run


def test_with_media(run_dir: Path, tmp_path: Path) -> None:
    path = submit(run_dir, tmp_path / "media.zip", with_media=True)
    members = _members(path)
    assert members["outputs/set3/set3-001.mp4"] == (run_dir / "outputs/set3/set3-001.mp4").read_bytes()
    report = validate_submission(path)
    assert report.ok and report.with_media, report.errors
    # A swapped video is caught by its hash.
    bad = _rebuild(path, tmp_path / "swapped.zip", {"outputs/set3/set3-001.mp4": b"another video"})
    assert "outputs/set3/set3-001.mp4: sha256/size do not match" in _errors(bad)


def test_submit_refuses_changed_outputs(run_dir: Path, tmp_path: Path) -> None:
    (run_dir / "outputs/set1/set1-001.mp4").write_bytes(b"regenerated without rescoring")
    with pytest.raises(ValueError, match="changed after it was recorded"):
        submit(run_dir, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_tampered_contents_rejected(bundle: Path, tmp_path: Path) -> None:
    results = json.loads(_members(bundle)["results.json"])
    results["metrics"]["sync_c"]["value"] = 99.0
    edited = json.dumps(results).encode()
    assert "results.json: sha256/size" in _errors(
        _rebuild(bundle, tmp_path / "t1.zip", {"results.json": edited}, fix_manifest=False)
    )

    results["metrics"]["sync_c"]["protocol"] = "sync/made-up"
    assert "unknown protocol 'sync/made-up'" in _errors(
        _rebuild(bundle, tmp_path / "t2.zip", {"results.json": json.dumps(results).encode()})
    )

    manifest = json.loads(_members(bundle)[MANIFEST_NAME])
    manifest["counts"] = {"set1": 3, "set3": 5}
    assert "differ from submission.json counts" in _errors(
        _rebuild(bundle, tmp_path / "t3.zip", {MANIFEST_NAME: json.dumps(manifest).encode()})
    )

    assert "scores/sync.jsonl: listed in submission.json but missing" in _errors(
        _rebuild(bundle, tmp_path / "t4.zip", {"scores/sync.jsonl": None}, fix_manifest=False)
    )

    results = json.loads(_members(bundle)["results.json"])
    results["metrics"]["sync_c"]["n"] = 40
    assert "metrics.sync_c.n = 40 > 5 samples" in _errors(
        _rebuild(bundle, tmp_path / "t5.zip", {"results.json": json.dumps(results).encode()})
    )

    assert "results.json: not valid JSON" in _errors(
        _rebuild(bundle, tmp_path / "t6.zip", {"results.json": b"{not json"})
    )
    extra_media = _rebuild(bundle, tmp_path / "t7.zip", {"outputs/set1/set1-000.mp4": b"x"})
    assert "media file(s) in the zip but submission.json says with_media is false" in _errors(extra_media)


def _write_raw(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on the duplicate name we write on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for info, data in entries:
                zf.writestr(info, data)
    return path


def _symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def _mark_encrypted(path: Path, name: str) -> Path:
    """Set the "encrypted" flag of `name` in the central directory (zipfile cannot write encrypted members)."""
    data = bytearray(path.read_bytes())
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        length = int.from_bytes(data[start + 28 : start + 30], "little")
        if data[start + 46 : start + 46 + length] == name.encode():
            data[start + 8] |= 0x1
        start += 4
    path.write_bytes(bytes(data))
    return path


def test_malicious_zips_are_all_rejected(bundle: Path, tmp_path: Path) -> None:
    good = list(_members(bundle).items())
    cases: dict[str, tuple[list, str]] = {
        "absolute": ([*good, ("/etc/cron.d/evil", b"x")], "absolute path"),
        "windows-absolute": ([*good, ("C:/evil.json", b"x")], "absolute path"),
        "dotdot": ([*good, ("scores/../../evil.jsonl", b"x")], "'..' component"),
        "dotdot-backslash": ([*good, ("outputs\\..\\..\\evil.mp4", b"x")], "'..' component"),
        "symlink": ([*good, _symlink("scores/link.jsonl", "/etc/passwd")], "symbolic link"),
        "duplicate": ([*good, ("results.json", b"{}")], "duplicate member name(s): results.json"),
        "case-clash": ([*good, ("Results.json", b"{}")], "differing only in case"),
        "pickle": ([*good, ("scores/model.pkl", b"\x80\x04K\x01.")], "unexpected file"),
        "newline-name": ([*good, ("scores/x.jsonl\n", b"{}")], "unexpected file"),
        "long-name": ([*good, ("scores/" + "x" * 300 + ".jsonl", b"{}")], "unexpected file"),
        "no-manifest": ([(n, d) for n, d in good if n != MANIFEST_NAME], "no submission.json"),
    }
    for name, (entries, expected) in cases.items():
        path = _write_raw(tmp_path / f"{name}.zip", entries)
        assert expected in _errors(path), name

    encrypted = _write_raw(tmp_path / "encrypted.zip", [*good, ("scores/enc.jsonl", b"{}")])
    assert "encrypted member" in _errors(_mark_encrypted(encrypted, "scores/enc.jsonl"))

    # Zip bomb: 64 MiB of zeros deflate to ~64 KiB; declared size over the limit is refused before inflating.
    bomb = _write_raw(tmp_path / "bomb.zip", [*good, ("outputs/set1/set1-000.mp4", b"\0" * (64 << 20))])
    assert bomb.stat().st_size < 1 << 20
    assert "exceeds the limit" in _errors(bomb, max_unpacked_bytes=32 << 20)

    # A bomb that lies about its size in the headers: caught while inflating (size or CRC mismatch).
    liar = tmp_path / "liar.zip"
    data = bytearray(_write_raw(liar, [(MANIFEST_NAME, b"\0" * (1 << 20))]).read_bytes())
    size = (1 << 20).to_bytes(4, "little")
    small = (100).to_bytes(4, "little")
    assert data.count(size) == 2  # local header and central directory
    liar.write_bytes(bytes(data).replace(size, small))
    assert any(s in _errors(liar) for s in ("declared size", "corrupt", "bytes read"))

    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"PK\x03\x04 definitely not a zip")
    assert "not a zip file" in _errors(not_zip)


def test_known_protocol() -> None:
    assert known_protocol("sync", "sync/syncnet-lse-v1") is None
    assert known_protocol("wer", "wer/versebench-v1+smoke-random-weights") is None
    assert "unknown protocol" in (known_protocol("sync", "wer/seedtts-v1") or "")
    assert "unknown metric" in (known_protocol("fid", "fid/x-v1") or "")
    assert known_protocol("sync", "sync/mova-best-track-v1") is None
    assert "unknown protocol" in (known_protocol("sync", "sync/mova-best-track-v1\n") or "")


def test_cli_submit_and_validate(run_dir: Path, tmp_path: Path) -> None:
    from nava_eval.runners.cli.submit import command as submit_command
    from nava_eval.runners.cli.validate_submission import command as validate_command

    out = tmp_path / "cli.zip"
    result = CliRunner().invoke(submit_command, [str(run_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "valid submission" in result.output and out.is_file()
    result = CliRunner().invoke(validate_command, [str(out)])
    assert result.exit_code == 0 and "valid submission" in result.output
    bad = _write_raw(tmp_path / "bad.zip", [("../x", b"1")])
    result = CliRunner().invoke(validate_command, [str(bad)])
    assert result.exit_code == 1 and "INVALID" in result.output and "'..' component" in result.output


def _with_results(bundle: Path, dst: Path, edit) -> Path:
    results = json.loads(_members(bundle)["results.json"])
    edit(results)
    return _rebuild(bundle, dst, {"results.json": json.dumps(results).encode()})  # manifest re-hashed


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda r: r["metrics"]["sync_c"].__setitem__("value", 7.9), id="value"),
        pytest.param(lambda r: r["metrics"]["sync_d"].__setitem__("ci95", [7.0, 7.1]), id="ci"),
        pytest.param(lambda r: r["metrics"]["sync_c"].__setitem__("n", 4), id="n"),
        pytest.param(
            lambda r: r["metrics"]["sync_c"]["per_set"]["set3"].__setitem__("value", 9.0), id="per-set"
        ),
        pytest.param(lambda r: r["metrics"]["sync_d"].__setitem__("direction", "higher"), id="direction"),
    ],
)
def test_every_aggregate_is_recomputed_from_the_per_sample_scores(bundle: Path, tmp_path: Path, edit) -> None:
    assert validate_submission(bundle).ok
    errors = _errors(_with_results(bundle, tmp_path / "tampered.zip", edit))
    assert "per-sample scores" in errors or "registry" in errors


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_rejected(bundle: Path, tmp_path: Path, bad: str) -> None:
    text = _members(bundle)["results.json"].decode()
    results = json.loads(text)
    value = results["metrics"]["sync_c"]["value"]
    edited = text.replace(json.dumps(value), bad, 1).encode()
    assert bad.encode() in edited
    errors = _errors(_rebuild(bundle, tmp_path / "nan.zip", {"results.json": edited}))
    assert "results.json" in errors and "not a finite number" in errors


def test_deeply_nested_json_is_an_error_not_a_traceback(bundle: Path, tmp_path: Path) -> None:
    deep = b'{"schema": "nava-eval/results/v1", "notes": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    errors = _errors(_rebuild(bundle, tmp_path / "deep.zip", {"results.json": deep}))
    assert "results.json: JSON nested too deeply" in errors


def test_metadata_is_bounded_before_it_is_read(bundle: Path, tmp_path: Path) -> None:
    import tracemalloc

    good = list(_members(bundle).items())
    zeros = b"\0" * (24 << 20)  # deflates to ~24 KiB each; each under the per-member cap
    # Not in the manifest: refused on the manifest check, before a byte of them is inflated.
    unlisted = _write_raw(
        tmp_path / "unlisted.zip", [*good, *((f"scores/pad{i}.jsonl", zeros) for i in range(6))]
    )
    # Listed with their sizes (a crafted manifest): refused on the total metadata budget.
    manifest = json.loads(dict(good)[MANIFEST_NAME])
    for i in range(6):
        manifest["files"][f"scores/pad{i}.jsonl"] = {"sha256": "0" * 64, "size": len(zeros)}
    crafted = [(n, d) for n, d in good if n != MANIFEST_NAME] + [
        (MANIFEST_NAME, json.dumps(manifest).encode())
    ]
    listed = _write_raw(
        tmp_path / "listed.zip", [*crafted, *((f"scores/pad{i}.jsonl", zeros) for i in range(6))]
    )
    del zeros
    for path, expected in ((unlisted, "not in submission.json"), (listed, "metadata")):
        assert path.stat().st_size < 2 << 20
        tracemalloc.start()
        errors = _errors(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert expected in errors, errors
        assert peak < 16 << 20, f"{path.name}: validation peaked at {peak >> 20} MiB"


def test_submit_of_a_user_prompt_run_validates(make_run, tmp_path: Path) -> None:
    run = make_run("prompts", VALUES, benchmark="jsonl")
    report = validate_submission(submit(run, tmp_path / "prompts.zip"))
    assert report.ok, report.errors
    assert any("user prompt set" in w for w in report.warnings)


def test_submit_refuses_to_write_inside_the_run(run_dir: Path) -> None:
    before = (run_dir / "results.json").read_bytes()
    for target in (run_dir / "results.json", run_dir / "scores" / "bundle.zip", run_dir / "x.zip"):
        with pytest.raises(ValueError, match="inside the run directory"):
            submit(run_dir, target)
    assert (run_dir / "results.json").read_bytes() == before


def test_known_field_protocol_uses_the_fields_own_protocol() -> None:
    # clap's pass is cs/versebench-clap-v1; its fd and fd_set fields carry their own FD protocols.
    assert known_field_protocol("cs", "clap", "cs/versebench-clap-v1+smoke-random-weights") is None
    assert known_field_protocol("fd", "clap", "fd/versebench-clap-perclip-v1") is None
    assert known_field_protocol("fd_set", "clap", "fd/versebench-clap-set-v1+smoke-random-weights") is None
    assert "unknown protocol" in (known_field_protocol("fd", "clap", "cs/versebench-clap-v1") or "")
