"""Verse-Bench's Overall score (Dorniwang/Verse-Bench `calculate_metrics.py` at 5645a09), as a derived metric.

The toolkit min–max normalises twelve metrics with fixed bounds (`METRIC_BOUNDS`), clipped to [0, 1],
then S_video = mean(AS, ID), S_audio = mean(FD, KL, CS, CE, CU, PC, PQ), S_other = mean(WER, LSE-C),
S_joint = the harmonic mean of CS and AV-A (0 when both are 0), and Overall = 0.5·S_joint +
0.2·S_video + 0.2·S_audio + 0.1·S_other. The weights are the code's (`WEIGHTS`, unchanged since the
file's first commit 568efa4); see docs/protocols/versebench_overall.md for the 0.4/0.2/0.3/0.1 some
descriptions give.

Each input is our field measured under the toolkit's protocol, over the toolkit's population (the
benchmark's field rules), in the toolkit's units (WER as a fraction). Two differences are named:
- LSE-C: the toolkit's `syncnet/syncnet_inferencer.py` crops faces with insightface, which this
  harness does not implement. syncnet_python's pipeline (`sync/syncnet-lse-v1`) stands in, and the
  Overall's protocol then carries `+lse-c-syncnet-python`.
- A missing input: the toolkit substitutes −999, which its clipping turns into a perfect score for a
  lower-is-better input (FD, KL, PC, WER, AV-A) and 0 for a higher-is-better one. By default the
  Overall is missing, with the reason; `versebench_overall_sentinel` reproduces the toolkit.
"""

from __future__ import annotations

from collections.abc import Mapping

from nava_eval.reports.derived import DerivedField, DerivedMetric, Input

#: METRIC_BOUNDS of calculate_metrics.py: symbol → (best, worst)
BOUNDS: dict[str, tuple[float, float]] = {
    "AS": (1.0, 0.0),
    "ID": (1.0, 0.0),
    "FD": (0.0, 3.0),
    "KL": (0.0, 4.0),
    "CS": (1.0, 0.0),
    "CE": (10.0, 1.0),
    "CU": (10.0, 1.0),
    "PC": (1.0, 10.0),
    "PQ": (10.0, 1.0),
    "WER": (0.0, 1.0),
    "LSE-C": (10.0, 0.0),
    "AV-A": (0.0, 1.0),
}
#: HIGHER_IS_BETTER_METRICS of calculate_metrics.py
HIGHER_IS_BETTER = frozenset({"AS", "ID", "CS", "CE", "CU", "PQ", "LSE-C"})
#: WEIGHTS of calculate_metrics.py
WEIGHTS = {"joint": 0.5, "video": 0.2, "audio": 0.2, "other": 0.1}
AUDIO = ("FD", "KL", "CS", "CE", "CU", "PC", "PQ")
#: The value calculate_metrics.py gives a metric with no scored item.
TOOLKIT_MISSING = -999.0

#: The toolkit's LSE-C protocol (insightface crops); not implemented here, so it is never found.
TOOLKIT_LSE_C = "sync/versebench-insightface-lse-v1"

INPUTS: tuple[Input, ...] = (
    Input("AS", "video_quality", "video-quality/versebench-as-v2"),
    Input("ID", "id", "id/versebench-dinov3-vitl16-v1"),
    Input("FD", "fd", "fd/versebench-clap-perclip-v1"),
    Input("KL", "kl", "kl/versebench-passt-v1"),
    Input("CS", "cs", "cs/versebench-clap-v1"),
    Input("CE", "ce", "audiobox/versebench-aesthetics-v1"),
    Input("CU", "cu", "audiobox/versebench-aesthetics-v1"),
    Input("PC", "pc", "audiobox/versebench-aesthetics-v1"),
    Input("PQ", "pq", "audiobox/versebench-aesthetics-v1"),
    Input("WER", "wer", "wer/versebench-sensevoice-v1", scale=0.01),  # ours in %, the toolkit's a fraction
    Input("LSE-C", "sync_c", TOOLKIT_LSE_C, stand_ins={"sync/syncnet-lse-v1": "+lse-c-syncnet-python"}),
    Input("AV-A", "av_a", "av-a/versebench-synchformer-v1"),
)


def normalize(symbol: str, value: float) -> float:
    """normalize_metric(): min–max with the toolkit's bounds, clipped to [0, 1]; equal bounds give 0.5."""
    best, worst = BOUNDS[symbol]
    if best == worst:
        return 0.5
    if symbol in HIGHER_IS_BETTER:
        score = (value - worst) / (best - worst)
    else:
        score = (worst - value) / (worst - best)
    return max(0.0, min(1.0, score))


def overall(values: Mapping[str, float]) -> dict[str, float]:
    """calculate_overall_score(): the four sub-scores and the Overall, in the toolkit's order of operations."""
    n = {symbol: normalize(symbol, v) for symbol, v in values.items()}
    s_video = (n["AS"] + n["ID"]) / 2
    s_audio = sum(n[m] for m in AUDIO) / len(AUDIO)
    s_other = (n["WER"] + n["LSE-C"]) / 2
    cs, ava = n["CS"], n["AV-A"]
    s_joint = 0.0 if (cs + ava) == 0 else 2 * (cs * ava) / (cs + ava)
    total = (
        WEIGHTS["joint"] * s_joint
        + WEIGHTS["video"] * s_video
        + WEIGHTS["audio"] * s_audio
        + WEIGHTS["other"] * s_other
    )
    return {
        "versebench_overall": total,
        "versebench_s_joint": s_joint,
        "versebench_s_video": s_video,
        "versebench_s_audio": s_audio,
        "versebench_s_other": s_other,
    }


FIELDS = (
    DerivedField("versebench_overall", "Overall"),
    DerivedField("versebench_s_joint", "S_joint"),
    DerivedField("versebench_s_video", "S_video"),
    DerivedField("versebench_s_audio", "S_audio"),
    DerivedField("versebench_s_other", "S_other"),
)

OVERALL = DerivedMetric(
    name="versebench_overall",
    label="Verse-Bench Overall",
    protocol="overall/versebench-v1",
    benchmark="versebench",
    inputs=INPUTS,
    formula=overall,
    description=(
        "Verse-Bench's Overall score: twelve metrics min–max normalised with the toolkit's bounds, "
        "0.5·S_joint (harmonic mean of CS and AV-A) + 0.2·S_video + 0.2·S_audio + 0.1·S_other"
    ),
    fields=FIELDS,
)

#: The toolkit's handling of a metric with no scored item (−999), as a named option: not a default.
OVERALL_SENTINEL = DerivedMetric(
    name="versebench_overall",
    label="Verse-Bench Overall (missing as −999)",
    protocol="overall/versebench-v1",
    benchmark="versebench",
    inputs=INPUTS,
    formula=overall,
    description=OVERALL.description + "; a missing input is −999 as in calculate_metrics.py",
    fields=FIELDS,
    missing_value=TOOLKIT_MISSING,
    default=False,
)
