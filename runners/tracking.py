"""`--log-to wandb|tensorboard`: a finished run's settings, aggregates with CIs and per-sample scores.

What lm-evaluation-harness and VBench log for a run: the configuration, one summary value per
metric (with its 95 % bootstrap CI, n, protocol) and the per-sample scores, so runs can be compared
in the tracker. Each backend lives in its optional extra (`pip install 'nava-eval[wandb]'` /
`'nava-eval[tensorboard]'`) and is imported only when asked for.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nava_eval.errors import InvalidValue, UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerPayload:
    """Everything a tracker receives about one run."""

    name: str
    run_dir: Path
    config: dict[str, Any]
    summary: dict[str, float]  # "<metric>", "<metric>/ci95_low|ci95_high|n", "<metric>/<set>"
    protocols: dict[str, str]
    per_sample: list[dict[str, Any]]  # id, set, metric, field, value, protocol

    def per_sample_by_field(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(self.per_sample, key=lambda r: (r["field"], str(r["id"]))):
            out.setdefault(row["field"], []).append(row)
        return out


def collect_run_log(run_dir: Path, config: Mapping[str, Any] | None = None) -> TrackerPayload:
    """Read results.json, run.json and scores/ of a run directory into a TrackerPayload."""
    from nava_eval.reports.per_sample import load_run
    from nava_eval.rundir.run_file import load_run_file
    from nava_eval.rundir.schema import to_dict

    run = load_run(run_dir)
    results = run.results
    run_file = load_run_file(run_dir)
    settings = {
        "spec": to_dict(run_file.spec),
        "config": dict(config if config is not None else run_file.config),
    }
    summary: dict[str, float] = {}
    protocols: dict[str, str] = {}
    for name, metric in results.metrics.items():
        protocols[name] = metric.protocol
        summary[f"{name}/n"] = float(metric.n)
        summary[f"{name}/n_failed"] = float(metric.n_failed)
        if metric.value is not None:
            summary[name] = float(metric.value)
        if metric.ci95:
            summary[f"{name}/ci95_low"], summary[f"{name}/ci95_high"] = map(float, metric.ci95)
        for set_name, per_set in metric.per_set.items():
            if per_set.value is not None:
                summary[f"{name}/{set_name}"] = float(per_set.value)
    rows = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in run.scores.to_dict("records")
    ]
    return TrackerPayload(results.run_name, Path(run_dir), settings, summary, protocols, rows)


def _tensorboard(run_log: TrackerPayload) -> str:
    from torch.utils.tensorboard import SummaryWriter  # needs the `tensorboard` package (extra)

    folder = run_log.run_dir / "tensorboard"
    writer = SummaryWriter(log_dir=str(folder))
    try:
        writer.add_text("config", "```json\n" + json.dumps(run_log.config, indent=2, default=str) + "\n```")
        writer.add_text("protocols", "\n".join(f"- {k}: `{v}`" for k, v in sorted(run_log.protocols.items())))
        for key, value in sorted(run_log.summary.items()):
            writer.add_scalar(f"summary/{key}", value, 0)
        for field, rows in run_log.per_sample_by_field().items():
            # Scalars need a numeric step: the sample's rank in id order; the text maps rank → id.
            for step, row in enumerate(rows):
                writer.add_scalar(f"per_sample/{field}", float(row["value"]), step)
            table = "| step | id | set | value |\n|---|---|---|---|\n" + "\n".join(
                f"| {i} | {r['id']} | {r['set']} | {float(r['value']):.6g} |" for i, r in enumerate(rows)
            )
            writer.add_text(f"per_sample/{field}", table)
    finally:
        writer.close()
    return str(folder)


def _wandb(run_log: TrackerPayload) -> str:
    import wandb  # the `wandb` extra; WANDB_MODE=offline keeps it local

    run = wandb.init(
        project=os.environ.get("WANDB_PROJECT", "nava-eval"),
        name=run_log.name,
        config=run_log.config,
        dir=str(run_log.run_dir),
        job_type="eval",
    )
    try:
        run.summary.update({**run_log.summary, **{f"{k}/protocol": v for k, v in run_log.protocols.items()}})
        columns = ["id", "set", "metric", "field", "value", "protocol"]
        table = wandb.Table(
            columns=columns, data=[[row.get(c) for c in columns] for row in run_log.per_sample]
        )
        run.log({"per_sample": table})
        url = getattr(run, "url", None) or str(run_log.run_dir / "wandb")
    finally:
        run.finish()
    return url


#: Backend name → writer (imported lazily inside each writer).
BACKENDS: dict[str, Callable[[TrackerPayload], str]] = {"tensorboard": _tensorboard, "wandb": _wandb}
INSTALL_HINTS = {
    "tensorboard": "pip install 'nava-eval[tensorboard]'",
    "wandb": "pip install 'nava-eval[wandb]'",
}


class TrackerMissingError(UserError, RuntimeError):
    """The backend asked for is not installed; the message names the extra."""


def log_run(
    backends: Sequence[str], run_dir: Path, config: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Send a finished run to each backend; returns backend → where it went."""
    if not backends:
        return {}
    run_log = collect_run_log(run_dir, config)
    where = {}
    for name in backends:
        if name not in BACKENDS:
            raise InvalidValue(f"unknown --log-to backend {name!r}; valid: {', '.join(BACKENDS)}")
        try:
            where[name] = BACKENDS[name](run_log)
        except ModuleNotFoundError as exc:
            raise TrackerMissingError(
                f"--log-to {name} needs {exc.name!r}, which is not installed: {INSTALL_HINTS[name]}"
            ) from None
        log.info("logged %s to %s: %s", run_log.name, name, where[name])
    return where
