"""Tiny real media files for import and scoring tests (H.264/AAC mp4, PCM wav), seeded; a folder snapshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

VERSE_IDS = {"set1": ("00000", "00001"), "set2": ("300", "301"), "set3": ("01000", "01001")}
SEED_IDS = {
    "en": ("smoke_en_0001", "smoke_en_0002"),
    "zh": ("smoke_zh_0001", "smoke_zh_0002"),
    "hard": ("smoke_hard_0001",),
}


def write_clip(path: Path, *, audio: bool = True, seed: int = 0, frames: int = 8, size: int = 32) -> Path:
    """A short noise video (8 fps), with a 16 kHz tone when `audio`."""
    from nava_eval.nava.media import write_mp4

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(frames, size, size, 3), dtype=np.uint8)
    tone = None
    if audio:
        t = np.arange(int(16000 * frames / 8)) / 16000
        tone = (0.3 * np.sin(2 * np.pi * (220 + 20 * seed) * t))[None].astype(np.float32)
    return write_mp4(path, pixels, 8, tone, sample_rate=16000)


def write_tone(path: Path, *, seed: int = 0, seconds: float = 1.0) -> Path:
    from nava_eval.nava.media import write_wav

    t = np.arange(int(16000 * seconds)) / 16000
    return write_wav(path, (0.3 * np.sin(2 * np.pi * (300 + 10 * seed) * t))[None].astype(np.float32), 16000)


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """(size, mtime_ns, bytes) of every entry under `folder` (symlinks as their link text)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = (0, 0, str(path.readlink()).encode())
        elif path.is_file():
            st = path.stat()
            out[rel] = (st.st_size, st.st_mtime_ns, path.read_bytes())
        else:
            out[rel] = (0, 0, b"<dir>")
    return out
