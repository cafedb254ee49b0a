"""Prompt rewriting as NAVA's release does it: a Qwen3 chat model, the release's instruction, spans kept.

A short user prompt becomes the long Chinese prompt NAVA was trained on. The model runs locally
through transformers (as `comfyui_nava/rewriter.py` and `gradio_demo/rewrite_single.py`) or behind
any OpenAI-compatible chat-completions server (as `pe_src/rewrite.py` against the vLLM server of
`pe_src/start_server.sh`). The reply's thinking is stripped with the release's `extract_rewrite`
rules. Every `<S>…<E>` span is speech the video must say (and a speaker wav is bound to each, in
order), so a rewrite whose spans are not the prompt's spans, verbatim and in order, is tried again
with the next seed and refused after `attempts` tries. Accepted rewrites are cached by
`RewriteSpec.cache_key` (model, instruction, prompt, sampling settings), one JSON file each.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nava_eval.errors import InvalidValue, UserError
from nava_eval.nava.rewrite_instructions import DEFAULT_INSTRUCTION, INSTRUCTIONS, Instruction
from nava_eval.rundir.rewrites import RewriteSpec

logger = logging.getLogger(__name__)

SPAN = re.compile(r"<S>(.*?)<E>", re.S)
#: Characters of a server's error body quoted in an error message.
_BODY_QUOTE = 300


class RewriteRefused(UserError):
    """Every try of a rewrite changed, dropped or added a speech span (or said nothing)."""


class RewriteServerError(UserError):
    """The rewrite server could not be reached, timed out or answered something unusable."""


class _Transient(Exception):
    """A server failure worth another try (timeout, connection, 5xx)."""


def instruction(name: str) -> Instruction:
    """The release's instruction called `name`; an unknown name lists the valid ones."""
    try:
        return INSTRUCTIONS[name]
    except KeyError:
        raise InvalidValue(
            f"unknown rewrite instruction {name!r}; valid: {', '.join(INSTRUCTIONS)} (default {DEFAULT_INSTRUCTION})"
        ) from None


def spec_with_instruction(spec: RewriteSpec) -> RewriteSpec:
    """`spec` with the sha256 of its instruction's text filled in (what the cache key and the hash use)."""
    import dataclasses

    return dataclasses.replace(spec, instruction_sha256=instruction(spec.instruction).sha256)


def extract_rewrite(raw: str) -> str:
    """The rewrite inside a model's reply, by the rules of the release's `extract_rewrite`.

    `pe_src/rewrite.py` (used by the ComfyUI node and the vLLM batch rewriter): keep what follows the
    last `</think>` (Qwen3-*-Thinking-2507 opens its reply inside the thinking, so only `</think>`
    appears), drop anything from a later `<think>`; if thinking words remain, start at the last of
    the openers the instruction asks for; end at the first sentence end after the last closing
    phrase ("整体听感"/"整体氛围"), else before a meta remark at a sentence start; join lines.
    """
    s = raw.strip()
    if "</think>" in s:
        s = s.rsplit("</think>", 1)[-1].strip()
    if "<think>" in s:
        s = s.split("<think>", 1)[0].strip()
    thinking_words = ("完整输出", "改写草稿", "最终输出", "最终 prompt")
    if "\n" in s or "首先" in s[:200] or "分析" in s[:200] or any(w in s for w in thinking_words):
        start = max(s.rfind(opener) for opener in ("画面呈现", "这是一段", "这段写实", "画面中"))
        if start > 0:
            s = s[start:].strip()
    anchor = max(s.rfind("整体听感"), s.rfind("整体氛围"))
    if anchor >= 0:
        ends = [i for i in (s.find(t, anchor) for t in "。！？") if i >= 0]
        if ends:
            s = s[: min(ends) + 1].strip()
    else:
        s = _cut_meta_remark(s)
    return s.replace("\r", "").replace("\n", "").strip()


_META_REMARKS = (
    "注意：", "注意:", "用户说", "用户的输入", "用户没", "改写草稿", "最终输出", "最终 prompt", "最终prompt",
    "为了准确", "为了符合要求", "我应该", "我需要",
)  # fmt: skip


def _cut_meta_remark(s: str) -> str:
    """Cut at the earliest meta remark that starts a sentence, back to the last sentence end before it."""
    earliest = len(s)
    for marker in _META_REMARKS:
        start = 0
        while (p := s.find(marker, start)) >= 0:
            if p == 0 or s[p - 1] in "。！？\n ":
                earliest = min(earliest, p)
                break
            start = p + 1
    if earliest == len(s):
        return s
    head = s[:earliest]
    cut = max(head.rfind("。"), head.rfind("！"), head.rfind("？"))
    return head[: cut + 1].strip() if cut > 0 else head.strip()


