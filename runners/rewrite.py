"""Prompt rewriting wired to files and runs: `nava-eval rewrite IN -o OUT` and `run jsonl:P --rewrite`.

The rewriter (model, instruction, span check, cache) is `nava.rewrite`; here are the JSONL reading
and writing, the progress bar, and what a run does with the rewrites: generate from them and record
each item's prompt before and after in run.json.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nava_eval.benchmarks.base import Sample
from nava_eval.benchmarks.errors import BadInputError, Problem
from nava_eval.errors import InvalidValue
from nava_eval.rundir.rewrites import RewriteSpec, RewrittenPrompt

#: How often a rank that waits for rank 0's rewrites looks at the cache.
_POLL_S = 0.5


def default_cache_folder() -> Path:
    """$NAVA_EVAL_HOME/rewrites (default ~/.cache/nava-eval/rewrites)."""
    from nava_eval.benchmarks.download import nava_eval_home

    return nava_eval_home() / "rewrites"


def make_rewriter(
    spec: RewriteSpec,
    cache_folder: Path | None = None,
    device: str | None = None,
    timeout_s: float = 60.0,
    with_model: bool = True,
):
    """A `nava.rewrite.Rewriter` for `spec`; with_model=False: cache lookups only (dry run, waiting ranks)."""
    from nava_eval.nava.rewrite import RewriteCache, Rewriter, ServerBackend, TransformersBackend

    backend = None
    if with_model:
        if spec.server is not None:
            backend = ServerBackend(spec.server, timeout_s)
        else:
            backend = TransformersBackend(spec.model, device)
    return Rewriter(spec, backend, RewriteCache(cache_folder or default_cache_folder()))


@dataclass(frozen=True)
class PromptLine:
    """One line of a prompt file: its number, its object and which key holds the prompt."""

    number: int
    obj: dict[str, Any]
    key: str  # "prompt", or "text" (NAVA's own files and pe_src's jsonl use it)

    @property
    def prompt(self) -> str:
        return self.obj[self.key]


def read_prompt_lines(path: Path) -> list[PromptLine]:
    """Every line of a prompt JSONL; all bad lines (not JSON, no prompt) in one error naming each."""
    from nava_eval.benchmarks.user_jsonl import read_json_lines

    lines, problems = [], []
    for number, obj in read_json_lines(path):
        if isinstance(obj, Problem):
            problems.append(obj)
            continue
        key = "prompt" if "prompt" in obj else "text"
        value = obj.get(key)
        if value is None:
            problems.append(
                Problem(path, "missing (the prompt; 'text' is accepted as an alias)", number, "prompt")
            )
        elif not isinstance(value, str) or not value.strip():
            problems.append(Problem(path, "must be a non-empty string", number, key))
        else:
            lines.append(PromptLine(number, obj, key))
    if problems:
        raise BadInputError(problems, hint="Fix these lines; nothing was rewritten.")
    if not lines:
        raise InvalidValue(f"{path}: no prompts in the file (one JSON object per line, with a 'prompt')")
    return lines


@dataclass
class RewriteSummary:
    rewritten: int = 0
    cached: int = 0
    retried: int = 0


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="prompt", disable=not enabled, dynamic_ncols=True)


def rewrite_file(src: Path, dst: Path, rewriter, progress: bool = True) -> RewriteSummary:
    """Rewrite every line of `src` into `dst` (atomically, after the last line succeeded).

    Each output line is the input object with its prompt rewritten, `original_prompt` (kept from
    the input when it already has one) and `rewrite` (cache key, model, instruction, tries).
    """
    import json

    from nava_eval.rundir.files import atomic_write_text

    lines = read_prompt_lines(src)
    summary = RewriteSummary()
    out = []
    with _bar(len(lines), f"rewrite {src.name}", progress) as bar:
        for line in lines:
            result = rewriter.rewrite(line.prompt, f"{src}:{line.number}")
            _count(summary, result)
            obj = dict(line.obj)
            obj.setdefault("original_prompt", line.prompt)
            obj[line.key] = result.rewritten
            obj["rewrite"] = {
                "cache_key": result.key,
                "model": rewriter.spec.model,
                "instruction": rewriter.spec.instruction,
                "attempts": result.attempts,
            }
            out.append(json.dumps(obj, ensure_ascii=False) + "\n")
            bar.update(1)
    atomic_write_text(dst, "".join(out))
    return summary


def _count(summary: RewriteSummary, result) -> None:
    if result.cached:
        summary.cached += 1
    else:
        summary.rewritten += 1
        summary.retried += result.attempts > 1


def _where(sample: Sample) -> str:
    source, line = sample.meta.get("source"), sample.meta.get("line")
    return f"{source}:{line}" if source and line else f"item {sample.id}"


def rewrite_samples(
    samples: Sequence[Sample], rewriter, mode: str = "rewrite", progress: bool = True, wait_s: float = 1800.0
) -> tuple[list[Sample], list[RewrittenPrompt]]:
    """Each sample with its prompt rewritten, and the record of every rewrite, for a run.

    mode "rewrite": make what the cache lacks (rank 0 of a run); "wait": wait up to `wait_s` for rank 0
    to cache them (other torchrun ranks); "plan": cached rewrites only, the others left as given (dry run).
    """
    out, records = [], []
    bar = _bar(len(samples), "rewrite prompts", progress and mode == "rewrite")
    with bar:
        for sample in samples:
            if mode == "rewrite":
                result = rewriter.rewrite(sample.prompt, _where(sample))
            else:
                result = rewriter.cached(sample.prompt)
                deadline = time.monotonic() + wait_s
                while result is None and mode == "wait" and time.monotonic() < deadline:
                    time.sleep(_POLL_S)
                    result = rewriter.cached(sample.prompt)
                if result is None and mode == "wait":
                    raise InvalidValue(
                        f"{_where(sample)}: waited {wait_s:g} s for rank 0's rewrite of this prompt; run "
                        "`nava-eval rewrite` on the file first, or check rank 0's log"
                    )
            bar.update(1)
            if result is None:  # plan: not rewritten yet
                out.append(sample)
                continue
            meta = {**sample.meta, "original_prompt": sample.prompt, "rewrite_key": result.key}
            out.append(dataclasses.replace(sample, prompt=result.rewritten, meta=meta))
            records.append(
                RewrittenPrompt(sample.id, sample.prompt, result.rewritten, result.key, result.attempts)
            )
    return out, records


def apply_recorded(samples: Sequence[Sample], records: Sequence[RewrittenPrompt]) -> list[Sample]:
    """The samples with the prompts a run recorded it generated from (`score`/`report` alone)."""
    by_item = {r.item: r for r in records}
    out = []
    for sample in samples:
        record = by_item.get(sample.id)
        if record is None or record.original != sample.prompt:
            out.append(sample)
            continue
        meta = {**sample.meta, "original_prompt": record.original, "rewrite_key": record.cache_key}
        out.append(dataclasses.replace(sample, prompt=record.rewritten, meta=meta))
    return out


def merge_records(old: Sequence[RewrittenPrompt], new: Sequence[RewrittenPrompt]) -> list[RewrittenPrompt]:
    """run.json's rewrites after an invocation: earlier items kept, this invocation's replacing theirs."""
    merged = {r.item: r for r in old}
    merged.update({r.item: r for r in new})
    return [merged[k] for k in sorted(merged)]
