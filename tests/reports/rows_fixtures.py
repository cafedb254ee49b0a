"""results.json files for the row/paper-view tests, written with the real record writers."""

from __future__ import annotations

from pathlib import Path

from nava_eval.rundir.records import MetricResult, Results, SetResult, write_results


def metric(name: str, protocol: str, value: float, ci: tuple[float, float], **extra: object) -> MetricResult:
    direction = "lower" if name.startswith(("sync_d", "wer", "fd")) else "higher"
    return MetricResult(
        name=name,
        protocol=protocol,
        direction=direction,
        value=value,
        n=4,
        ci95=list(ci),
        **extra,  # type: ignore[arg-type]
    )


def smoke_run(root: Path, name: str = "smoke") -> Path:
    """A smoke run: protocols carry the random-weights suffix, so none matches a published column."""
    sfx = "+smoke-random-weights"
    res = Results(
        run_name=name,
        benchmark="versebench",
        model="nava-tiny",
        smoke=True,
        params_b=0.0094,
        n_samples=6,
        n_outputs=6,
        notes=["smoke: random weights, numbers are not meaningful"],
        metrics={
            "sync_c": metric("sync_c", "sync/syncnet-lse-v1" + sfx, 0.075, (0.074, 0.076), quantity="sync_c",
                             per_set={"set1": SetResult(0.0757, 1, [0.0757, 0.0757])}),
            "sync_c_mova": metric("sync_c_mova", "sync/mova-lse-v1" + sfx, 0.0751, (0.0746, 0.0757),
                                  quantity="sync_c", sets=["set3"], per_set={"set3": SetResult(0.0751, 2, [0.0746, 0.0757])}),
            "video_quality": metric("video_quality", "video-quality/versebench-as-v2" + sfx, 0.5703, (0.5702, 0.5704)),
            "wer_sensevoice": metric("wer_sensevoice", "wer/versebench-sensevoice-v1" + sfx, 100.0, (100.0, 100.0), quantity="wer"),
        },
    )  # fmt: skip
    path = root / name
    path.mkdir(parents=True)
    write_results(path / "results.json", res)
    return path


def matching_run(root: Path, name: str = "nava", seeds: list[int] | None = None) -> Path:
    """A NAVA run measured under the published protocols (its numbers share the published columns)."""
    seed_extra = {"seeds": seeds, "seed_sd": 0.05} if seeds else {}
    res = Results(
        run_name=name,
        benchmark="versebench",
        model="nava-6b",
        params_b=6.3,
        n_samples=600,
        n_outputs=598,
        seeds=seeds,
        metrics={
            "sync_c_mova": metric("sync_c_mova", "sync/mova-lse-v1", 7.9, (7.7, 8.1), quantity="sync_c", **seed_extra),
            "ib": metric("ib", "ib/mova-imagebind-huge-v1", 0.30, (0.29, 0.31)),
            "sync_c": metric("sync_c", "sync/syncnet-lse-v1", 6.5, (6.4, 6.6)),
        },
    )  # fmt: skip
    path = root / name
    path.mkdir(parents=True)
    write_results(path / "results.json", res)
    return path
