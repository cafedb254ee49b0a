"""nava.rewrite: the release's instructions and thinking strip, the span rule, the cache, the local model path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nava_eval.nava.rewrite import (
    RewriteCache,
    Rewriter,
    RewriteRefused,
    TransformersBackend,
    extract_rewrite,
    span_problem,
    spec_with_instruction,
)
from nava_eval.nava.rewrite_instructions import INSTRUCTIONS
from nava_eval.rundir.rewrites import RewriteSpec

DATA = Path(__file__).parent / "data"


def test_instructions_are_the_releases_texts() -> None:
    # sha256 of each SYSTEM_PROMPT / template as the release sends it; its length and end offset were
    # checked against the files in ernie-research/NAVA (pe_src/rewrite_single.py @7cb443c: closing quotes
    # at offset 2283; gradio_demo/rewrite_single.py: 2390; inference_nava.py @009b10e: 2886;
    # pe_src/prompts/rewrite_template.txt: 1134 characters, read with .strip()).
    assert {name: i.sha256 for name, i in INSTRUCTIONS.items()} == {
        "pe-single": "4d966d1e33e1eac887bdbbf779495f678761e05b9e6b9b4d62352ccf1dc65e29",
        "gradio": "a5951283f8cc0fe1e51ddfb553b035a237fcbe85984e35f068625d0d982898d2",
        "inference": "967a9b914793ce41cd8a9cdc0cc20aa936df68dc7036f5a79c8af2d26444fac4",
        "vllm-template": "0ce6dee27a7b7661297311db13ad2a3417b35ce86a09516e0f1fa8e2dd774c24",
    }
    assert {name: len(i.text) for name, i in INSTRUCTIONS.items()} == {
        "pe-single": 1840, "gradio": 1947, "inference": 1856, "vllm-template": 1133,
    }  # fmt: skip
    # inference_nava.py's text is gradio's without its last ("思考要求") paragraph.
    assert INSTRUCTIONS["gradio"].text.startswith(INSTRUCTIONS["inference"].text + "\n\n思考要求：")


def test_extract_rewrite_matches_the_releases_function() -> None:
    """Vectors from pe_src/rewrite.py's extract_rewrite (make_rewrite_extract.py)."""
    vectors = json.loads((DATA / "rewrite_extract.json").read_text(encoding="utf-8"))["cases"]
    assert len(vectors) == 13
    for case in vectors:
        assert extract_rewrite(case["raw"]) == case["expected"], case["raw"]
    # The Thinking-2507 form: the reply starts inside the thinking, so only </think> appears.
    assert extract_rewrite("分析一下\n</think>\n\n这是一段视频。") == "这是一段视频。"


def test_span_rule() -> None:
    prompt = "A man says <S>Hello, world!<E> then <S>Bye<E>."
    assert span_problem(prompt, "这是一段视频，他说<S>Hello, world!<E>，然后<S>Bye<E>。") is None
    assert span_problem(prompt, "他说<S> Hello, world! <E>，<S>Bye<E>") is None  # spaces inside the tags
    assert "changes speech span 'Hello, world!' into 'Hello world!'" in span_problem(
        prompt, "<S>Hello world!<E><S>Bye<E>"
    )
    assert "drops speech span(s) ['Bye']" in span_problem(prompt, "<S>Hello, world!<E>")
    assert "adds speech span(s) ['Hi']" in span_problem("no speech", "这是一段视频<S>Hi<E>")
    assert "changes speech span 'Hello, world!' into 'Bye'" in span_problem(
        prompt, "<S>Bye<E><S>Hello, world!<E>"
    )  # order matters: one speaker wav per span, in order
    assert "unclosed" in span_problem("no speech", "这是一段视频<S>Hi</E>")
    assert span_problem("x", "  ") == "the rewrite is empty"