def speech_spans(text: str) -> list[str]:
    """The texts inside <S>…<E>, in order, without the whitespace around them."""
    return [span.strip() for span in SPAN.findall(text)]


def span_problem(original: str, rewritten: str) -> str | None:
    """Why `rewritten` does not keep `original`'s speech spans verbatim and in order; None when it does."""
    if not rewritten.strip():
        return "the rewrite is empty"
    want, got = speech_spans(original), speech_spans(rewritten)
    if want == got:
        stray = re.sub(SPAN, "", rewritten)
        if "<S>" in stray or "<E>" in stray:
            return "the rewrite has an unclosed <S> or a stray <E>"
        return None
    if len(got) < len(want):
        missing = [s for s in want if s not in got]
        return f"the rewrite drops speech span(s) {missing[:3]!r} ({len(got)} of {len(want)} kept)"
    if len(got) > len(want):
        added = [s for s in got if s not in want]
        return f"the rewrite adds speech span(s) {added[:3]!r} ({len(got)} spans for {len(want)})"
    changed = [(w, g) for w, g in zip(want, got, strict=True) if w != g]
    return f"the rewrite changes speech span {changed[0][0]!r} into {changed[0][1]!r}"


class ChatBackend(Protocol):
    """A chat model: one system + user message in, the raw reply out."""

    def complete(self, system: str, user: str, spec: RewriteSpec, seed: int) -> str: ...


class TransformersBackend:
    """The model loaded locally with transformers, generating as the release's local rewriters do."""

    def __init__(self, model: str, device: str | None = None) -> None:
        self.model_name = model
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        # bf16 as the release on a GPU; fp32 on a CPU, where bf16 matmuls are slow or missing.
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_name)
            model = AutoModelForCausalLM.from_pretrained(self.model_name, dtype=dtype)
        except OSError as exc:
            raise InvalidValue(
                f"rewrite model {self.model_name!r} could not be loaded ({exc}); give a local folder or a "
                "Hugging Face repo id with --rewrite-model, or use a server with --rewrite-server URL"
            ) from None
        self._model = model.to(device).eval()
        self.device = device

    def close(self) -> None:
        """Free the model (and the GPU memory it held) before NAVA loads."""
        if self._model is None:
            return
        self._model = self._tokenizer = None
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def complete(self, system: str, user: str, spec: RewriteSpec, seed: int) -> str:
        import torch

        if self._model is None:
            self._load()
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = self._tokenizer(text, return_tensors="pt").to(self.device)
        torch.manual_seed(seed)  # as comfyui_nava/rewriter.py: torch.manual_seed(seed) before generate
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
        with torch.no_grad():
            out = self._model.generate(
                **inputs,
                max_new_tokens=spec.max_new_tokens,
                do_sample=True,
                temperature=spec.temperature,
                top_p=spec.top_p,
                top_k=spec.top_k,
                repetition_penalty=spec.repetition_penalty,
            )
        new_tokens = out[0][inputs["input_ids"].shape[1] :]
        return self._tokenizer.decode(new_tokens, skip_special_tokens=True)


