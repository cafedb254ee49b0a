"""The network side of the weight registry: hub files through huggingface_hub, https files through pooch.

huggingface_hub resumes its own `.incomplete` files and keeps hub files in the HF cache, where they
are used in place. For https files, pooch streams into a temporary file, checks the sha256 and
renames; `ResumingDownloader` is the downloader it calls: it keeps a `<file>.part` beside the
target across interrupted runs, asks the server for the missing tail with an HTTP Range request,
and refuses an HTML page served in place of the file (Google Drive's virus-scan page, a login
wall, a 404 page answered with status 200).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO, Any

from nava_eval.metrics.weights import WeightsError, WeightSpec

log = logging.getLogger(__name__)

CHUNK = 1 << 20
#: (connect, read) seconds; a stalled read fails and the next run resumes the .part file.
TIMEOUT = (30.0, 120.0)
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<?xml")


class HtmlInsteadOfFile(WeightsError):
    """The server answered with a web page, not the weight file."""


def looks_like_html(head: bytes) -> bool:
    """True when the first bytes of a download are an HTML/XML page rather than a binary file."""
    return head.lstrip()[:32].lower().startswith(_HTML_STARTS)


class ResumingDownloader:
    """A pooch downloader that resumes `partial` with an HTTP Range request and rejects HTML pages."""

    def __init__(self, partial: Path, label: str, expected_size: int | None, progress: bool = True):
        self.partial = partial
        self.label = label
        self.expected_size = expected_size
        self.progress = progress

    def __call__(
        self, url: str, output_file: str | IO[bytes], pooch: Any, check_only: bool = False
    ) -> bool | None:
        import requests

        if check_only:
            return requests.head(url, timeout=TIMEOUT, allow_redirects=True).ok
        have = self.partial.stat().st_size if self.partial.exists() else 0
        if self.expected_size is not None and have > self.expected_size:
            self.partial.unlink()  # longer than the file can be: not a prefix of it
            have = 0
        if not (self.expected_size is not None and have == self.expected_size):
            self._fetch(url, have)
        with open(self.partial, "rb") as fh:
            head = fh.read(64)
        if looks_like_html(head):
            self.partial.unlink(missing_ok=True)
            raise HtmlInsteadOfFile(
                f"{url} returned an HTML page instead of {self.label} (a login, consent or virus-scan page?); "
                "download it in a browser and pass it with --weights NAME=PATH"
            )
        if isinstance(output_file, (str, os.PathLike)):
            os.replace(self.partial, output_file)
        else:
            with open(self.partial, "rb") as fh:
                for block in iter(lambda: fh.read(CHUNK), b""):
                    output_file.write(block)
            self.partial.unlink()
        return None

    def _fetch(self, url: str, have: int) -> None:
        import requests
        from tqdm import tqdm

        headers = {"User-Agent": "nava-eval"}
        if have:
            headers["Range"] = f"bytes={have}-"
        with requests.get(
            url, headers=headers, stream=True, timeout=TIMEOUT, allow_redirects=True
        ) as response:
            if response.status_code == 416 and have:  # nothing left to send: the .part is complete
                return
            response.raise_for_status()
            if "text/html" in response.headers.get("Content-Type", "").lower():
                self.partial.unlink(missing_ok=True)
                raise HtmlInsteadOfFile(
                    f"{url} returned an HTML page (Content-Type {response.headers['Content-Type']}) instead of "
                    f"{self.label}; download it in a browser and pass it with --weights NAME=PATH"
                )
            resumed = response.status_code == 206
            if have and not resumed:
                log.info("%s: the server ignored the Range request; downloading from the start", self.label)
            length = response.headers.get("Content-Length")
            total = (have if resumed else 0) + int(length) if length else self.expected_size
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            bar = tqdm(
                total=total, initial=have if resumed else 0, unit="B", unit_scale=True, unit_divisor=1024,
                desc=self.label, leave=False, disable=not self.progress,
            )  # fmt: skip
            with bar, open(self.partial, "ab" if resumed else "wb") as fh:
                for block in response.iter_content(chunk_size=CHUNK):
                    fh.write(block)
                    bar.update(len(block))


def fetch_url(url: str, spec: WeightSpec, *, progress: bool = True) -> Path:
    """Download an https weight into our cache with pooch (sha256-checked when pinned); its path."""
    import pooch

    target = spec.cache_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    downloader = ResumingDownloader(
        target.with_name(target.name + ".part"), spec.filename, spec.size, progress
    )
    known = f"sha256:{spec.sha256}" if spec.sha256 else None
    try:
        return Path(pooch.retrieve(url, known, fname=target.name, path=target.parent, downloader=downloader))
    except ValueError as exc:  # pooch's hash mismatch: it already deleted the temporary file
        raise WeightsError(
            f"{spec.name}: the download from {url} does not match the registry: {exc}"
        ) from None


def fetch_hub_file(spec: WeightSpec, *, force: bool = False) -> Path:
    """Download a hub weight and its `hub_files` into the HF cache (resumable); the weight's cached path.

    One `snapshot_download` with the files as patterns: a listed small file the repository does not
    have is simply not fetched, the weight file itself must arrive.
    """
    from huggingface_hub import snapshot_download

    assert spec.hub is not None
    repo_id, filename = spec.hub
    folder = snapshot_download(
        repo_id, revision=spec.revision, allow_patterns=[filename, *spec.hub_files], force_download=force
    )
    path = Path(folder) / filename
    if not path.is_file():
        raise WeightsError(f"{repo_id} (revision {spec.revision or 'main'}) has no file {filename}")
    return path
