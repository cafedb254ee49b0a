"""The built-in benchmarks (lazy: nothing is imported until a benchmark is asked for)."""

from __future__ import annotations

from nava_eval.benchmarks.base import BenchmarkEntry, register_benchmark

BUILTIN_BENCHMARKS: tuple[BenchmarkEntry, ...] = (
    BenchmarkEntry(
        "versebench",
        "nava_eval.benchmarks.versebench:VerseBench",
        "Verse-Bench I2AV: set1 205, set2 295, set3 100",
    ),
    BenchmarkEntry(
        "seedtts",
        "nava_eval.benchmarks.seedtts:SeedTTSEval",
        "Seed-TTS-eval zero-shot TTS: en 1088, zh 2020, hard 400",
    ),
    BenchmarkEntry(
        "jsonl",
        "nava_eval.benchmarks.user_jsonl:UserPromptSet",
        "your own prompts in NAVA's inference JSONL (jsonl:PATH)",
    ),
)

for _entry in BUILTIN_BENCHMARKS:
    register_benchmark(_entry)
