"""NAVA's user study (human GSB votes) beside the metric table: win/tie/lose per pair with bootstrap CIs.

reports/user_study.csv keeps the per-pair counts tallied from NAVA's data/votes.jsonl (the raw votes
stay in NAVA's repository) and names the file and commit. The CI of each share resamples the votes of
a pair with replacement (a multinomial draw of the same size from the observed shares), seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from nava_eval.errors import InvalidValue

STUDY_CSV = "user_study.csv"
STUDY_HEADERS = ("NAVA vs", "win/tie/lose", "win %", "tie %", "lose %", "win − lose %")
N_RESAMPLES = 10_000
SEED = 0


@dataclass(frozen=True)
class PairResult:
    baseline: str
    votes: int
    counts: tuple[int, int, int]  # win, tie, lose for NAVA
    shares: tuple[float, float, float]
    ci: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    net: float  # win share − lose share
    net_ci: tuple[float, float]
    source: str


def load_study(path: str | Path | None = None) -> pd.DataFrame:
    """The per-pair counts; every row must add up to its vote count."""
    source = path or Path(str(resources.files("nava_eval.reports").joinpath(STUDY_CSV)))
    frame = pd.read_csv(source)
    bad = frame[frame[["win", "tie", "lose"]].sum(axis=1) != frame["votes"]]
    if len(bad):
        raise InvalidValue(f"{source}: win + tie + lose != votes for {', '.join(bad['baseline'])}")
    return frame


def bootstrap_pair(
    win: int, tie: int, lose: int, n_resamples: int = N_RESAMPLES, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Resampled (win, tie, lose) shares, shape [n_resamples, 3], and the resampled win − lose shares."""
    n = win + tie + lose
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, np.array([win, tie, lose], dtype=float) / n, size=n_resamples) / n
    return draws, draws[:, 0] - draws[:, 2]


def study_results(path: str | Path | None = None) -> list[PairResult]:
    out = []
    for rec in load_study(path).to_dict("records"):
        counts = (int(rec["win"]), int(rec["tie"]), int(rec["lose"]))
        n = sum(counts)
        draws, net = bootstrap_pair(*counts)
        lo, hi = np.percentile(draws, [2.5, 97.5], axis=0)
        shares = tuple(c / n for c in counts)
        out.append(
            PairResult(
                str(rec["baseline"]), n, counts, shares,  # type: ignore[arg-type]
                tuple((float(a), float(b)) for a, b in zip(lo, hi, strict=True)),  # type: ignore[arg-type]
                shares[0] - shares[2],
                (float(np.percentile(net, 2.5)), float(np.percentile(net, 97.5))),
                str(rec["source"]),
            )
        )  # fmt: skip
    return out


def _pct(share: float, ci: tuple[float, float], sign: str = "") -> str:
    return f"{100 * share:{sign}.0f} [{100 * ci[0]:{sign}.0f}, {100 * ci[1]:{sign}.0f}]"


def study_rows() -> list[list[str]]:
    """One row per pair: counts and shares with their 95 % bootstrap CIs."""
    rows = []
    for r in study_results():
        cells = [_pct(s, ci) for s, ci in zip(r.shares, r.ci, strict=True)]
        rows.append([r.baseline, "/".join(map(str, r.counts)), *cells, _pct(r.net, r.net_ci, "+")])
    return rows


def study_notes() -> list[str]:
    sources = sorted({r.source for r in study_results()})
    return [
        f"Shares of each pair's votes in %, [95 % bootstrap CI over votes] ({N_RESAMPLES} resamples, seed {SEED}).",
        *[f"Source: {s}" for s in sources],
    ]
