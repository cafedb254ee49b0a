"""Getting benchmark data onto disk and remembering where it is.

VerseBench comes from the Hugging Face Hub (dataset `dorni/Verse-Bench`) through
`huggingface_hub.snapshot_download`, which keeps partial files and resumes them on the next call.
Seed-TTS-eval is distributed outside the Hub (a Google Drive archive), so users download it by
hand and `import` it: we check it and record its folder. Registrations live in a small JSON file,
`$NAVA_EVAL_HOME/data.json` (default `~/.cache/nava-eval/data.json`), so a later `--data-dir`
can default to them.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nava_eval.benchmarks.errors import DataNotFoundError
from nava_eval.errors import InvalidValue, UserError
from nava_eval.offline import offline_requested
from nava_eval.rundir.files import atomic_write_json

log = logging.getLogger(__name__)

VERSEBENCH_REPO_ID = "dorni/Verse-Bench"
DATA_CONFIG_SCHEMA = "nava-eval/data/v1"


class OfflineError(UserError, RuntimeError):
    """Offline mode is on and the requested data is not in the local cache."""

    def __str__(self) -> str:
        return str(self.args[0])


def nava_eval_home() -> Path:
    """Folder for nava-eval's own small state files: $NAVA_EVAL_HOME or ~/.cache/nava-eval."""
    env = os.environ.get("NAVA_EVAL_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nava-eval"


def data_config_path() -> Path:
    return nava_eval_home() / "data.json"


def load_data_config() -> dict[str, Any]:
    """The registrations file as a dict; an empty config when it does not exist yet."""
    path = data_config_path()
    if not path.exists():
        return {"schema": DATA_CONFIG_SCHEMA, "benchmarks": {}}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidValue(f"{path}: not valid JSON ({exc}); delete it and register your data again") from exc
    if not isinstance(config, dict) or not isinstance(config.get("benchmarks"), dict):
        raise InvalidValue(
            f"{path}: expected an object with a 'benchmarks' object; delete it and register again"
        )
    return config


@dataclass(frozen=True)
class DataRegistration:
    """Where a benchmark's data lives on this machine, as recorded by download/import."""

    benchmark: str
    path: Path
    source: str
    registered_at: str
    extra: dict[str, str]


def register_data_dir(benchmark: str, path: Path, source: str, **extra: str) -> DataRegistration:
    """Record `path` as the data folder of `benchmark` (atomic rewrite of data.json)."""
    config = load_data_config()
    entry = {
        "path": str(Path(path).resolve()),
        "source": source,
        "registered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **{k: str(v) for k, v in extra.items()},
    }
    config["schema"] = DATA_CONFIG_SCHEMA
    config["benchmarks"][benchmark] = entry
    atomic_write_json(data_config_path(), config)
    log.info("registered %s data at %s in %s", benchmark, entry["path"], data_config_path())
    return DataRegistration(
        benchmark, Path(entry["path"]), source, entry["registered_at"], {k: str(v) for k, v in extra.items()}
    )


def registration(benchmark: str) -> DataRegistration | None:
    """The recorded registration of `benchmark`, or None."""
    entry = load_data_config()["benchmarks"].get(benchmark)
    if not entry:
        return None
    extra = {k: v for k, v in entry.items() if k not in {"path", "source", "registered_at"}}
    return DataRegistration(
        benchmark, Path(entry["path"]), entry.get("source", ""), entry.get("registered_at", ""), extra
    )


def resolve_data_dir(benchmark: str, data_dir: Path | None, how_to_get: str) -> Path:
    """`data_dir` if given, else the registered folder; a DataNotFoundError saying how to get data."""
    if data_dir is not None:
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise DataNotFoundError(f"{benchmark} data folder {data_dir} does not exist (or is not a folder)")
        return data_dir
    reg = registration(benchmark)
    if reg is None:
        raise DataNotFoundError(
            f"no data folder for {benchmark}: pass --data-dir DIR, or {how_to_get} "
            f"(registrations are kept in {data_config_path()})"
        )
    if not reg.path.is_dir():
        raise DataNotFoundError(
            f"{benchmark} data was registered at {reg.path} (in {data_config_path()}) but that folder is gone; "
            f"{how_to_get} again, or pass --data-dir DIR"
        )
    return reg.path


def hf_offline() -> bool:
    """True when the user asked for no network (nava-eval --offline, NAVA_EVAL_OFFLINE or HF_HUB_OFFLINE)."""
    return offline_requested()


def download_versebench(
    cache_dir: Path | None = None,
    revision: str | None = None,
    local_dir: Path | None = None,
    register: bool = True,
    offline: bool = False,
) -> Path:
    """Download (or resume, or find in the cache) `dorni/Verse-Bench`; return the snapshot folder.

    Offline (`offline=True`, NAVA_EVAL_OFFLINE or HF_HUB_OFFLINE), only the local cache is used and a clear OfflineError says what to
    do when the snapshot is not there.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = offline or hf_offline()
    kwargs: dict[str, Any] = {"repo_type": "dataset", "revision": revision, "local_files_only": offline}
    if cache_dir is not None:
        kwargs["cache_dir"] = str(cache_dir)
    if local_dir is not None:
        kwargs["local_dir"] = str(local_dir)
    where = local_dir or cache_dir or "the Hugging Face cache (HF_HOME)"
    log.info(
        "fetching %s (revision %s) into %s%s",
        VERSEBENCH_REPO_ID,
        revision or "main",
        where,
        " [offline: cache only]" if offline else "",
    )
    try:
        folder = Path(snapshot_download(VERSEBENCH_REPO_ID, **kwargs))
    except LocalEntryNotFoundError as exc:
        if offline:
            raise OfflineError(
                f"offline mode is on and {VERSEBENCH_REPO_ID} (revision {revision or 'main'}) is not in {where}. "
                "Leave out --offline (and unset NAVA_EVAL_OFFLINE/HF_HUB_OFFLINE) to download it, point --cache-dir at a cache that has it, or copy the "
                "dataset here by hand and run `nava-eval data import versebench PATH`."
            ) from exc
        raise
    if register:
        register_data_dir("versebench", folder, f"hf:{VERSEBENCH_REPO_ID}@{revision or 'main'}")
    return folder
