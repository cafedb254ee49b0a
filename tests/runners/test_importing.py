"""`nava-eval import`: another model's outputs folder → a run directory; every bad input named, source untouched."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from media_files import VERSE_IDS, snapshot, write_clip, write_tone

from nava_eval.benchmarks.base import SampleSelection
from nava_eval.rundir.files import sha256_file
from nava_eval.rundir.layout import RunDir
from nava_eval.rundir.records import load_sample_records
from nava_eval.rundir.run_file import load_run_file
from nava_eval.runners.cli.main import cli
from nava_eval.runners.importing import ImportRefused, ImportRequest, import_outputs
from nava_eval.runners.score import output_for


def _import(source: Path, run_dir: Path, **options) -> object:
    request = ImportRequest(
        benchmark=options.pop("benchmark", "versebench"),
        source_dir=source,
        model=options.pop("model", "Ovi 1.1"),
        run_dir=run_dir,
        preset="smoke",
        **options,
    )
    return import_outputs(request)


def _problems(report) -> set[tuple[str, str | None, str | None]]:
    return {(p.kind, p.path, p.item) for p in report.problems}


def test_clean_import_links_every_file_and_records_where_it_came_from(verse_outputs: Path, tmp_path: Path):
    before = snapshot(verse_outputs)
    run = tmp_path / "runs" / "ovi"
    result = CliRunner().invoke(
        cli,
        ["import", "versebench", str(verse_outputs), "--model", "Ovi 1.1", "--params-b", "10",
         "--preset", "smoke", "--run-dir", str(run)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "imported 6 of 6 versebench item(s)" in result.output and "0 problem(s)" in result.output
    assert snapshot(verse_outputs) == before  # nothing in the source folder changed

    spec = load_run_file(run).spec
    assert spec.generation is None and spec.model == "Ovi 1.1" and spec.smoke
    imported = spec.imported
    assert imported.source_dir == str(verse_outputs.resolve()) and imported.params_b == 10
    assert imported.layout == "mp4" and imported.transfer == "hardlink"
    assert set(imported.files) == {f"{i}.mp4" for ids in VERSE_IDS.values() for i in ids}
    for rel, info in imported.files.items():
        assert info.sha256 == sha256_file(verse_outputs / rel) and info.role == "output"
        assert os.path.samefile(run / info.run_path, verse_outputs / rel)  # linked, not copied or moved

    records = {r.id: r for r in load_sample_records(run / "samples.jsonl")}
    assert records["01000"].output == "outputs/set3/01000.mp4" and records["01000"].status == "done"
    assert records["01000"].output_sha256 == sha256_file(verse_outputs / "01000.mp4")
    assert records["01000"].inputs == {"source": "01000.mp4"}
    report = json.loads((run / "import-report.json").read_text())
    assert report["imported"] == 6 and report["problems"] == [] and report["model"] == "Ovi 1.1"


def test_every_bad_input_is_named_with_what_to_do_and_the_rest_imported(tmp_path: Path):
    src = tmp_path / "outs"
    write_clip(src / "00000.mp4", seed=1)
    write_clip(src / "00001.mp4", seed=2)
    write_clip(src / "again" / "00001.mp4", seed=3)  # duplicate id
    write_clip(src / "300.mov", seed=4)  # wrong container
    write_clip(src / "01000.mp4", seed=5, audio=False)  # set3 speech item: sync and wer need audio
    (src / "01001.mp4").write_bytes(b"this is not a video")  # unreadable
    (src / "notes.txt").write_text("hello")  # not an output
    write_clip(src / "99999.mp4", seed=6)  # no such item
    outside = write_clip(tmp_path / "elsewhere" / "x.mp4", seed=7)
    (src / "301.mp4").symlink_to(outside)  # escapes the folder
    (src / "linked_dir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    before = snapshot(src)

    run = tmp_path / "run"
    report = _import(src, run)
    problems = _problems(report)
    assert ("duplicate", "00001.mp4, again/00001.mp4", "00001") in problems
    assert ("wrong-type", "300.mov", None) in problems and ("wrong-type", "notes.txt", None) in problems
    assert ("no-audio", "01000.mp4", "01000") in problems
    assert ("unreadable", "01001.mp4", "01001") in problems
    assert ("extra", "99999.mp4", None) in problems
    assert ("symlink", "301.mp4", None) in problems and ("symlink", "linked_dir", None) in problems
    assert ("missing", None, "300") in problems and ("missing", None, "301") in problems
    assert all(p.fix for p in report.problems)  # each says what to do
    no_audio = next(p for p in report.problems if p.kind == "no-audio")
    assert "sync" in no_audio.reason and "wer" in no_audio.reason and "ffmpeg" in no_audio.fix
    assert report.imported == 2 and report.expected == 6  # 00000 and 01000 (without audio, still scored)
    assert snapshot(src) == before

    records = {r.id: r for r in load_sample_records(run / "samples.jsonl")}
    assert {i for i, r in records.items() if r.status == "done"} == {"00000", "01000"}
    assert records["01000"].inputs["video_has_audio"] is False
    assert records["00001"].status == "skipped" and "duplicate" in records["00001"].error
    assert records["01001"].status == "skipped" and "unreadable" in records["01001"].error
    md = (run / "import-report.md").read_text()
    assert "99999.mp4" in md and "what to do" in md

    # --strict imports nothing; the CLI exits 2 and prints the report.
    strict_run = tmp_path / "strict"
    with pytest.raises(ImportRefused, match="--strict: .* problem"):
        _import(src, strict_run, strict=True)
    assert not strict_run.exists()
    result = CliRunner().invoke(
        cli,
        [
            "import",
            "versebench",
            str(src),
            "--model",
            "M",
            "--preset",
            "smoke",
            "--run-dir",
            str(tmp_path / "cli"),
        ],
    )
    assert result.exit_code == 1  # imported with problems
    assert "duplicate" in result.output
    refused = CliRunner().invoke(
        cli,
        [
            "import",
            "versebench",
            str(src),
            "--model",
            "M",
            "--preset",
            "smoke",
            "--strict",
            "--run-dir",
            str(strict_run),
        ],
    )
    assert (
        refused.exit_code == 2 and "nothing was imported" in refused.output and "99999.mp4" in refused.output
    )
    assert not strict_run.exists()


def test_mapping_file_matches_ids_and_refuses_paths_outside_the_folder(tmp_path: Path):
    src = tmp_path / "outs"
    write_clip(src / "a" / "clip_first.mp4", seed=1)
    write_clip(src / "b" / "clip_second.mp4", seed=2, audio=False)
    write_tone(src / "b" / "clip_second.wav", seed=2)
    write_clip(tmp_path / "secret.mp4", seed=3)
    mapping = tmp_path / "map.csv"
    mapping.write_text(
        "id,path,audio\n"
        "00000,a/clip_first.mp4,\n"
        "300,b/clip_second.mp4,b/clip_second.wav\n"
        "00001,../secret.mp4,\n"
        "300,a/clip_first.mp4,\n"
        "nope,a/clip_first.mp4,\n"
        "01000,,\n"
    )
    report = _import(src, tmp_path / "run", mapping=mapping)
    kinds = {(p.kind, p.item) for p in report.problems}
    assert ("outside", "00001") in kinds and ("duplicate", "300") in kinds
    assert ("extra", "nope") in kinds and ("mapping", None) in kinds
    assert report.imported == 2
    outside = next(p for p in report.problems if p.kind == "outside")
    assert f"{mapping}:4" in outside.reason
    records = {r.id: r for r in load_sample_records(tmp_path / "run" / "samples.jsonl")}
    assert records["300"].audio_output == "outputs/set2/300.wav"
    assert records["300"].audio_output_sha256 == sha256_file(src / "b" / "clip_second.wav")
    assert load_run_file(tmp_path / "run").spec.imported.mapping_sha256 == sha256_file(mapping)

    # JSONL mapping, and a CSV without the required header.
    jsonl = tmp_path / "map.jsonl"
    jsonl.write_text(json.dumps({"id": "00000", "path": str(src / "a" / "clip_first.mp4")}) + "\n{oops\n")
    report = _import(src, tmp_path / "run2", mapping=jsonl)
    assert report.imported == 1 and any(p.kind == "mapping" and ":2" in p.reason for p in report.problems)
    bad = tmp_path / "bad.csv"
    bad.write_text("item,file\n00000,a/clip_first.mp4\n")
    with pytest.raises(ImportRefused, match="columns 'id' and 'path'"):
        _import(src, tmp_path / "run3", mapping=bad)


def test_mp4_plus_wav_layout_audio_metrics_read_the_wav(tmp_path: Path):
    src = tmp_path / "toolkit_layout"
    write_clip(src / "01000.mp4", seed=1, audio=False)  # set3 speech item, silent video + separate wav
    write_tone(src / "01000.wav", seed=1)
    write_clip(src / "00000.mp4", seed=2)
    write_tone(src / "00000.wav", seed=2)
    report = _import(src, tmp_path / "run", selection=SampleSelection(ids=frozenset({"00000", "01000"})))
    assert report.imported == 2 and report.layout == "mp4+wav"
    # Only sync reads audio from the video itself; wer reads the wav, so only sync is named.
    (no_audio,) = [p for p in report.problems if p.kind == "no-audio"]
    assert no_audio.item == "01000" and "sync" in no_audio.reason and "wer" not in no_audio.reason
    run_dir = RunDir(tmp_path / "run")
    record = {r.id: r for r in load_sample_records(run_dir.samples)}["01000"]

    class AudioMetric:
        requires = frozenset({"audio", "reference_text"})

    class VideoMetric:
        requires = frozenset({"video", "audio"})

    assert output_for(AudioMetric(), run_dir, record) == (run_dir.output("outputs/set3/01000.wav"),) * 2
    assert output_for(VideoMetric(), run_dir, record) == (
        run_dir.output("outputs/set3/01000.mp4"),
        run_dir.output("outputs/set3/01000.wav"),
    )
    # Items outside --ids are noted, not problems.
    assert not any(p.kind == "extra" for p in report.problems)


def test_seedtts_takes_wavs_and_names_videos(tmp_path: Path):
    src = tmp_path / "tts"
    write_tone(src / "en" / "smoke_en_0001.wav", seed=1)
    write_clip(src / "en" / "smoke_en_0002.mp4", seed=2)
    report = _import(
        src, tmp_path / "run", benchmark="seedtts", model="CosyVoice", selection=SampleSelection(sets=("en",))
    )
    assert report.imported == 1 and report.layout == "wav"
    (wrong,) = [p for p in report.problems if p.kind == "wrong-type"]
    assert wrong.item == "smoke_en_0002" and "ffmpeg" in wrong.fix
    records = {r.id: r for r in load_sample_records(tmp_path / "run" / "samples.jsonl")}
    assert records["smoke_en_0001"].output == "outputs/en/smoke_en_0001.wav"


def test_reimport_is_idempotent_and_other_files_or_dirs_are_refused(verse_outputs: Path, tmp_path: Path):
    run = tmp_path / "run"
    _import(verse_outputs, run)
    first = (run / "samples.jsonl").read_bytes()
    _import(verse_outputs, run)  # same files: the same run directory, cached scores stay valid
    assert (run / "samples.jsonl").read_bytes() == first
    write_clip(verse_outputs / "00000.mp4", seed=99)  # the folder changed since
    with pytest.raises(ImportRefused, match="imported from other files"):
        _import(verse_outputs, run)
    with pytest.raises(ImportRefused, match="overlap"):
        _import(verse_outputs, verse_outputs / "run")
    with pytest.raises(ImportRefused, match="no such folder"):
        _import(tmp_path / "nowhere", tmp_path / "r")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImportRefused, match="no output in .* matches"):
        _import(empty, tmp_path / "r2")


def test_generating_into_an_imported_run_is_refused(verse_outputs: Path, tmp_path: Path):
    run = tmp_path / "run"
    _import(verse_outputs, run)
    result = CliRunner().invoke(cli, ["generate", "versebench", "--preset", "smoke", "--run-dir", str(run)])
    assert result.exit_code == 1 and "imported outputs of 'Ovi 1.1'" in result.output
