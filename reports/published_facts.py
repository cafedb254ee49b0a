"""Published facts that are not metric values: a model's resolution, NAVA's speed and memory table.

reports/published_models.csv: the Resolution column of NAVA's Table 1 (and the MOVA variants' own
names). reports/published_speed.csv: NAVA's README table of peak VRAM and seconds per step for its
four inference scripts (704×1280, 37 frames, 50 steps, 8×H100). Both name their source and commit.
`speed_table` puts the harness's own `nava-eval bench gpu` figures (bench_gpu.json) beside them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from nava_eval.errors import InvalidValue, MissingFile

MODELS_CSV = "published_models.csv"
SPEED_CSV = "published_speed.csv"


@dataclass(frozen=True)
class ModelFact:
    benchmark: str
    model: str
    resolution: str
    source: str


def _csv(name: str) -> Path:
    return Path(str(resources.files("nava_eval.reports").joinpath(name)))


def model_facts() -> dict[tuple[str, str], ModelFact]:
    """(benchmark key, published model name) → its resolution and the source that states it."""
    from nava_eval.reports.published import BENCHMARK_KEYS

    frame = pd.read_csv(_csv(MODELS_CSV), dtype=str)
    out = {}
    for r in frame.to_dict("records"):
        key = (BENCHMARK_KEYS[r["benchmark"]], r["model"])
        out[key] = ModelFact(key[0], r["model"], r["resolution"], r["source"])
    return out


def published_speed() -> pd.DataFrame:
    """NAVA's README speed/memory table, one row per inference script."""
    return pd.read_csv(_csv(SPEED_CSV))


def _fmt_gb(value: float, approx: bool) -> str:
    return f"{'~' if approx else ''}{value:g} GB"


def _fmt_s(value: float, approx: bool) -> str:
    return f"{'~' if approx else ''}{value:g} s/step"


def bench_gpu_rows(path: str | Path) -> list[dict[str, str]]:
    """Per-step measurements of a `nava-eval bench gpu` bench_gpu.json, as speed-table rows."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingFile(
            f"{source}: no such file; give the bench_gpu.json `nava-eval bench gpu` wrote"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidValue(f"{source}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise InvalidValue(f"{source}: at $.sections: expected the list a bench_gpu.json holds")
    gpus = data.get("machine", {}).get("gpus") if isinstance(data.get("machine"), dict) else None
    machine = ", ".join(map(str, gpus)) if isinstance(gpus, list) and gpus else "this machine"
    rows = []
    for section in data["sections"]:
        for m in section.get("measurements", []) if isinstance(section, dict) else []:
            if not isinstance(m, dict) or m.get("per") != "step" or m.get("seconds") is None:
                continue
            peak = m.get("peak_memory_bytes")
            rows.append(
                {
                    "who": "harness (bench gpu)",
                    "setting": f"{section.get('name', '?')}: {m.get('label', '?')}",
                    "peak VRAM": f"{peak / 2**30:.1f} GiB" if isinstance(peak, int | float) else "–",
                    "speed": f"{float(m['seconds']):.3g} s/step",
                    "measured on": machine,
                    "source": str(source),
                }
            )
    return rows


SPEED_HEADERS = ("who", "setting", "offloads", "peak VRAM", "speed")


def speed_table(bench_gpu: str | Path | None = None) -> tuple[list[list[str]], list[str]]:
    """NAVA's published speed/memory rows, then the harness's own per-step figures (`bench_gpu`): rows, notes."""
    rows, notes = [], []
    for r in published_speed().to_dict("records"):
        rows.append(
            [
                f"{r['model']} (published)",
                str(r["script"]),
                str(r["offload"]),
                _fmt_gb(float(r["peak_vram_gb"]), bool(r["approx_vram"])),
                _fmt_s(float(r["s_per_step"]), bool(r["approx_speed"])),
            ]
        )
        note = f"Published: {r['resolution']}, {r['frames']} frames, {r['steps']} steps, {r['gpus']}; {r['source']}"
        if note not in notes:
            notes.append(note)
    if bench_gpu is not None:
        measured = bench_gpu_rows(bench_gpu)
        rows += [[m["who"], m["setting"], "", m["peak VRAM"], m["speed"]] for m in measured]
        notes += sorted({f"Harness: measured on {m['measured on']}; {m['source']}" for m in measured})
        if not measured:
            notes.append(f"Harness: {bench_gpu} holds no per-step measurement")
    return rows, notes