class _Scripted:
    """A chat backend answering from a list; records the seeds it was asked with."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.seeds: list[int] = []

    def complete(self, system: str, user: str, spec: RewriteSpec, seed: int) -> str:
        assert system == INSTRUCTIONS[spec.instruction].text
        self.seeds.append(seed)
        return self.replies.pop(0)


def test_retries_with_the_next_seed_then_refuses_naming_the_line(tmp_path: Path) -> None:
    prompt = "He says <S>Keep me<E>."
    backend = _Scripted(["<S>Keep you<E>", "</think>这是一段视频：<S>Keep me<E>。"])
    rewriter = Rewriter(RewriteSpec(), backend, RewriteCache(tmp_path))
    result = rewriter.rewrite(prompt, "in.jsonl:3")
    assert (result.rewritten, result.attempts, result.cached) == ("这是一段视频：<S>Keep me<E>。", 2, False)
    assert backend.seeds == [42, 43]
    again = Rewriter(RewriteSpec(), None, RewriteCache(tmp_path)).rewrite(prompt, "in.jsonl:3")
    assert again.cached and again.rewritten == result.rewritten and again.key == result.key

    broken = _Scripted(["<S>x<E>", "no span", "<S>Keep me<E><S>extra<E>"])
    with pytest.raises(RewriteRefused, match=r"in.jsonl:7: every one of 3 rewrite tries .*adds speech span"):
        Rewriter(RewriteSpec(), broken, RewriteCache(tmp_path / "b")).rewrite(prompt, "in.jsonl:7")
    assert broken.seeds == [42, 43, 44] and not any((tmp_path / "b").rglob("*.json"))


def test_cache_key_covers_model_instruction_prompt_and_settings(tmp_path: Path) -> None:
    base = spec_with_instruction(RewriteSpec())
    key = base.cache_key("p")
    others = [
        spec_with_instruction(RewriteSpec(model="other")).cache_key("p"),
        spec_with_instruction(RewriteSpec(instruction="vllm-template")).cache_key("p"),
        spec_with_instruction(RewriteSpec(temperature=0.7)).cache_key("p"),
        spec_with_instruction(RewriteSpec(seed=1)).cache_key("p"),
        base.cache_key("q"),
    ]
    assert len({key, *others}) == 6
    # Where the model ran is not what it said: a server and a local run share entries.
    assert spec_with_instruction(RewriteSpec(backend="server", server="http://h/v1")).cache_key("p") == key
    cache = RewriteCache(tmp_path)
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_text("{not json")
    assert cache.get(key) is None  # a damaged entry is rewritten, never trusted
    cache.put(key, {"rewritten": "r"})
    assert cache.get(key)["rewritten"] == "r" and cache.get(base.cache_key("q")) is None


# A tiny random Qwen3 with a word-level tokenizer built here (no network) and a chat template in the
# Qwen3-Thinking-2507 form (the generation prompt opens the thinking with "<think>\n").
_TEMPLATE = (
    "{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n<think>\n{%- endif %}"
)
_WORDS = [
    "这是一段",
    "视频",
    "画面中",
    "猫",
    "窗边",
    "安静",
    "整体听感",
    "柔和",
    "，",
    "。",
    "风声",
    "脚步声",
]


@pytest.fixture(scope="module")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    folder = tmp_path_factory.mktemp("tiny-qwen3")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "[UNK]"]
    vocab = {
        w: i for i, w in enumerate([*specials, "<think>", "</think>", "system", "user", "assistant", *_WORDS])
    }
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tokenizer.chat_template = _TEMPLATE
    tokenizer.save_pretrained(folder)
    config = Qwen3Config(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=4096, eos_token_id=vocab["<|im_end|>"],
        pad_token_id=vocab["<|endoftext|>"], bos_token_id=None, tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(0)
    Qwen3ForCausalLM(config).save_pretrained(folder)
    return folder


def _release_rewrite(folder: Path, prompt: str, spec: RewriteSpec, seed: int) -> str:
    """comfyui_nava/rewriter.py's rewrite(), transcribed: chat template, manual_seed, generate, decode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    messages = [
        {"role": "system", "content": INSTRUCTIONS["pe-single"].text},
        {"role": "user", "content": prompt},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors="pt")
    torch.manual_seed(seed)
    outputs = model.generate(
        **inputs, max_new_tokens=spec.max_new_tokens, temperature=0.3, top_p=0.75, top_k=20, do_sample=True,
        repetition_penalty=1.05,
    )  # fmt: skip
    raw = tokenizer.decode(outputs[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return extract_rewrite(raw).strip()


def test_local_transformers_path_generates_as_the_release(tiny_qwen3: Path, tmp_path: Path) -> None:
    spec = RewriteSpec(model=str(tiny_qwen3), max_new_tokens=12)
    rewriter = Rewriter(spec, TransformersBackend(str(tiny_qwen3), "cpu"), RewriteCache(tmp_path))
    prompt = "一只 猫 在 窗边"
    result = rewriter.rewrite(prompt, "p.jsonl:1")
    assert result.attempts == 1 and result.rewritten
    assert result.rewritten == _release_rewrite(tiny_qwen3, prompt, spec, 42)
    assert "<think>" not in result.rewritten and "<|im_end|>" not in result.rewritten
    # Speech the random model cannot repeat: tried with seeds 42, 43, refused naming the line.
    spoken = Rewriter(
        RewriteSpec(model=str(tiny_qwen3), max_new_tokens=6, attempts=2),
        TransformersBackend(str(tiny_qwen3), "cpu"),
        RewriteCache(tmp_path),
    )
    with pytest.raises(RewriteRefused, match=r"p.jsonl:2: every one of 2 rewrite tries"):
        spoken.rewrite("他说 <S>Hello<E>", "p.jsonl:2")


def test_a_missing_local_model_is_a_clear_error(tmp_path: Path) -> None:
    backend = TransformersBackend(str(tmp_path / "no-such-model"), "cpu")
    with pytest.raises(ValueError, match="could not be loaded.*--rewrite-model"):
        backend.complete("s", "u", RewriteSpec(), 42)
