"""What run.json records about prompt rewriting: the settings (hashed) and each prompt before and after.

The rewriter itself lives in `nava.rewrite`; this module only declares the records, so run.json stays
readable without torch or transformers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

RewriteBackend = Literal["transformers", "server"]


@dataclass(frozen=True)
class RewriteSpec:
    """How prompts are rewritten: model, the release's instruction and its sampling settings.

    Defaults are the release's ComfyUI node (`comfyui_nava/rewriter.py`: Qwen3-4B-Thinking-2507, the
    SYSTEM_PROMPT of `pe_src/rewrite_single.py`, temperature 0.3, top-p 0.75, top-k 20, repetition
    penalty 1.05, 4096 new tokens, seed 42). `server` (an OpenAI-compatible URL) and `backend` say
    where the model ran; they stay out of the cache key and the spec hash.
    """

    model: str = "Qwen/Qwen3-4B-Thinking-2507"
    instruction: str = "pe-single"
    instruction_sha256: str = ""
    temperature: float = 0.3
    top_p: float = 0.75
    top_k: int = 20
    repetition_penalty: float = 1.05
    max_new_tokens: int = 4096
    seed: int = 42
    attempts: int = 3  # tries per prompt before a rewrite that breaks a <S>…<E> span is refused
    backend: RewriteBackend = "transformers"
    server: str | None = None

    def sampling(self) -> dict[str, Any]:
        """The settings that decide what a rewrite says (the cache key and the spec hash cover these)."""
        out = asdict(self)
        for where in ("backend", "server", "attempts", "instruction"):
            out.pop(where)
        return out

    def cache_key(self, prompt: str) -> str:
        """sha256 of (model, instruction text's sha256, prompt, sampling settings)."""
        blob = json.dumps({"prompt": prompt, **self.sampling()}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RewrittenPrompt:
    """One item's prompt as given and as generated from, with the cache entry that holds the rewrite."""

    item: str
    original: str
    rewritten: str
    cache_key: str
    attempts: int = 1  # the try that kept every span (1: the first)