class ServerBackend:
    """An OpenAI-compatible chat-completions endpoint (vLLM, SGLang, llama.cpp server, …) over HTTP.

    The request body is `pe_src/rewrite.py`'s (model, messages, temperature, max_tokens, top_p, top_k,
    repetition_penalty; the last two are vLLM's extensions) plus `seed`. A server started with a
    reasoning parser (`--reasoning-parser qwen3`, as the release's script) returns the thinking apart;
    otherwise it arrives in the content and `extract_rewrite` strips it.
    """

    def __init__(
        self,
        url: str,
        timeout_s: float = 60.0,
        api_key: str | None = None,
        tries: int = 3,
        pause_s: float = 1.0,
    ) -> None:
        base = url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise InvalidValue(f"--rewrite-server {url!r}: give an http:// or https:// URL")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.timeout_s = timeout_s
        self.api_key = api_key
        self.tries = max(1, tries)  # pe_src/config.yaml: retry 3, a second apart
        self.pause_s = pause_s

    def complete(self, system: str, user: str, spec: RewriteSpec, seed: int) -> str:
        """The reply's text; a timeout, a refused connection or a 5xx is tried again, a 4xx is not."""
        for attempt in range(1, self.tries + 1):
            try:
                return self._post(system, user, spec, seed)
            except _Transient as exc:
                if attempt == self.tries:
                    raise RewriteServerError(f"{exc} (tried {self.tries} times)") from None
                logger.warning("%s; trying again (%d of %d)", exc, attempt + 1, self.tries)
                time.sleep(self.pause_s)
        raise AssertionError("unreachable")

    def _post(self, system: str, user: str, spec: RewriteSpec, seed: int) -> str:
        payload = {
            "model": spec.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": spec.temperature,
            "max_tokens": spec.max_new_tokens,
            "top_p": spec.top_p,
            "top_k": spec.top_k,
            "repetition_penalty": spec.repetition_penalty,
            "seed": seed,
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.url, data=json.dumps(payload).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:_BODY_QUOTE].decode("utf-8", "replace")
            message = f"{self.url} answered HTTP {exc.code}: {detail.strip()!r}"
            if exc.code >= 500:
                raise _Transient(message) from None
            raise RewriteServerError(message) from None
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
                raise _Transient(
                    f"{self.url} did not answer within {self.timeout_s:g} s (--rewrite-timeout)"
                ) from None
            raise _Transient(f"{self.url} cannot be reached ({reason})") from None
        try:
            content = json.loads(body)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise RewriteServerError(
                f"{self.url} did not answer with a chat completion: {body[:_BODY_QUOTE]!r}"
            ) from None
        if not isinstance(content, str):
            raise RewriteServerError(f"{self.url} answered a chat completion without text content")
        return content


class RewriteCache:
    """Accepted rewrites, one JSON file per cache key, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # a damaged entry is made again, never trusted
            logger.warning("rewrite cache entry %s is unreadable (%s); rewriting again", path, exc)
            return None
        if (
            not isinstance(entry, dict)
            or entry.get("key") != key
            or not isinstance(entry.get("rewritten"), str)
        ):
            logger.warning("rewrite cache entry %s is not a rewrite of this key; rewriting again", path)
            return None
        return entry

    def put(self, key: str, entry: dict[str, Any]) -> None:
        from nava_eval.rundir.files import atomic_write_json

        atomic_write_json(self.path(key), {"key": key, **entry})


@dataclass(frozen=True)
class Rewrite:
    """The outcome for one prompt."""

    original: str
    rewritten: str
    key: str
    attempts: int
    cached: bool


class Rewriter:
    """Rewrites prompts with one backend and spec, through the cache."""

    def __init__(self, spec: RewriteSpec, backend: ChatBackend | None, cache: RewriteCache) -> None:
        self.spec = spec_with_instruction(spec)
        self.instruction = instruction(spec.instruction)
        self.backend = backend
        self.cache = cache

    def cached(self, prompt: str) -> Rewrite | None:
        key = self.spec.cache_key(prompt)
        entry = self.cache.get(key)
        if entry is None:
            return None
        return Rewrite(prompt, entry["rewritten"], key, int(entry.get("attempts", 1)), cached=True)

    def rewrite(self, prompt: str, where: str) -> Rewrite:
        """The cached rewrite of `prompt`, else a new one; `where` names the line in errors."""
        hit = self.cached(prompt)
        if hit is not None:
            return hit
        if self.backend is None:
            raise RewriteRefused(f"{where}: no cached rewrite and no rewrite model to make one")
        key = self.spec.cache_key(prompt)
        problems = []
        for attempt in range(1, self.spec.attempts + 1):
            started = time.perf_counter()
            raw = self.backend.complete(
                self.instruction.text, prompt, self.spec, self.spec.seed + attempt - 1
            )
            text = extract_rewrite(raw)
            problem = span_problem(prompt, text)
            if problem is None:
                self.cache.put(
                    key,
                    {
                        "prompt": prompt,
                        "rewritten": text,
                        "attempts": attempt,
                        "seed": self.spec.seed + attempt - 1,
                        "spec": self.spec.sampling(),
                        "instruction": self.spec.instruction,
                        "seconds": round(time.perf_counter() - started, 3),
                    },
                )
                return Rewrite(prompt, text, key, attempt, cached=False)
            logger.info("%s: rewrite try %d of %d refused: %s", where, attempt, self.spec.attempts, problem)
            problems.append(problem)
        raise RewriteRefused(
            f"{where}: every one of {self.spec.attempts} rewrite tries broke the prompt's <S>…<E> speech "
            f"spans, which must be kept verbatim (last: {problems[-1]}). Rewrite this prompt by hand, raise "
            "--rewrite-attempts, or leave it out"
        )
