"""`nava-eval score-files METRIC FILE...`: score arbitrary files, one JSON line per file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import MAX_BATCH, UserPath, channel_option


@click.command(name="score-files")
@click.argument("metric")
@click.argument("files", nargs=-1, required=True, type=UserPath(path_type=Path))
@click.option(
    "--weights",
    "weight_pairs",
    multiple=True,
    metavar="NAME=PATH",
    help="Use your own copy of a weight file (repeatable), e.g. syncnet=./syncnet_v2.model.",
)
@click.option(
    "--reference",
    type=UserPath(exists=True, path_type=Path),
    help="Reference audio (sim: the prompt wav; clap: the ground-truth wav for FD; kl: the ground-truth wav).",
)
@click.option("--text", default=None, help="Reference text (wer, wer_sensevoice) applied to every file.")
@click.option(
    "--caption",
    default=None,
    help="Audio prompt (clap: CS is the cosine with it; clap_mova: the item's prompt).",
)
@click.option(
    "--prompt",
    default=None,
    help="Generation prompt with <S>...<E> speech spans (sim_speakers: the span texts to locate).",
)
@click.option(
    "--speaker-wav",
    "speaker_wavs",
    multiple=True,
    type=UserPath(exists=True, dir_okay=False, path_type=Path),
    help="sim_speakers: the reference wav of the i-th <S>...<E> span of --prompt (repeat, in span order).",
)
@click.option("--language", default=None, help="Language of --text (en, zh).")
@click.option(
    "--audio",
    type=UserPath(exists=True, path_type=Path),
    help="sync --cropped on raw .npz frames: their 16 kHz mono wav.",
)
@click.option(
    "--cropped",
    is_flag=True,
    help="sync: each file is one face track already cropped to 224×224 (no detection, no tracking).",
)
@click.option("--details", is_flag=True, help="Add per-item details (sync: the 31-value distance curve).")
@click.option("--smoke", is_flag=True, help="Tiny seeded random networks (scores meaningless).")
@click.option("--device", default=None, help="cpu or cuda (default: cuda when present).")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(1, MAX_BATCH))
@channel_option
def command(
    metric: str,
    files: tuple[Path, ...],
    weight_pairs: tuple[str, ...],
    reference: Path | None,
    text: str | None,
    language: str | None,
    caption: str | None,
    prompt: str | None,
    speaker_wavs: tuple[Path, ...],
    audio: Path | None,
    cropped: bool,
    details: bool,
    smoke: bool,
    device: str | None,
    batch_size: int,
    channel: str | None,
) -> None:
    """Score FILE... (or folders of them) with METRIC and print one JSON object per file.

    Exit code 1 when a file failed (unreadable); skipped files (no face track, silent audio) carry
    their reason and do not change the exit code.

    \b
    Examples:
      nava-eval score-files sync clips/
      nava-eval score-files sync --cropped --details face_track.mp4 --weights syncnet=./syncnet_v2.model
      nava-eval score-files wer out.wav --text "the quick brown fox" --language en
      nava-eval score-files wer_sensevoice out.mp4 --text "Good evening, I will meet you."
      nava-eval score-files audiobox outputs/set1/
      nava-eval score-files clap gen.mp4 --caption "a dog barking" --reference gt.wav
      nava-eval score-files wer --channel right out.mp4 --text "Good evening." --language en
      nava-eval score-files sim_speakers out.mp4 --prompt "A: <S>Hi there.<E> B: <S>Hello.<E>" \
          --speaker-wav a.wav --speaker-wav b.wav --language en
    """
    from nava_eval.metrics.weights import parse_weight_overrides
    from nava_eval.runners.score_files import ScoreFilesRequest, score_files

    try:
        req = ScoreFilesRequest(
            metric=metric,
            files=files,
            weights=parse_weight_overrides(weight_pairs),
            reference=reference,
            text=text,
            language=language,
            audio=audio,
            caption=caption,
            prompt=prompt,
            speaker_wavs=speaker_wavs,
            channel=channel,
            cropped=cropped,
            details=details,
            smoke=smoke,
            device=device,
            batch_size=batch_size,
        )
        failed = 0
        for line in score_files(req):
            failed += line["status"] == "failed"
            from nava_eval.rundir.files import finite_or_null

            click.echo(json.dumps(finite_or_null(line), ensure_ascii=False, allow_nan=False))
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    raise SystemExit(1 if failed else 0)
