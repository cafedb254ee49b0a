"""The scorer weight registry: pins, overrides, cache, checksums, resumable downloads from a loopback server."""

from __future__ import annotations

import hashlib
import http.server
import re
import sys
import threading
from pathlib import Path

import pytest

from nava_eval.metrics import weights as W
from nava_eval.metrics.weights_fetch import looks_like_html

PAYLOAD = bytes(range(256)) * 40  # 10 KiB of non-text bytes
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("NAVA_EVAL_WEIGHTS_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NAVA_EVAL_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "cache"


class _Server:
    """A loopback HTTP server: path → (body, content type, honours Range); records the requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str, bool]] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append((self.path, self.headers.get("Range")))
                if self.path not in server.routes:
                    self.send_error(404)
                    return
                body, ctype, ranges = server.routes[self.path]
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if ranges and match:
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                self.wfile.write(body[start:])

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture()
def server():
    srv = _Server()
    yield srv
    srv.close()


@pytest.fixture()
def registered():
    """Register specs for one test and remove them afterwards."""
    names = []

    def add(spec: W.WeightSpec) -> W.WeightSpec:
        W.register_weight(spec)
        names.append(spec.name)
        return spec

    yield add
    for name in names:
        W._WEIGHTS.pop(name, None)


def _spec(name: str, url: str, **kw) -> W.WeightSpec:
    kw.setdefault("sha256", PAYLOAD_SHA)
    kw.setdefault("size", len(PAYLOAD))
    kw.setdefault("subdir", "t")
    return W.WeightSpec(name, f"{name}.bin", url, "test licence", ("sync",), **kw)


# ------------------------------------------------------------------------------------------ registry


def test_every_registered_weight_is_pinned_or_says_why() -> None:
    specs = W.weight_specs()
    assert {"syncnet", "s3fd", "musiq_koniq", "musiq_spaq", "maniqa_koniq", "aesthetic_v2_5"} <= set(specs)
    for spec in specs.values():
        assert spec.url and spec.license and spec.used_by and spec.filename
        if spec.pinned:
            assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256) and spec.pin_source, spec.name
        else:
            assert spec.unpinned_reason, spec.name
        assert not spec.url.startswith("http://") or spec.pinned
    # Pins quoted in the registry (sources in metrics/weights.py); torch-hub names carry the hash prefix.
    assert specs["syncnet"].sha256.startswith("961e8696") and specs["syncnet"].size == 54_573_114
    assert specs["s3fd"].size == 89_844_381
    assert specs["musiq_koniq"].sha256.startswith("e95806b9") and specs["musiq_spaq"].sha256.startswith(
        "358bb6af"
    )
    assert specs["whisper-large-v3-openai"].sha256 in specs["whisper-large-v3-openai"].url


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sha256": "abc"}, "64 lowercase hex"),
        ({"sha256": None, "size": 3}, "size without a sha256"),
        ({"sha256": None, "size": None}, "unpinned_reason"),
        ({"url": "ftp://x/y.bin"}, "not an https"),
        ({"url": "http://x/y.bin", "sha256": None, "size": None, "unpinned_reason": "r"}, "plain-http"),
        ({"revision": "abc"}, "only apply to hf://"),
    ],
)
def test_spec_validation(kwargs: dict, message: str) -> None:
    base = {"sha256": PAYLOAD_SHA, "size": 1, "url": "https://example.invalid/w.bin"}
    base.update(kwargs)
    url = base.pop("url")
    with pytest.raises(ValueError, match=message):
        W.WeightSpec("bad", "w.bin", url, "l", ("x",), **base)


def test_register_provider_is_imported_on_first_read(tmp_path: Path, monkeypatch) -> None:
    """A provider module registers its specs when imported; the registry imports it lazily."""
    (tmp_path / "fake_weight_provider.py").write_text(
        "from nava_eval.metrics.weights import WeightSpec, register_weight\n"
        "register_weight(WeightSpec('fake_w', 'f.bin', 'https://example.invalid/f.bin', 'MIT', ('x',), "
        f"sha256='{PAYLOAD_SHA}'))\n"
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


def test_override_is_used_hashed_and_never_deleted(cache: Path, tmp_path: Path) -> None:
    mine = tmp_path / "my_syncnet.model"
    mine.write_bytes(b"abc")
    resolved = W.resolve_weight("syncnet", {"syncnet": mine})
    assert resolved.path == mine and resolved.source == "override"
    assert resolved.sha256 == hashlib.sha256(b"abc").hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_syncnet.model"]  # nothing beside a user's copy
    with pytest.raises(W.WeightsError, match="has 3 bytes, expected 54573114"):
        W.resolve_weight("syncnet", {"syncnet": mine}, verify_override=True)
    assert mine.exists()  # a user's own file is reported, never deleted
    with pytest.raises(W.WeightsMissingError, match="no such file"):
        W.resolve_weight("syncnet", {"syncnet": tmp_path / "absent"})


def test_parse_weight_overrides() -> None:
    assert W.parse_weight_overrides(["syncnet=/a/b.model", "s3fd=c.pth"]) == {
        "syncnet": Path("/a/b.model"),
        "s3fd": Path("c.pth"),
    }
    with pytest.raises(W.WeightsError, match="NAME=PATH"):
        W.parse_weight_overrides(["syncnet"])


def test_looks_like_html() -> None:
    assert looks_like_html(b"  <!DOCTYPE html><html>") and looks_like_html(b"<html><head>")
    assert not looks_like_html(PAYLOAD[:64]) and not looks_like_html(b"PK\x03\x04")


# ------------------------------------------------------------------------------------------ downloads


def test_download_verify_cache_and_delete_on_mismatch(cache: Path, server: _Server, registered) -> None:
    server.routes["/w.bin"] = (PAYLOAD, "application/octet-stream", True)
    spec = registered(_spec("tiny_test", server.url("/w.bin")))
    with pytest.raises(W.WeightsMissingError):
        W.resolve_weight("tiny_test", offline=True, download=True)  # offline never fetches
    assert server.requests == []
    path = W.download_weight(spec, progress=False)
    assert path == cache / "t" / "tiny_test.bin" and path.read_bytes() == PAYLOAD
    assert not list(path.parent.glob("*.part"))
    resolved = W.resolve_weight("tiny_test")
    assert resolved.source == "cache" and resolved.verified == "ok" and resolved.sha256 == PAYLOAD_SHA
    (status,) = W.weight_statuses(["tiny_test"], verify=True)
    assert status.state == "ok"
    path.write_bytes(b"x" + PAYLOAD[1:])  # same size, other bytes
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(W.WeightsError) as err:
        W.resolve_weight("tiny_test")
    msg = str(err.value)
    assert str(path) in msg and PAYLOAD_SHA in msg and found in msg
    assert "deleted it from the cache" in msg and "nava-eval weights download tiny_test" in msg
    assert not path.exists()


def test_download_resumes_a_partial_file_with_a_range_request(
    cache: Path, server: _Server, registered
) -> None:
    server.routes["/w.bin"] = (PAYLOAD, "application/octet-stream", True)
    spec = registered(_spec("resume_test", server.url("/w.bin")))
    part = spec.cache_path().with_name("resume_test.bin.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:4000])  # an interrupted earlier run
    path = W.download_weight(spec, progress=False)
    assert path.read_bytes() == PAYLOAD and not part.exists()
    assert server.requests == [("/w.bin", "bytes=4000-")]


def test_a_server_that_ignores_range_restarts_cleanly(cache: Path, server: _Server, registered) -> None:
    server.routes["/w.bin"] = (PAYLOAD, "application/octet-stream", False)
    spec = registered(_spec("norange_test", server.url("/w.bin")))
    part = spec.cache_path().with_name("norange_test.bin.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes from somewhere")
    assert W.download_weight(spec, progress=False).read_bytes() == PAYLOAD


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/octet-stream"])
def test_an_html_page_is_rejected(cache: Path, server: _Server, registered, ctype: str) -> None:
    page = b"<!DOCTYPE html><html><body>Google Drive can't scan this file for viruses</body></html>"
    server.routes["/w.bin"] = (page, ctype, True)
    spec = registered(_spec("html_test", server.url("/w.bin")))
    with pytest.raises(W.WeightsError, match="HTML page"):
        W.download_weight(spec, progress=False)
    assert not list((cache / "t").glob("html_test*"))


def test_bad_checksum_tries_mirrors_then_fails_leaving_nothing(cache: Path, server: _Server) -> None:
    server.routes["/bad.bin"] = (b"y" + PAYLOAD[1:], "application/octet-stream", True)
    server.routes["/good.bin"] = (PAYLOAD, "application/octet-stream", True)
    spec = _spec("mirror_test", server.url("/bad.bin"), mirrors=(server.url("/good.bin"),))
    assert W.download_weight(spec, progress=False).read_bytes() == PAYLOAD
    only_bad = _spec("bad_test", server.url("/bad.bin"))
    with pytest.raises(W.WeightsError, match="could not download bad_test"):
        W.download_weight(only_bad, progress=False)
    assert not list((cache / "t").glob("bad_test*"))


def test_offline_environment_blocks_downloads(cache: Path, server: _Server, monkeypatch) -> None:
    server.routes["/w.bin"] = (PAYLOAD, "application/octet-stream", True)
    monkeypatch.setenv("NAVA_EVAL_OFFLINE", "1")
    with pytest.raises(W.WeightsMissingError, match="offline"):
        W.download_weight(_spec("off_test", server.url("/w.bin")), progress=False)
    assert server.requests == []


# ------------------------------------------------------------------------------------------ hub files


@pytest.fixture()
def hf_cache(tmp_path: Path, monkeypatch) -> Path:
    from huggingface_hub import constants

    root = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))
    return root


def _put_in_hf_cache(root: Path, repo_id: str, files: dict[str, bytes], revision: str = "a" * 40) -> Path:
    """The HF cache layout: blobs named by content, snapshot links, refs/main."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(blob)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def test_hub_files_are_used_in_place_and_checked(cache: Path, hf_cache: Path, registered) -> None:
    spec = registered(
        W.WeightSpec(
            "hub_test",
            "model.bin",
            "hf://org/model/model.bin",
            "l",
            ("x",),
            sha256=PAYLOAD_SHA,
            size=len(PAYLOAD),
        )
    )
    with pytest.raises(W.WeightsMissingError, match="nava-eval weights download hub_test"):
        W.hub_folder("hub_test")
    snapshot = _put_in_hf_cache(hf_cache, "org/model", {"model.bin": PAYLOAD, "config.json": b"{}"})
    resolved = W.resolve_weight("hub_test")
    assert resolved.source == "hf-cache" and resolved.path == snapshot / "model.bin"
    assert not cache.exists() or not any(
        p.is_file() and p.suffix == ".bin" for p in cache.rglob("*")
    )  # no copy
    assert W.hub_folder("hub_test") == snapshot
    blob = (snapshot / "model.bin").resolve()
    blob.write_bytes(b"z" + PAYLOAD[1:])
    with pytest.raises(W.WeightsError, match="deleted it from the cache"):
        W.hub_folder("hub_test")
    assert not blob.exists() and not (snapshot / "model.bin").exists()
    assert W.cached_file(spec) is None


def test_hub_download_fetches_weight_and_small_files(cache: Path, hf_cache: Path, monkeypatch) -> None:
    import huggingface_hub

    calls = {}

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None, force_download=False, **kw):
        calls.update(repo_id=repo_id, revision=revision, allow_patterns=allow_patterns)
        return str(_put_in_hf_cache(hf_cache, repo_id, {"model.bin": PAYLOAD, "config.json": b"{}"}))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    unpinned = W.WeightSpec(
        "hub_unpinned", "model.bin", "hf://org/model/model.bin", "l", ("x",),
        revision="b" * 40, hub_files=("config.json",), unpinned_reason="no published hash",
    )  # fmt: skip
    with pytest.raises(W.WeightsError, match="--trust-unpinned"):
        W.download_weight(unpinned)
    assert calls == {}
    path = W.download_weight(unpinned, trust_unpinned=True)
    assert calls == {
        "repo_id": "org/model",
        "revision": "b" * 40,
        "allow_patterns": ["model.bin", "config.json"],
    }
    assert path.read_bytes() == PAYLOAD and W.check_file(unpinned, path) == (PAYLOAD_SHA, "unpinned")
