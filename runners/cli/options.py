"""Options shared by `run`, `generate` and `score`, and their translation into a RunRequest."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from nava_eval.benchmarks.base import SampleSelection
from nava_eval.nava.shapes import MAX_LATENT_FRAMES, MAX_SIDE, MIN_SIDE
from nava_eval.user_files import brief

#: Ranges of --width/--height (pixels) and --frames (latent frames); nava.shapes checks the strides.
SIDE_RANGE = click.IntRange(MIN_SIDE, MAX_SIDE)
FRAMES_RANGE = click.IntRange(1, MAX_LATENT_FRAMES)


class UserPath(click.Path):
    """click.Path that expands `~` first: a path means the same from the shell, a --config file or a replay.

    The shell expands `~` only at the start of a word, so `--run-dir=~/runs/x`, a quoted `"~/x"` and
    every path in a YAML config used to reach click as a literal `~` folder in the working directory.
    """

    def convert(self, value, param, ctx):
        if isinstance(value, (str, os.PathLike)):
            from nava_eval.user_files import UserFileError, user_path

            try:
                value = str(user_path(value))
            except UserFileError as exc:  # a NUL byte from a config file or a replay
                self.fail(str(exc), param, ctx)
        return super().convert(value, param, ctx)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses NaN and infinities (which compare False with every bound)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{brief(value)} is not a finite number", param, ctx)
        return number


#: Every seed option (run seeds and bootstrap seeds) takes the same range (runners.seeds).
SEED = click.IntRange(0, 2**32 - 1)
#: Upper bounds that keep a typo from becoming a week-long job or an overflow further down.
MAX_STEPS = 10_000
MAX_PROCS = 1024
MAX_BATCH = 4096
MAX_SEEDS = 1000
MAX_TIMEOUT_S = 7 * 24 * 3600.0


def _split_csv(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


def parse_weights(pairs: tuple[str, ...]) -> dict[str, str]:
    """NAME=PATH pairs (repeatable --weights) → dict; a bad pair is a usage error naming it."""
    out = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"{brief(pair)} is not NAME=PATH (e.g. syncnet=/data/syncnet_v2.model)")
        from nava_eval.user_files import UserFileError, user_path

        try:
            out[name] = str(user_path(path))
        except UserFileError as exc:
            raise click.BadParameter(f"{brief(pair)}: {exc}", param_hint="--weights") from None
    return out


def read_ids(path: Path | None) -> frozenset[str] | None:
    """--ids FILE → the ids (benchmarks.selection reports every malformed line at once)."""
    if path is None:
        return None
    from nava_eval.benchmarks.selection import read_ids_file

    return read_ids_file(path)


def selection_options(func: Callable) -> Callable:
    for option in reversed(
        [
            click.option(
                "--data-dir",
                type=UserPath(path_type=Path),
                help="Benchmark data folder (default: registered).",
            ),
            click.option("--sets", help="Comma-separated sets, e.g. set3 or en,hard."),
            click.option(
                "--ids",
                "ids_file",
                type=UserPath(exists=True, dir_okay=False, path_type=Path),
                help="File with one sample id per line.",
            ),
            click.option(
                "--limit", type=click.IntRange(1, 10_000_000), help="Only the first N samples (stable order)."
            ),
            click.option(
                "--skip-bad", is_flag=True, help="Skip malformed input lines (reported) instead of failing."
            ),
        ]
    ):
        func = option(func)
    return func


allow_failures_option = click.option(
    "--allow-failures",
    is_flag=True,
    help="Exit 0 even when samples failed to generate or score (they are counted in results.json and the report).",
)


class ChannelChoice(click.Choice):
    """left|right|mean; `speech`/`scene` are refused with the reason (NAVA writes no such split)."""

    def __init__(self) -> None:
        from nava_eval.metrics.channels import READINGS

        super().__init__(READINGS)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from nava_eval.metrics.channels import UnknownChannelError, check_channel

        if value in self.choices:
            return value
        try:
            check_channel(str(value))
        except UnknownChannelError as exc:
            self.fail(str(exc).split(": ", 1)[-1], param, ctx)  # click names the option itself
        return super().convert(value, param, ctx)


channel_option = click.option(
    "--channel",
    type=ChannelChoice(),
    help="Audio metrics (wer, wer_sensevoice, sim, sim_speakers, audiobox, clap, dnsmos): read this channel of "
    "the generated file instead of the one the official protocol reads; the scores get their own "
    "protocol id (<protocol>+channel-<reading>). NAVA writes L/R stereo, no speech/scene split.",
)


def run_options(func: Callable) -> Callable:
    for option in reversed(
        [
            click.option(
                "--preset",
                default=None,
                help="Settings bundle (nava-eval ls presets). Default: the benchmark's own (versebench → "
                "versebench, seedtts → seedtts, jsonl:PATH → nava); `smoke` runs it on CPU with tiny "
                "random weights.",
            ),
            click.option(
                "--run-dir",
                type=UserPath(path_type=Path),
                help="Run directory (default runs/<benchmark>-<preset>).",
            ),
            click.option("--steps", type=click.IntRange(1, MAX_STEPS), help="Override the sampler steps."),
            click.option(
                "--sampler",
                type=click.Choice(["unipc", "dmd2-student"]),
                help="unipc (default): the release's guided UniPC sampler. dmd2-student: the 4-step DMD2 "
                "student of nava_src/distill/dmd2_engine.py (one conditional forward per step, its own "
                "sigma table, Euler); it needs a distilled DiT (--dit-file): none is published.",
            ),
            click.option(
                "--dit-file",
                help="The DiT checkpoint inside --weights-dir instead of the preset's (e.g. your own "
                "distilled student for --preset student).",
            ),
            click.option(
                "--width",
                type=SIDE_RANGE,
                help="Output width in pixels, a multiple of 16 (preset default: 1280; 704 for portrait, 960 "
                "square). T2AV only: I2AV follows the image's aspect bucket, as the release does.",
            ),
            click.option(
                "--height",
                type=SIDE_RANGE,
                help="Output height in pixels, a multiple of 16 (preset default: 704; 1280 for portrait).",
            ),
            click.option(
                "--frames",
                type=FRAMES_RANGE,
                help="Clip length in latent frames, as the release's --frames: 4(N-1)+1 pixel frames, audio "
                "ceil(that/24*25) tokens. 37 = 145 frames (6 s, the preset default); 55-61 = 9-10 s; "
                "at most 246 (the RoPE tables' reach).",
            ),
            click.option("--seed", type=SEED, help="Override the seed (default 100)."),
            click.option(
                "--seeds",
                help="Comma-separated run seeds, e.g. 100,101,102: every item is generated once per seed "
                "(outputs/seed<S>/...); tables show the mean over seeds and the between-seed sd.",
            ),
            click.option(
                "--num-seeds",
                type=click.IntRange(1, MAX_SEEDS),
                help="N run seeds counted up from --seed (default 100): 100,101,…",
            ),
            click.option(
                "--gen-turn",
                type=click.IntRange(1, MAX_SEEDS),
                help="The release's --gen_turn N: N passes over the data, each item generated once per pass. "
                "Pass t is run seed seed + t (outputs/seed<S>/…, keyed by (item, seed) like --num-seeds); "
                "under --seed-policy official-rank every pass continues the one noise stream, as the "
                "release's loop does. Every shipped script passes 1.",
            ),
            click.option(
                "--seed-policy",
                type=click.Choice(["per-sample", "official-rank"]),
                help="per-sample (default): each sample's noise seeded from the run seed and its id, "
                "independent of world size and order. official-rank: the release's loop structure (one "
                "generator per set seeded seed + DP group, item i on group i mod W, video then audio "
                "noise per item; the benchmark scripts pass --use_sp, i.e. one group, seed 100). It does "
                "NOT reproduce the release's noise values: the release builds umT5-XXL on the GPU after "
                "set_seed, consuming CUDA draws first (docs/known-differences.md).",
            ),
            click.option(
                "--audio-timing",
                type=click.Choice(["official", "exact"]),
                help="mp4 audio: official (default) keeps the AAC encoder's 1024 priming samples in front "
                "(64 ms lag), as NAVA's scripts write it; exact aligns audio with the first frame.",
            ),
            click.option(
                "--prompt-source",
                type=click.Choice(["nava", "official"]),
                help="versebench only: NAVA's rewritten prompts (default, required) or Verse-Bench's own "
                "prompts (another protocol, recorded in run.json).",
            ),
            click.option(
                "--missing-image",
                type=click.Choice(["error", "t2av"]),
                help="versebench only: error (default) refuses items whose first-frame image is missing; "
                "t2av generates them as text-to-audio-video, as the release silently does (its data/t2v.py "
                "drops an image_path that does not exist). Recorded in run.json and the spec hash.",
            ),
            click.option(
                "--weights-dir", type=UserPath(path_type=Path), help="Folder with the NAVA weight files."
            ),
            click.option(
                "--weights",
                "scorer_weights",
                multiple=True,
                metavar="NAME=PATH",
                help="Use your own copy of a scorer weight file (repeatable).",
            ),
            click.option("--metrics", help="Comma-separated metrics instead of the benchmark's defaults."),
            click.option("--device", help="cpu, cuda or cuda:N (default: cuda when available)."),
            click.option(
                "--nproc",
                type=click.IntRange(1, MAX_PROCS),
                default=1,
                show_default=True,
                help="Launch N local worker processes (GPUs); under torchrun leave at 1.",
            ),
            click.option(
                "--sp",
                type=click.IntRange(1, MAX_PROCS),
                default=1,
                show_default=True,
                help="Ulysses sequence-parallel size per sample (must divide the 24 heads and N).",
            ),
            click.option(
                "--timeout",
                "timeout_s",
                type=FiniteFloatRange(min=0, max=MAX_TIMEOUT_S, min_open=True),
                default=1800.0,
                show_default=True,
                help="Seconds a collective may wait before the job fails.",
            ),
            click.option("--fail-fast", is_flag=True, help="Stop at the first failed sample."),
            allow_failures_option,
            click.option(
                "--batch-size",
                type=click.IntRange(1, MAX_BATCH),
                default=8,
                show_default=True,
                help="Samples per scoring batch.",
            ),
            click.option("--no-progress", is_flag=True, help="No progress bars (logs only)."),
            channel_option,
        ]
    ):
        func = option(func)
    return rewrite_options(memory_options(func))


def rewrite_options(func: Callable, flag: bool = True) -> Callable:
    """Prompt rewriting (nava.rewrite): `--rewrite` on run/generate; the `rewrite` command always rewrites."""
    from nava_eval.nava.rewrite_instructions import DEFAULT_INSTRUCTION, INSTRUCTIONS

    options = [
        click.option(
            "--rewrite-server",
            metavar="URL",
            help="An OpenAI-compatible server to rewrite with (e.g. vLLM: http://localhost:8000/v1, as "
            "the release's pe_src/start_server.sh serves it) instead of loading the model here.",
        ),
        click.option(
            "--rewrite-model",
            default="Qwen/Qwen3-4B-Thinking-2507",
            show_default=True,
            help="Rewrite model: a Hugging Face repo id or local folder (transformers), or the model name "
            "the server serves.",
        ),
        click.option(
            "--rewrite-instruction",
            type=click.Choice(list(INSTRUCTIONS)),
            default=DEFAULT_INSTRUCTION,
            show_default=True,
            help="Which of the release's system prompts: pe-single (pe_src/rewrite_single.py, the ComfyUI "
            "node's), gradio (gradio_demo/rewrite_single.py), inference (inference_nava.py --rewrite), "
            "vllm-template (pe_src/prompts/rewrite_template.txt, pe_src/rewrite.py's).",
        ),
        click.option(
            "--rewrite-attempts",
            type=click.IntRange(1, 20),
            default=3,
            show_default=True,
            help="Tries per prompt (seed 42, 43, …) before a rewrite that alters, drops or adds a <S>…<E> "
            "span is refused.",
        ),
        click.option(
            "--rewrite-max-tokens",
            type=click.IntRange(1, 32768),
            default=4096,
            show_default=True,
            help="New tokens per rewrite, thinking included (4096: pe_src and the ComfyUI node; "
            "inference_nava.py --rewrite used 2048).",
        ),
        click.option(
            "--rewrite-seed",
            type=SEED,
            default=42,
            show_default=True,
            help="Sampling seed of the first try (the ComfyUI node's 42); try k uses seed + k - 1.",
        ),
        click.option(
            "--rewrite-timeout",
            type=FiniteFloatRange(min=0, max=MAX_TIMEOUT_S, min_open=True),
            default=60.0,
            show_default=True,
            help="Seconds to wait for one server reply (3 tries, as pe_src/config.yaml).",
        ),
        click.option(
            "--rewrite-cache",
            type=UserPath(path_type=Path),
            help="Rewrite cache folder (default $NAVA_EVAL_HOME/rewrites, i.e. ~/.cache/nava-eval/rewrites).",
        ),
    ]
    if flag:
        options.insert(
            0,
            click.option(
                "--rewrite",
                is_flag=True,
                help="jsonl:PATH only: rewrite every prompt with the release's Qwen3 rewriter first, keeping "
                "each <S>…<E> span verbatim; run.json records each prompt before and after (see "
                "`nava-eval rewrite --help`).",
            ),
        )
    for option in reversed(options):
        func = option(func)
    return func


def rewrite_spec(kwargs: dict[str, Any], always: bool = False):
    """The RewriteSpec the rewrite options ask for; None without --rewrite (unless `always`)."""
    from nava_eval.rundir.rewrites import RewriteSpec

    if not (always or kwargs.get("rewrite")):
        if kwargs.get("rewrite_server"):
            raise click.BadParameter("--rewrite-server needs --rewrite", param_hint="--rewrite-server")
        return None
    server = kwargs.get("rewrite_server")
    return RewriteSpec(
        model=kwargs.get("rewrite_model") or RewriteSpec.model,
        instruction=kwargs.get("rewrite_instruction") or RewriteSpec.instruction,
        attempts=kwargs.get("rewrite_attempts") or RewriteSpec.attempts,
        max_new_tokens=kwargs.get("rewrite_max_tokens") or RewriteSpec.max_new_tokens,
        seed=RewriteSpec.seed if kwargs.get("rewrite_seed") is None else kwargs["rewrite_seed"],
        backend="server" if server else "transformers",
        server=server,
    )


def memory_options(func: Callable) -> Callable:
    """GPU-memory switches (see `nava-eval doctor` for what each preset needs and docs/parallel.md)."""
    for option in reversed(
        [
            click.option(
                "--t5-offload/--no-t5-offload",
                default=False,
                show_default=True,
                help="Keep the umt5-xxl text encoder on the CPU, moving it to the GPU only to encode "
                "(-10.6 GiB on the GPU; outputs unchanged).",
            ),
            click.option(
                "--group-offload",
                type=click.IntRange(1, 1024),
                default=None,
                metavar="N",
                help="Keep the DiT blocks in pinned CPU memory and stream them to the GPU N at a time, "
                "prefetching the next group (the release's --group_offload --offload_group_size N): the "
                "DiT's ~12 GiB of bf16 weights drop to two groups; slower; outputs unchanged.",
            ),
            click.option(
                "--cfg-batch",
                type=click.IntRange(1, 16),
                default=None,
                help="Guidance passes per DiT forward (preset default 4: all passes of a step in one "
                "batched forward; 1 = the official sequential order, least activation memory).",
            ),
            click.option(
                "--vae-tiling/--no-vae-tiling",
                default=None,
                help="Tiled video-VAE decode (official --vae_tiling): bounds the decode peak. Default: the "
                "preset's (on for versebench*, off for nava and smoke).",
            ),
        ]
    ):
        func = option(func)
    return func


def parse_seeds(
    seeds: str | None, num_seeds: int | None, seed: int | None, default_seed: int
) -> tuple[int, ...] | None:
    """--seeds LIST / --num-seeds N → the run seeds (None: a single-seed run); a bad list is a usage error."""
    if seeds and num_seeds:
        raise click.BadParameter("give --seeds or --num-seeds, not both", param_hint="--seeds")
    from nava_eval.runners.seeds import check_run_seeds

    if seeds:
        try:
            values = tuple(int(v) for v in seeds.split(",") if v.strip())
        except ValueError:
            raise click.BadParameter(
                f"{brief(seeds)} is not a comma-separated list of integers", param_hint="--seeds"
            ) from None
        if not values or len(values) > MAX_SEEDS:
            raise click.BadParameter(f"give 1 to {MAX_SEEDS} run seeds", param_hint="--seeds")
        try:
            check_run_seeds(values)
        except ValueError as exc:
            raise click.BadParameter(str(exc).removeprefix("--seeds: "), param_hint="--seeds") from None
        return values
    if num_seeds:
        from nava_eval.runners.run import seed_list

        try:
            return seed_list(seed if seed is not None else default_seed, num_seeds)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--num-seeds") from None
    return None


def build_request(benchmark: str, kwargs: dict[str, Any], config: dict[str, Any] | None = None):
    """Click kwargs → RunRequest; `config` is the resolved option set recorded in run.json."""
    from nava_eval.runners.presets import default_preset, get_preset
    from nava_eval.runners.run import RunRequest

    overrides = {
        name: kwargs[name]
        for name in (
            "steps",
            "seed",
            "seed_policy",
            "audio_timing",
            "cfg_batch",
            "vae_tiling",
            "width",
            "height",
            "sampler",
            "dit_file",
            "missing_image",
            "gen_turn",
        )
        if kwargs.get(name) is not None
    }
    if kwargs.get("frames") is not None:
        overrides["latent_frames"] = kwargs["frames"]
    return RunRequest(
        benchmark=benchmark,
        preset=kwargs.get("preset"),
        prompt_source=kwargs.get("prompt_source"),
        run_dir=kwargs.get("run_dir"),
        data_dir=kwargs.get("data_dir"),
        selection=SampleSelection(
            sets=_split_csv(kwargs.get("sets")),
            ids=read_ids(kwargs.get("ids_file")),
            limit=kwargs.get("limit"),
            skip_bad=bool(kwargs.get("skip_bad")),
        ),
        metrics=_split_csv(kwargs.get("metrics")),
        overrides=overrides,
        weights_dir=kwargs.get("weights_dir"),
        scorer_weights=parse_weights(kwargs.get("scorer_weights", ())),
        device=kwargs.get("device") or ("cpu" if kwargs["preset"] == "smoke" else None),
        nproc=kwargs.get("nproc", 1),
        sp=kwargs.get("sp", 1),
        timeout_s=kwargs.get("timeout_s", 1800.0),
        fail_fast=bool(kwargs.get("fail_fast")),
        batch_size=kwargs.get("batch_size", 8),
        progress=not kwargs.get("no_progress"),
        seeds=parse_seeds(
            kwargs.get("seeds"),
            kwargs.get("num_seeds"),
            kwargs.get("seed"),
            get_preset(kwargs.get("preset") or default_preset(benchmark), benchmark).generation.seed,
        ),
        allow_failures=bool(kwargs.get("allow_failures")),
        t5_offload=bool(kwargs.get("t5_offload")),
        group_offload=kwargs.get("group_offload"),
        config=dict(config or {}),
        rewrite=rewrite_spec(kwargs),
        rewrite_cache=kwargs.get("rewrite_cache"),
        rewrite_timeout_s=kwargs.get("rewrite_timeout") or 60.0,
        channel=kwargs.get("channel"),
    )


def fail_unless_allowed(summary: str | None, allowed: bool) -> None:
    """Exit 1 naming what failed, unless --allow-failures; the files are written either way."""
    if summary and not allowed:
        raise click.ClickException(
            f"{summary}. Everything that finished is kept and counted in results.json and the report; "
            "rerun the command to retry, or pass --allow-failures to exit 0."
        )
