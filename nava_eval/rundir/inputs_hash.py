"""The hash of everything that went into one sample's output, so resume can tell a stale output.

A sample's output depends on its prompt (and transcript, duration, mode, its own jsonl shape), the bytes of its image
and speaker wavs, its seed and the run's output-changing settings (RunSpec.output_hash). Each done
record in samples.jsonl carries this hash; on resume an output is reused only when the hash for the
sample as it is now matches, so an edited prompt, a replaced image, another seed or another world
size under the official-rank seed policy regenerates that sample instead of keeping old bytes.

The seed (and, under the official-rank policy, the noise stream and the position in it) is the one
the sample was or will be generated with, as the generate stage's plan gives it, not recomputed
here: how seeds are derived is runners.seeds' business.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from nava_eval.rundir.files import sha256_file
from nava_eval.rundir.identity import FileStamp


class SampleInputs(Protocol):
    """What a benchmark sample exposes to the hash (benchmarks.base.Sample has these)."""

    prompt: str
    mode: str
    prompt_text: str | None
    meta: Mapping[str, Any]
    image: Path | None
    speaker_wavs: tuple[Path, ...]


class InputsHasher:
    """`hasher(sample, seed, noise)` → hex sha256 of the sample's inputs under one run's settings."""

    def __init__(self, settings_hash: str) -> None:
        self.settings_hash = settings_hash
        self._files: dict[Path, tuple[FileStamp, str]] = {}

    def file_sha256(self, path: Path) -> str:
        """sha256 of an input file, cached while its stat is unchanged; a missing file hashes as such."""
        path = Path(path)
        try:
            stamp = FileStamp.of(path)
        except FileNotFoundError:
            return "missing"
        cached = self._files.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        digest = sha256_file(path)
        self._files[path] = (stamp, digest)
        return digest

    def __call__(self, sample: SampleInputs, seed: int, noise: Mapping[str, Any] | None = None) -> str:
        """`seed` and `noise` (the official stream and position) as the generate stage's plan gives them."""
        payload = {
            "prompt": sample.prompt,
            "mode": sample.mode,
            "prompt_text": sample.prompt_text,
            "duration": sample.meta.get("duration"),
            "image": self.file_sha256(sample.image) if sample.image is not None else None,
            "speaker_wavs": [self.file_sha256(p) for p in sample.speaker_wavs],
            "seed": int(seed),
            "noise": dict(noise or {}),
            "settings": self.settings_hash,
        }
        # A prompt line's own shape (jsonl: width/height/frames); absent keys leave older hashes as they were.
        shape = {k: sample.meta[k] for k in ("width", "height", "frames") if k in sample.meta}
        if shape:
            payload["shape"] = shape
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()
