"""Published numbers of NAVA and its baselines (reports/published.csv), normalised to our metric names.

The CSV keeps each paper's own naming and units (WER as a fraction in NAVA's Table 1, SIM as a
fraction in the CosyVoice papers). Here they become our field names and units (WER in %, SIM ×100)
so published rows and our runs share columns. The original metric name and split stay available.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from nava_eval.errors import InvalidValue

PUBLISHED_CSV = "published.csv"

#: CSV benchmark name → our benchmark key.
BENCHMARK_KEYS: dict[str, str] = {
    "VerseBench": "versebench",
    "Seed-TTS-eval": "seedtts",
    "SyncNet demo": "syncnet-demo",
}


@dataclass(frozen=True)
class MetricMapping:
    """How a published metric column maps onto one of our fields."""

    field: str
    scale: float = 1.0
    note: str = ""


#: Published metric name → our field. Unlisted names keep a lower-cased form of their own name.
METRIC_MAP: dict[str, MetricMapping] = {
    "Sync-C": MetricMapping("sync_c"),
    "Sync-D": MetricMapping("sync_d"),
    "LSE-C": MetricMapping("sync_c"),
    "LSE-D": MetricMapping("sync_d"),
    "confidence(LSE-C)": MetricMapping("sync_c"),
    "min_dist(LSE-D)": MetricMapping("sync_d"),
    "VideoQuality": MetricMapping("video_quality"),
    "WER_fraction": MetricMapping("wer", 100.0, "published as a fraction; shown in %"),
    "WER_percent": MetricMapping("wer"),
    "CER_percent": MetricMapping("wer", 1.0, "CER for Chinese"),
    "SIM_x100": MetricMapping("sim"),
    "SIM": MetricMapping("sim", 100.0, "published as a fraction; shown ×100"),
    "IB": MetricMapping("ib"),
    "IB-Score": MetricMapping("ib"),
    "PQ": MetricMapping("pq"),
    "FD": MetricMapping("fd"),
    "CLAP": MetricMapping("cs", 1.0, "MOVA's CLAP score: text-audio cosine, its own protocol"),
}

#: Published split labels → short keys users type (`--split`).
SPLIT_KEYS: dict[str, str] = {
    "all (set1+set2+set3, per NAVA; subset per metric not stated)": "all",
    "set1+set2+set3 (mean of per-set means)": "all-per-set-mean",
    "set3": "set3",
    "test-en": "en",
    "test-zh": "zh",
    "test-hard": "hard",
    "example.avi": "example",
}

#: The split a table shows when none is asked for: the one NAVA's own tables use.
DEFAULT_SPLIT: dict[str, str] = {"versebench": "all", "seedtts": "en", "syncnet-demo": "example"}


def _metric_key(name: str) -> str:
    return name.lower().replace("-", "_").replace(" ", "_")


def _published_direction(record: dict, path: str | Path | None) -> str:
    flag = str(record["higher_is_better"]).strip().lower()
    if flag not in ("true", "false", "neutral"):
        raise InvalidValue(
            f"{path or published_csv_path()}: {record.get('model')!r} {record.get('metric')!r} has "
            f"higher_is_better={record['higher_is_better']!r}; write true, false or neutral"
        )
    return {"true": "higher", "false": "lower"}.get(flag, "neutral")


def _required(record: dict, column: str, path: str | Path | None) -> str:
    """A column every published number must fill: its protocol id and the evidence for it."""
    value = record.get(column)
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(
            f"{path or published_csv_path()}: {record.get('model')!r} {record.get('metric')!r} has no "
            f"{column}; every published number names the protocol it was measured with "
            "(and 'verified: ...' or 'inferred: ...' evidence)"
        )
    return value.strip()


def published_csv_path() -> Path:
    """The CSV shipped inside the package."""
    return Path(str(resources.files("nava_eval.reports").joinpath(PUBLISHED_CSV)))


def load_published(
    benchmark: str | None = None, split: str | None = None, path: str | Path | None = None
) -> pd.DataFrame:
    """Published rows, normalised: one row per (benchmark, split, model, metric).

    Columns: benchmark, split, split_label, model, params_b, metric, metric_label, value,
    higher_is_better, direction, protocol, protocol_evidence, source, note. The CSV's
    `higher_is_better` is true, false, or "neutral" for a level with no better end (loudness). `value` is in our units (see METRIC_MAP).
    """
    raw = pd.read_csv(path or published_csv_path(), dtype={"params_b": "float64"})
    unknown = sorted(set(raw["benchmark"]) - set(BENCHMARK_KEYS))
    if unknown:
        raise InvalidValue(
            f"{path or published_csv_path()}: unknown benchmark name(s) {unknown}; add them to BENCHMARK_KEYS"
        )
    rows = []
    for record in raw.to_dict("records"):
        mapping = METRIC_MAP.get(record["metric"], MetricMapping(_metric_key(record["metric"])))
        rows.append(
            {
                "benchmark": BENCHMARK_KEYS[record["benchmark"]],
                "split": SPLIT_KEYS.get(record["split"], record["split"]),
                "split_label": record["split"],
                "model": record["model"],
                "params_b": record["params_b"],
                "metric": mapping.field,
                "metric_label": record["metric"],
                "value": float(record["value"]) * mapping.scale,
                "higher_is_better": str(record["higher_is_better"]).strip().lower() == "true",
                "direction": _published_direction(record, path),
                "protocol": _required(record, "protocol", path),
                "protocol_evidence": _required(record, "protocol_evidence", path),
                "source": record["source"],
                "note": mapping.note,
            }
        )
    frame = pd.DataFrame(rows)
    if benchmark is not None:
        valid = sorted(frame["benchmark"].unique())
        if benchmark not in valid:
            raise InvalidValue(f"no published numbers for benchmark {benchmark!r}; valid: {', '.join(valid)}")
        frame = frame[frame["benchmark"] == benchmark]
        if split is None:
            split = DEFAULT_SPLIT.get(benchmark)
    if split is not None:
        valid_splits = sorted(frame["split"].unique())
        if split not in valid_splits:
            raise InvalidValue(
                f"no published numbers for split {split!r}; valid splits: {', '.join(valid_splits)}"
            )
        frame = frame[frame["split"] == split]
    return frame.reset_index(drop=True)
