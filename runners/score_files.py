"""Score arbitrary files with one metric: one JSON object per file (behind `nava-eval score-files`).

Generic over the Metric protocol: the files become `ScoreInput`s (with `--reference`, `--text`,
`--language`, `--audio` and `--caption` attached to every one), the metric is built with
`get_metric(name, weights=..., smoke=..., **options)` and scores them in batches with its networks
loaded once. Folders are expanded to the media files inside them (sorted).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.errors import InvalidValue

MEDIA_SUFFIXES = frozenset(
    {".mp4", ".mkv", ".mov", ".avi", ".webm", ".wav", ".flac", ".mp3", ".m4a", ".ogg", ".npz"}
)


@dataclass(frozen=True)
class ScoreFilesRequest:
    """Everything `score-files` needs; the CLI fills it from its options."""

    metric: str
    files: tuple[Path, ...]
    weights: Mapping[str, Path] = field(default_factory=dict)
    reference: Path | None = None
    text: str | None = None
    language: str | None = None
    audio: Path | None = None
    caption: str | None = None  # clap: the audio prompt (CS is the cosine with it)
    prompt: str | None = None  # sim_speakers: the generation prompt with its <S>...<E> spans
    speaker_wavs: tuple[Path, ...] = ()  # sim_speakers: one reference wav per span, in order
    channel: str | None = None  # audio metrics: another channel reading (metrics.channels)
    cropped: bool = False
    details: bool = False
    smoke: bool = False
    device: str | None = None
    batch_size: int = 8
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidValue(f"batch_size must be at least 1, got {self.batch_size}")


def expand_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a folder stands for the media files directly inside it, sorted."""
    from nava_eval.user_files import NotARegularFile, file_problem

    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            out.extend(
                sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
            )
        else:
            # A missing file becomes its own `failed` line; a FIFO or device would block the decoder for ever.
            problem = file_problem(path)
            if problem not in (None, "no such file"):
                raise NotARegularFile(
                    f"{path}: is {problem}, not a regular file; only regular files are read"
                )
            out.append(path)
    return out


def build_inputs(req: ScoreFilesRequest, files: Sequence[Path]):
    from nava_eval.metrics.base import ScoreInput

    meta: dict[str, Any] = {"audio": str(req.audio)} if req.audio is not None else {}
    if req.caption is not None:
        meta["audio_prompt"] = [req.caption]
        meta["official_prompt"] = req.caption  # clap_mova: MOVA scores against the item's prompt
    if req.prompt is not None:
        meta["prompt"] = req.prompt
    if req.speaker_wavs:
        meta["speaker_wavs"] = [str(p) for p in req.speaker_wavs]
    return [
        ScoreInput(
            id=path.stem if sum(p.stem == path.stem for p in files) == 1 else str(path),
            set="files",
            output=path,
            reference_text=req.text,
            reference_audio=req.reference,
            language=req.language,
            meta=dict(meta),
        )
        for path in files
    ]


def metric_options(req: ScoreFilesRequest) -> dict[str, Any]:
    """Constructor options: only the ones set, so metrics that do not know them are not bothered."""
    options: dict[str, Any] = dict(req.options)
    if req.cropped:
        options["cropped"] = True
    if req.details:
        options["details"] = True
    if req.channel is not None:
        from nava_eval.metrics.base import metric_class
        from nava_eval.metrics.channels import channel_options, takes_channel

        cls = metric_class(req.metric)
        if not takes_channel(cls):
            raise InvalidValue(
                f"--channel: metric {req.metric!r} has no channel option (it reads as its official protocol)"
            )
        options.update(channel_options(cls, req.channel))
    return options


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def score_files(req: ScoreFilesRequest) -> Iterator[dict[str, Any]]:
    """Yield one JSON-able dict per file, in the order given (after folder expansion)."""
    from nava_eval.metrics.base import get_metric
    from nava_eval.user_files import require_regular_file

    files = expand_files(req.files)
    for option, given in (
        ("--reference", req.reference),
        ("--audio", req.audio),
        *(("--speaker-wav", p) for p in req.speaker_wavs),
    ):
        if given is not None:
            require_regular_file(given, option)
    if not files:
        raise InvalidValue(
            "no files to score (folders are searched for " + ", ".join(sorted(MEDIA_SUFFIXES)) + ")"
        )
    weights = {k: str(v) for k, v in req.weights.items()}
    metric = get_metric(req.metric, weights=weights, smoke=req.smoke, **metric_options(req))
    allowed = getattr(metric, "weight_names", None)
    if allowed is not None:
        unknown = sorted(set(weights) - set(allowed))
        if unknown:
            raise InvalidValue(
                f"--weights {', '.join(unknown)}: not used by metric {req.metric!r} (it uses {', '.join(allowed)})"
            )
    metric.setup(req.device or default_device())
    inputs = build_inputs(req, files)
    for start in range(0, len(inputs), req.batch_size):
        batch = inputs[start : start + req.batch_size]
        outcomes = metric.score_batch(batch)
        for item, outcome in zip(batch, outcomes, strict=True):
            yield to_line(req.metric, metric.protocol, item.output, outcome, getattr(metric, "fields", ()))


def to_line(metric: str, protocol: str, path: Path, outcome, fields=()) -> dict[str, Any]:
    """One JSON line; `field_protocols` names each field's protocol when a field has its own."""
    line: dict[str, Any] = {
        "file": os.fspath(path),
        "metric": metric,
        "protocol": protocol,
        "status": outcome.status,
    }
    if any(getattr(f, "protocol", None) for f in fields):
        line["field_protocols"] = {f.name: f.protocol_for(protocol) for f in fields}
    line.update(_jsonable(outcome.values))
    if outcome.reason is not None:
        line["reason"] = outcome.reason
    return line


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        elif isinstance(value, Path):
            value = os.fspath(value)
        out[key] = value
    return out
