"""The scorer weight registry: specs, overrides, cache, checksums, download (file:// URLs), offline."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from nava_eval.metrics import weights as W


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("NAVA_EVAL_WEIGHTS_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def temp_spec(tmp_path: Path):
    """A registered spec whose 'URL' is a local file, removed again after the test."""
    src = tmp_path / "src" / "tiny.bin"
    src.parent.mkdir()
    src.write_bytes(b"tiny weights")
    spec = W.WeightSpec(
        name="tiny_test",
        filename="tiny.bin",
        url=src.as_uri(),
        license="test",
        used_by=("sync",),
        sha256=hashlib.sha256(b"tiny weights").hexdigest(),
        size=len(b"tiny weights"),
        subdir="t",
    )
    W.register_weight(spec)
    yield spec
    W._WEIGHTS.pop("tiny_test", None)


def test_builtin_specs_are_complete() -> None:
    specs = W.weight_specs()
    for name in (
        "syncnet",
        "s3fd",
        "musiq_koniq",
        "musiq_spaq",
        "maniqa_koniq",
        "aesthetic_v2_5",
        "siglip_so400m",
    ):
        spec = specs[name]
        assert spec.url and spec.license and spec.used_by and spec.filename
    assert specs["syncnet"].filename == "syncnet_v2.model"
    assert specs["s3fd"].filename == "sfd_face.pth"
    assert specs["musiq_koniq"].sha256_prefix == "e95806b9"


def test_speech_provider_is_loaded_lazily() -> None:
    """metrics.weights_speech registers its files when the registry is first read."""
    specs = W.weight_specs()
    assert any("wer" in s.used_by for s in specs.values())


def test_register_provider_is_imported_on_first_read(tmp_path: Path, monkeypatch) -> None:
    """A provider module registers its specs when imported; the registry imports it lazily."""
    (tmp_path / "fake_weight_provider.py").write_text(
        "from nava_eval.metrics.weights import WeightSpec, register_weight\n"
        "register_weight(WeightSpec('fake_w', 'f.bin', 'https://example.invalid/f.bin', 'MIT', ('x',)))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(W, "PROVIDER_MODULES", list(W.PROVIDER_MODULES))
    W.register_provider("fake_weight_provider")
    W.register_provider("not_a_module_anywhere")  # a missing provider is ignored, not fatal
    try:
        assert "fake_weight_provider" not in sys.modules
        assert W.weight_specs()["fake_w"].used_by == ("x",)
    finally:
        W._WEIGHTS.pop("fake_w", None)
        W._loaded_providers.difference_update({"fake_weight_provider", "not_a_module_anywhere"})
        sys.modules.pop("fake_weight_provider", None)


def test_missing_weight_error_names_file_and_command(cache: Path) -> None:
    with pytest.raises(W.WeightsMissingError) as err:
        W.resolve_weight("s3fd")
    msg = str(err.value)
    assert "sfd_face.pth" in msg and "nava-eval weights download s3fd" in msg and "--weights s3fd=PATH" in msg
    assert str(cache) in msg


def test_unknown_weight_lists_known(cache: Path) -> None:
    with pytest.raises(W.WeightsError, match="known weights: .*syncnet"):
        W.resolve_weight("nope")


def test_override_is_used_and_hashed(cache: Path, tmp_path: Path) -> None:
    mine = tmp_path / "my_syncnet.model"
    mine.write_bytes(b"abc")
    resolved = W.resolve_weight("syncnet", {"syncnet": mine})
    assert resolved.path == mine and resolved.source == "override"
    assert resolved.sha256 == hashlib.sha256(b"abc").hexdigest()
    assert not (tmp_path / "my_syncnet.model.sha256.json").exists()  # no files beside a user's copy
    with pytest.raises(W.WeightsMissingError, match="no such file"):
        W.resolve_weight("syncnet", {"syncnet": tmp_path / "absent"})


def test_parse_weight_overrides() -> None:
    assert W.parse_weight_overrides(["syncnet=/a/b.model", "s3fd=c.pth"]) == {
        "syncnet": Path("/a/b.model"),
        "s3fd": Path("c.pth"),
    }
    with pytest.raises(W.WeightsError, match="NAME=PATH"):
        W.parse_weight_overrides(["syncnet"])


def test_download_verify_and_cache(cache: Path, temp_spec) -> None:
    with pytest.raises(W.WeightsMissingError):
        W.resolve_weight("tiny_test", offline=True, download=True)  # offline never fetches
    path = W.download_weight(temp_spec, progress=lambda label, total: lambda n: None)
    assert path == cache / "t" / "tiny.bin" and path.read_bytes() == b"tiny weights"
    resolved = W.resolve_weight("tiny_test")
    assert resolved.source == "cache" and resolved.verified == "ok"
    (status,) = W.weight_statuses(["tiny_test"], verify=True)
    assert status.state == "ok"
    path.write_bytes(b"tampered!!!!")  # same size, other bytes
    with pytest.raises(W.WeightsError, match="sha256"):
        W.resolve_weight("tiny_test")
    (status,) = W.weight_statuses(["tiny_test"], verify=True)
    assert status.state == "mismatch"


def test_download_rejects_bad_checksum_and_tries_mirrors(cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"wrong bytes!")
    good = tmp_path / "good.bin"
    good.write_bytes(b"right bytes!")
    spec = W.WeightSpec(
        "mirror_test", "m.bin", bad.as_uri(), "test", ("x",),
        sha256=hashlib.sha256(b"right bytes!").hexdigest(), mirrors=(good.as_uri(),),
    )  # fmt: skip
    quiet = lambda label, total: lambda n: None  # noqa: E731
    assert W.download_weight(spec, progress=quiet).read_bytes() == b"right bytes!"
    spec_bad = W.WeightSpec("bad_test", "b.bin", bad.as_uri(), "test", ("x",), sha256="0" * 64)
    with pytest.raises(W.WeightsError, match="could not download"):
        W.download_weight(spec_bad, progress=quiet)
    assert not (cache / "b.bin").exists() and not list(cache.glob(".b.bin*"))


def test_sha256_prefix_and_unpinned(cache: Path, tmp_path: Path) -> None:
    f = tmp_path / "x.pth"
    f.write_bytes(b"xyz")
    digest = hashlib.sha256(b"xyz").hexdigest()
    ok = W.WeightSpec("p", "x.pth", "u", "l", ("x",), sha256_prefix=digest[:8])
    assert W.check_file(ok, f) == (digest, "ok")
    with pytest.raises(W.WeightsError, match="start with"):
        W.check_file(W.WeightSpec("p", "x.pth", "u", "l", ("x",), sha256_prefix="00000000"), f)
    assert W.check_file(W.WeightSpec("p", "x.pth", "u", "l", ("x",)), f) == (digest, "unpinned")
