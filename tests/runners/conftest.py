"""Fixtures of the runners tests; the media helpers live in media_files.py (import it by that name)."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_files import VERSE_IDS, write_clip


@pytest.fixture
def verse_outputs(tmp_path: Path) -> Path:
    """A model's VerseBench outputs in the Verse-Bench toolkit's flat layout: <id>.mp4 (with audio) only."""
    folder = tmp_path / "model_outputs"
    for n, ids in enumerate(VERSE_IDS.values()):
        for k, item in enumerate(ids):
            write_clip(folder / f"{item}.mp4", seed=2 * n + k)
    return folder
