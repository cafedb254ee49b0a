"""`nava-eval rewrite IN.jsonl -o OUT.jsonl`: NAVA's Qwen3 prompt rewriter over a prompt file."""

from __future__ import annotations

from pathlib import Path

import click

from nava_eval.errors import UserError
from nava_eval.runners.cli.options import UserPath, rewrite_options, rewrite_spec


@click.command(name="rewrite")
@click.argument("src", metavar="IN.jsonl", type=UserPath(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "dst",
    required=True,
    type=UserPath(dir_okay=False, path_type=Path),
    help="Where to write the rewritten JSONL (written once every line succeeded).",
)
@rewrite_options
@click.option("--device", help="cpu, cuda or cuda:N for a local model (default: cuda when available).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def command(src: Path, dst: Path, device: str | None, no_progress: bool, **kwargs) -> None:
    """Rewrite each prompt of IN.jsonl into a long NAVA prompt, as the release's rewriter does.

    IN.jsonl is one JSON object per line with the prompt in `prompt` (or `text`), e.g. a `jsonl:`
    prompt file. Each prompt goes to Qwen3-4B-Thinking-2507 (loaded here with transformers, or behind
    --rewrite-server) with the release's own instruction text and sampling settings (temperature 0.3,
    top-p 0.75, top-k 20, repetition penalty 1.05, 4096 new tokens, seed 42); the thinking is stripped
    as the release strips it. Every <S>…<E> speech span must come back verbatim and in order: a
    rewrite that alters, drops or adds one is tried again with the next seed and, after
    --rewrite-attempts tries, refused with an error naming the line (nothing is written).

    OUT.jsonl keeps every field of each line, with the prompt rewritten, `original_prompt` and
    `rewrite` (cache key, model, instruction). Rewrites are cached by (model, instruction, prompt,
    settings), so running again costs nothing; `nava-eval run jsonl:IN.jsonl --rewrite` does the same
    before generating and records both prompts of every item in run.json.

    \b
    Examples:
      nava-eval rewrite prompts.jsonl -o prompts.rewritten.jsonl
      nava-eval rewrite prompts.jsonl -o out.jsonl --rewrite-server http://localhost:8000/v1 \\
          --rewrite-model ./Qwen3-4B-Thinking-2507
      nava-eval run jsonl:out.jsonl --preset nava
    """
    from nava_eval.runners.rewrite import make_rewriter, rewrite_file

    try:
        spec = rewrite_spec(kwargs, always=True)
        rewriter = make_rewriter(
            spec, kwargs.get("rewrite_cache"), device, kwargs.get("rewrite_timeout") or 60.0
        )
        summary = rewrite_file(src, dst, rewriter, progress=not no_progress)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    retried = f" ({summary.retried} after a refused try)" if summary.retried else ""
    click.echo(
        f"rewrite: {summary.rewritten} rewritten{retried}, {summary.cached} from the cache "
        f"[{rewriter.spec.model}, instruction {rewriter.spec.instruction}] → {dst}"
    )
