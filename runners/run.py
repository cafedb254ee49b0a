"""`nava-eval run` as functions: prepare → generate → score → results.json → report.

Each stage reads what the previous one wrote and skips what is already done, so `run` can be
repeated after a crash, and `generate`/`score` can run alone (e.g. to score another model's
outputs laid out by the benchmark).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.benchmarks.base import Benchmark, Sample, SampleSelection, field_rule, get_benchmark
from nava_eval.errors import InvalidValue, UserError
from nava_eval.interrupts import reraise_interrupts
from nava_eval.ranks import launched, launched_world_size
from nava_eval.rundir.files import atomic_write_json, atomic_write_text
from nava_eval.rundir.layout import RunDir
from nava_eval.rundir.provenance import collect_provenance, now_iso
from nava_eval.rundir.records import Results, load_score_records
from nava_eval.rundir.rewrites import RewriteSpec, RewrittenPrompt
from nava_eval.rundir.run_file import GenerationSettings, RunFile, RunSpec, load_run_file, replace_provenance
from nava_eval.rundir.schema import SchemaError, to_dict
from nava_eval.rundir.unit import Unit
from nava_eval.runners.presets import Preset, check_preset_fits, default_preset, get_preset
from nava_eval.runners.request_checks import check_device, check_metric_names, check_scorer_weights

logger = logging.getLogger(__name__)

SMOKE_DATA_DIR = "smoke-data"


class RunSpecMismatch(UserError, ValueError):
    """The run directory was made with other output-changing settings; resuming would mix outputs."""


@dataclass(frozen=True)
class RunRequest:
    """Everything `nava-eval run/generate/score` was asked for."""

    benchmark: str
    preset: str | None = None  # None: the benchmark's own preset (spec.DEFAULT_PRESETS)
    run_dir: Path | None = None
    data_dir: Path | None = None
    selection: SampleSelection = SampleSelection()
    metrics: tuple[str, ...] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # GenerationSettings fields
    weights_dir: Path | None = None
    scorer_weights: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    nproc: int = 1
    sp: int = 1
    timeout_s: float = 1800.0
    fail_fast: bool = False
    batch_size: int = 8
    progress: bool = True
    seeds: tuple[int, ...] | None = None  # multi-seed: every item once per run seed
    allow_failures: bool = False
    prompt_source: str | None = None  # versebench only: "nava" (default) or "official"
    t5_offload: bool = False  # memory only (text encoder kept on the CPU between prompts); not in the hash
    group_offload: int | None = (
        None  # memory only: DiT blocks streamed N at a time (nava.offload); not hashed
    )
    config: dict[str, Any] = field(default_factory=dict)  # the resolved command options, for run.json
    rewrite: RewriteSpec | None = None  # jsonl: only: rewrite every prompt first (nava.rewrite)
    rewrite_cache: Path | None = None  # default $NAVA_EVAL_HOME/rewrites
    rewrite_timeout_s: float = 60.0  # per request to a --rewrite-server
    channel: str | None = (
        None  # audio metrics: another channel reading (a protocol variant; metrics.channels)
    )

    def preset_name(self) -> str:
        """The preset asked for, else the benchmark's own."""
        if self.preset is not None:
            return self.preset
        try:
            return default_preset(self.benchmark)
        except KeyError:
            get_benchmark(self.benchmark)  # an unknown name: the error lists the valid benchmarks
            raise

    def resolved_run_dir(self) -> Path:
        if self.run_dir is not None:
            from nava_eval.user_files import user_path

            return user_path(self.run_dir)
        safe = self.benchmark.replace(":", "-").replace("/", "_")
        return Path("runs") / f"{safe}-{self.preset_name()}"


@dataclass(frozen=True)
class PreparedRun:
    """The benchmark, its samples and the spec of one run directory."""

    request: RunRequest
    preset: Preset
    benchmark: Benchmark
    samples: list[Sample]
    spec: RunSpec
    run_dir: RunDir
    data_dir: Path | None


def generation_settings(preset: Preset, overrides: dict[str, Any]) -> GenerationSettings:
    """The preset's settings with the user's overrides; unknown names are an error listing the valid ones."""
    valid = {f.name for f in dataclasses.fields(GenerationSettings)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise InvalidValue(f"unknown generation setting(s) {unknown}; valid: {', '.join(sorted(valid))}")
    settings = dataclasses.replace(preset.generation, **overrides)
    from nava_eval.nava.shapes import check_shape

    check_shape(settings.width, settings.height, settings.latent_frames)
    if settings.sampler == "dmd2-student":
        _check_student(settings)
    return settings


def _check_student(settings: GenerationSettings) -> None:
    """The distilled sampler needs a distilled DiT and at most its table's 4 steps."""
    from nava_eval.nava.sampling.student import TRAIN_SIGMAS

    if settings.steps > len(TRAIN_SIGMAS):
        raise InvalidValue(
            f"the dmd2-student sampler runs at most {len(TRAIN_SIGMAS)} steps (its sigma table), got "
            f"--steps {settings.steps}"
        )
    teacher_files = (None, "NAVA.safetensors", "NAVA_fp8.safetensors")
    if settings.model == "nava-6b" and settings.dit_file in teacher_files:
        raise InvalidValue(
            "the dmd2-student sampler needs a distilled DiT checkpoint: pass --dit-file NAME (a file in "
            "--weights-dir). NAVA.safetensors is the 50-step teacher, and no distilled checkpoint is published"
        )


def _smoke_data(run_dir: Path, benchmark_name: str) -> Path:
    from nava_eval.benchmarks.smoke import write_smoke_dataset

    paths = write_smoke_dataset(run_dir / SMOKE_DATA_DIR)
    if benchmark_name == "versebench":
        return paths.versebench
    if benchmark_name == "seedtts":
        return paths.seedtts
    return paths.root


def _benchmark_options(
    name: str, preset: Preset, prompt_source: str | None = None, settings: GenerationSettings | None = None
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    settings = settings or preset.generation
    if prompt_source is not None:
        if name != "versebench":
            raise InvalidValue(f"--prompt-source only applies to versebench, not {name}")
        options["prompt_source"] = prompt_source
    if name.startswith("jsonl:") and tuple(preset.modes) == ("t2a",):
        # As scripts/inference_t2a.sh: the config, not the line, makes every line text-to-audio.
        options["default_mode"] = "t2a"
    if getattr(settings, "missing_image", "error") != "error":
        if name != "versebench":
            raise InvalidValue(f"--missing-image only applies to versebench, not {name}")
        options["missing_image"] = settings.missing_image
    if preset.data != "smoke" or name.startswith("jsonl:"):
        return options
    from nava_eval.benchmarks import smoke

    counts = {"versebench": smoke.SMOKE_VERSEBENCH_COUNTS, "seedtts": smoke.SMOKE_SEEDTTS_COUNTS}
    return {**options, "expected_counts": dict(counts[name])} if name in counts else options


def resolve_seeds(request: RunRequest) -> tuple[dict[str, Any], list[int] | None]:
    """(generation overrides, run seeds): one seed is an ordinary run with that seed; several, a multi-seed run.

    The first seed of a list becomes the settings' `seed`, so the spec shows where the list starts.
    """
    overrides = dict(request.overrides)
    if not request.seeds:
        return overrides, None
    seeds = list(request.seeds)
    if len(set(seeds)) != len(seeds):
        raise InvalidValue(f"--seeds {','.join(map(str, seeds))}: a seed is listed twice")
    if "seed" in overrides and overrides["seed"] != seeds[0]:
        raise InvalidValue("give either --seed or --seeds/--num-seeds, not both")
    overrides["seed"] = seeds[0]
    return overrides, (seeds if len(seeds) > 1 else None)


def gen_turn_seeds(request: RunRequest, settings: GenerationSettings) -> list[int]:
    """--gen-turn N: the N passes of the release's loop as the run seeds seed, seed + 1, …, seed + N − 1.

    Each pass's samples keep the one key Unit(item, run seed); which noise a pass draws is decided in
    runners.generate (per-sample: from its run seed; official-rank: the seed's streams, continued).
    """
    if request.seeds:
        raise InvalidValue(
            "give --gen-turn or --seeds/--num-seeds, not both: --gen-turn N is N passes with run seeds "
            f"{settings.seed}..{settings.seed + settings.gen_turn - 1}"
        )
    if request.benchmark == "seedtts":
        raise InvalidValue(
            "--gen-turn does not apply to seedtts: the release's Seed-TTS mode writes one file per utterance "
            "without a pass suffix, so every pass after the first finds it and generates nothing. For "
            "several generations per utterance use --num-seeds N"
        )
    return list(seed_list(settings.seed, settings.gen_turn))


def seed_list(first: int, count: int) -> tuple[int, ...]:
    """--num-seeds N: N consecutive run seeds from `first` (the preset's seed unless --seed is given)."""
    from nava_eval.runners.seeds import check_run_seeds

    if count < 1:
        raise InvalidValue(f"--num-seeds must be at least 1, got {count}")
    seeds = tuple(range(first, first + count))
    check_run_seeds([seeds[0], seeds[-1]], f"--seed {first} with --num-seeds {count}")
    return seeds


def prepare_run(
    request: RunRequest,
    *,
    write: bool = True,
    smoke_data_root: Path | None = None,
    rewrite_mode: str | None = None,
) -> PreparedRun:
    """Resolve preset, benchmark, data and samples; create or check run.json.

    Nothing here loads weights: a preset that does not fit the benchmark, missing prompt files or
    bad data fail now, with the file and the fix. smoke_data_root: where the smoke preset writes its
    miniature data (default: inside the run directory). With `request.rewrite` the prompts are
    rewritten first (runners.rewrite.rewrite_samples; rewrite_mode "rewrite" when writing, else
    "wait" for the writing rank's cache entries; the dry run passes "plan").
    """
    preset = get_preset(request.preset_name(), request.benchmark)
    overrides, seeds = resolve_seeds(request)
    settings = generation_settings(preset, overrides)
    if settings.gen_turn > 1:
        seeds = gen_turn_seeds(request, settings)
    _check_request(request)
    run_root = request.resolved_run_dir()
    run_dir = RunDir(run_root)
    data_dir = request.data_dir
    if data_dir is None and preset.data == "smoke" and not request.benchmark.startswith("jsonl:"):
        data_dir = _smoke_data(smoke_data_root or run_root, request.benchmark)
    options = _benchmark_options(request.benchmark, preset, request.prompt_source, settings)
    benchmark = get_benchmark(request.benchmark, **options)
    samples = benchmark.load(data_dir, request.selection)
    if not samples:
        raise InvalidValue(f"no samples selected from {request.benchmark} (check --sets/--ids/--limit)")
    rewrite_spec, rewrites = None, []
    if request.rewrite is not None:
        mode = rewrite_mode or ("rewrite" if write else "wait")
        samples, rewrites, rewrite_spec = _rewrite_prompts(request, samples, mode)
    check_preset_fits(preset, request.benchmark, {s.mode for s in samples})
    metrics = (
        list(request.metrics)
        if request.metrics
        else sorted({m for s in samples for m in metrics_for_sample(benchmark, s)})
    )
    check_scorer_weights(request.scorer_weights, metrics)
    sel = request.selection
    spec = RunSpec(
        name=run_root.name,
        benchmark=request.benchmark,
        preset=preset.name,
        generation=settings,
        metrics=metrics,
        data_dir=str(data_dir) if data_dir is not None else None,
        sets=list(sel.sets) if sel.sets else None,
        ids=sorted(sel.ids) if sel.ids else None,
        limit=sel.limit,
        smoke=preset.smoke,
        seeds=seeds,
        prompt_source=request.prompt_source,
        rewrite=rewrite_spec,
    )
    if write:
        _write_run_file(run_dir, spec, request, rewrites)
    return PreparedRun(request, preset, benchmark, samples, spec, run_dir, data_dir)


def _rewrite_prompts(
    request: RunRequest, samples: list[Sample], mode: str
) -> tuple[list[Sample], list[RewrittenPrompt], RewriteSpec]:
    """--rewrite: the samples with their prompts rewritten (jsonl: prompt files only), and the records."""
    from nava_eval.runners.rewrite import make_rewriter, rewrite_samples

    if not request.benchmark.startswith("jsonl:"):
        raise InvalidValue(
            f"--rewrite applies to your own prompt files (jsonl:PATH), not {request.benchmark}: VerseBench "
            "already runs on NAVA's rewritten prompts and Seed-TTS texts are read aloud as written"
        )
    rewriter = make_rewriter(
        request.rewrite,
        request.rewrite_cache,
        request.device,
        request.rewrite_timeout_s,
        with_model=mode == "rewrite",
    )
    try:
        out, records = rewrite_samples(samples, rewriter, mode, request.progress, request.timeout_s)
    finally:
        close = getattr(rewriter.backend, "close", None)
        if close is not None:  # a local rewrite model leaves the GPU to NAVA
            close()
    return out, records, rewriter.spec


def _check_request(request: RunRequest) -> None:
    if request.metrics:
        check_metric_names(request.metrics)
    launched = launched_world_size() > 1 and request.nproc == 1
    check_device(request.device, request.nproc, launched=launched)
    if request.batch_size < 1:
        raise InvalidValue(f"--batch-size must be at least 1, got {request.batch_size}")
    from nava_eval.runners.seeds import check_run_seeds

    # The API and a replay reach here without click's types: the same seed range as --seed.
    if request.seeds:
        check_run_seeds(request.seeds)
    if request.overrides.get("seed") is not None:
        check_run_seeds([request.overrides["seed"]], "--seed")
    if not (
        isinstance(request.timeout_s, (int, float))
        and math.isfinite(request.timeout_s)
        and request.timeout_s > 0
    ):
        raise InvalidValue(f"--timeout must be a finite number of seconds above 0, got {request.timeout_s!r}")


def _write_run_file(
    run_dir: RunDir, spec: RunSpec, request: RunRequest, rewrites: Sequence[RewrittenPrompt] = ()
) -> None:
    # Under torchrun the world comes from its environment; with --nproc we launch it ourselves.
    world = launched_world_size() if launched() else request.nproc
    provenance = collect_provenance(world_size=world, dp_size=max(1, world // request.sp), sp_size=request.sp)
    if run_dir.run_json.exists():
        existing = load_run_file(run_dir.root)
        if existing.spec.imported is not None:
            raise RunSpecMismatch(
                f"{run_dir.run_json}: this run directory holds imported outputs of "
                f"{existing.spec.imported.model!r}; NAVA cannot generate into it. Use another --run-dir, "
                f"or `nava-eval score {run_dir.root}` to score the imported outputs."
            )
        if existing.spec_hash != spec.output_hash():
            raise RunSpecMismatch(
                f"{run_dir.run_json}: this run directory was generated with other settings "
                f"(spec hash {existing.spec_hash}, now {spec.output_hash()}); resuming would mix outputs. "
                "Use another --run-dir, or delete the directory to start over."
            )
        # official-rank noise depends on the number of DP groups; per-sample noise does not.
        if (
            spec.generation.seed_policy == "official-rank"
            and existing.provenance.dp_size != provenance.dp_size
        ):
            raise RunSpecMismatch(
                f"{run_dir.run_json}: seed policy official-rank was started with {existing.provenance.dp_size} "
                f"data-parallel group(s), now {provenance.dp_size}; its noise depends on that number. "
                "Resume with the same --nproc/--sp layout, or use another --run-dir."
            )
        run_file = dataclasses.replace(replace_provenance(existing, provenance), spec=spec)
        if rewrites:
            from nava_eval.runners.rewrite import merge_records

            run_file = dataclasses.replace(run_file, rewrites=merge_records(existing.rewrites, rewrites))
        if request.config:
            run_file = dataclasses.replace(run_file, config=dict(request.config))
    else:
        leftovers = _generated_content(run_dir)
        if leftovers:
            raise RunSpecMismatch(
                f"{run_dir.root} holds {', '.join(leftovers)} but no run.json: the settings those outputs were "
                "made with are unknown, so they are not adopted. Use another --run-dir, or move them away "
                "(or delete the folder) to start over."
            )
        run_file = RunFile(
            spec=spec,
            spec_hash=spec.output_hash(),
            provenance=provenance,
            config=dict(request.config),
            rewrites=list(rewrites),
        )
    atomic_write_json(run_dir.run_json, to_dict(run_file))


def _generated_content(run_dir: RunDir) -> list[str]:
    """What a run directory holds besides run.json that only a generate or score stage writes."""
    root = run_dir.root
    found = [name for name in ("samples.jsonl", "results.json") if (root / name).exists()]
    found += [p.name for p in sorted(root.glob("samples.shard-*.jsonl"))]
    found += [
        f"{name}/"
        for name in ("outputs", "scores")
        if (root / name).is_dir() and any((root / name).iterdir())
    ]
    return found


def stream_universe(prepared: PreparedRun) -> list[Sample] | None:
    """Every item of the selected sets, when official-rank noise must see items --ids/--limit left out."""
    sel = prepared.request.selection
    if prepared.spec.generation.seed_policy != "official-rank" or (sel.ids is None and sel.limit is None):
        return None
    return prepared.benchmark.load(prepared.data_dir, SampleSelection(sets=sel.sets, skip_bad=sel.skip_bad))


def metrics_for_sample(benchmark: Benchmark, sample: Sample) -> tuple[str, ...]:
    """The benchmark's own per-sample choice when it has one, else its per-set defaults."""
    chooser = getattr(benchmark, "metrics_for", None)
    if chooser is not None:
        return tuple(chooser(sample))
    return tuple(benchmark.default_metrics.get(sample.set, ()))


def prompt_sha256(sample: Sample) -> str:
    return hashlib.sha256(sample.prompt.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------------
# score + aggregate + report (rank 0 only)


def record_weight_hashes(run_dir: RunDir, used: dict[str, str]) -> None:
    """Add the sha256 of the scorer weight files used to run.json's provenance."""
    if not used:
        return
    run_file = load_run_file(run_dir.root)
    merged = {**run_file.provenance.scorer_weights_sha256, **used}
    provenance = dataclasses.replace(run_file.provenance, scorer_weights_sha256=merged)
    atomic_write_json(run_dir.run_json, to_dict(dataclasses.replace(run_file, provenance=provenance)))


def _weight_hashes(metric: Any) -> dict[str, str]:
    """weight name → sha256 of the file a metric loaded (smoke networks have none)."""
    out = {}
    for name, info in (getattr(metric, "weights_provenance", None) or {}).items():
        digest = info.get("sha256") if isinstance(info, dict) else None
        if digest:
            out[name] = str(digest)
    return out


def run_seeds(prepared: PreparedRun) -> list[int | None]:
    """The run seeds of a multi-seed run, [None] for a single-seed (or imported) run."""
    return list(prepared.spec.seeds) if prepared.spec.seeds else [None]


def scoring_plan(prepared: PreparedRun, metrics: Sequence[str] | None = None) -> dict[str, list[Unit]]:
    """metric → the units it scores: each sample, once per seed of a multi-seed run.

    The chosen metrics on every sample, else the benchmark's per-sample choice; units in benchmark
    order, seed by seed within a sample.
    """
    chosen = list(metrics) if metrics else None
    seeds = run_seeds(prepared)
    plan: dict[str, list[Unit]] = {}
    for sample in prepared.samples:
        names = chosen if chosen else metrics_for_sample(prepared.benchmark, sample)
        for name in names:
            plan.setdefault(name, []).extend(Unit(sample.id, seed) for seed in seeds)
    return plan


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def results_samples(prepared: PreparedRun, records: Mapping[Unit, Any]) -> list[Sample]:
    """The samples results.json covers: this invocation's selection and every sample the run recorded.

    A narrower invocation (`--limit 1`, `--sets set3`, `--ids`) adds to a run; it never makes its
    results.json forget what was generated before.
    """
    selected = {s.id for s in prepared.samples}
    recorded = {unit.item for unit in records} - selected
    if not recorded:
        return list(prepared.samples)
    try:
        everything = prepared.benchmark.load(
            prepared.data_dir, SampleSelection(skip_bad=prepared.request.selection.skip_bad)
        )
    except Exception as exc:  # the data moved or changed: report what can still be planned
        reraise_interrupts(exc)
        logger.warning(
            "results.json covers only the selected samples: the benchmark could not be read again (%s)", exc
        )
        return list(prepared.samples)
    return [s for s in everything if s.id in selected or s.id in recorded]


def aggregation_plan(
    prepared: PreparedRun, samples: Sequence[Sample], metrics: Sequence[str] | None = None
) -> dict[str, list[Unit]]:
    """metric → the units its aggregate covers: where the benchmark plans
    it, where it was scored (an earlier `--metrics` run), and, for metrics chosen now, the current
    selection; each sample once per run seed of a multi-seed run."""
    from nava_eval.metrics.base import metric_entries

    entries = metric_entries()
    selected = {s.id for s in prepared.samples}
    chosen = list(metrics or ())
    seeds = run_seeds(prepared)
    scored: dict[str, set[Unit]] = {}  # metric → units with a score line
    if prepared.run_dir.scores_dir.is_dir():
        for path in sorted(prepared.run_dir.scores_dir.glob("*.jsonl")):
            scored[path.stem] = {Unit.of(r) for r in load_score_records(path)}
    # With --metrics X, a column of the benchmark's plan that was never scored stays out (it would be
    # an empty column); one scored before keeps its whole plan, so results.json never shrinks.
    default = {
        s.id: tuple(m for m in metrics_for_sample(prepared.benchmark, s) if not chosen or m in scored)
        for s in samples
    }
    names = list(dict.fromkeys([*(m for s in samples for m in default[s.id]), *chosen, *sorted(scored)]))
    plan: dict[str, list[Unit]] = {}
    for name in names:
        if name not in entries:
            logger.warning(
                "scores/%s.jsonl: no metric %r is registered; left out of results.json", name, name
            )
            continue
        plan[name] = [
            Unit(s.id, seed)
            for s in samples
            for seed in seeds
            if name in default[s.id]
            or Unit(s.id, seed) in scored.get(name, ())
            or (name in chosen and s.id in selected)
        ]
    return {name: group for name, group in plan.items() if group}


def aggregate_run(prepared: PreparedRun, metrics: Sequence[str] | None = None) -> Results:
    """Write results.json from the per-sample scores: every metric and sample of the run, merged."""
    from nava_eval.metrics.base import metric_entries
    from nava_eval.reports.aggregate import aggregate_metric, build_results

    records = prepared.run_dir.records()
    samples = results_samples(prepared, records)
    sets = {s.id: s.set for s in samples}
    entries = metric_entries()
    index = prepared.run_dir.file_index()
    results = {}
    for name, units in aggregation_plan(prepared, samples, metrics).items():
        planned = prepared.run_dir.planned(units, sets, records, index)
        fields = entries[name].fields
        results.update(
            aggregate_metric(
                prepared.run_dir.scores(name),
                name,
                fields,
                planned,
                prepared.benchmark.aggregation,
                rules={f.name: field_rule(prepared.benchmark, f.name) for f in fields},
            )
        )
    index.save()
    run_file = load_run_file(prepared.run_dir.root)
    provenance = dataclasses.replace(run_file.provenance, ended_at=now_iso())
    spec = prepared.spec
    model = spec.model
    keys = [Unit(s.id, seed) for s in samples for seed in run_seeds(prepared)]
    done = [k for k in keys if k in records and records[k].status == "done"]
    failed = [k for k in keys if k in records and records[k].status == "failed"]
    notes = (
        [f"{len(failed)} sample(s) failed to generate: {', '.join(map(str, failed[:20]))}"] if failed else []
    )
    if spec.imported is not None and len(done) < len(keys):
        absent = [k for k in keys if k not in set(done)]
        notes.append(
            f"{len(absent)} of {len(keys)} item(s) have no usable output in {spec.imported.source_dir} "
            f"(see import-report.md): {', '.join(map(str, absent[:20]))}"
        )
    params_b = spec.imported.params_b if spec.imported is not None else MODEL_PARAMS_B.get(model)
    res = build_results(
        run_name=spec.name,
        benchmark=prepared.benchmark.name,
        model=model,
        metrics=results,
        n_samples=len(keys),
        smoke=spec.smoke,
        params_b=params_b,
        preset=spec.preset,
        spec=to_dict(spec),
        provenance=provenance,
        created_at=now_iso(),
        notes=notes,
        origin="imported" if spec.imported is not None else "generated",
        n_outputs=len(done),
        seeds=list(spec.seeds) if spec.seeds else None,
    )
    atomic_write_json(prepared.run_dir.results_json, to_dict(res))
    return res


def generation_failures(prepared: PreparedRun) -> str | None:
    """The selected samples whose latest record is a failure, as a sentence; None when there are none."""
    records = prepared.run_dir.records()
    keys = [Unit(s.id, seed) for s in prepared.samples for seed in run_seeds(prepared)]
    failed = [str(k) for k in keys if k in records and records[k].status == "failed"]
    if not failed:
        return None
    return f"{len(failed)} sample(s) failed to generate ({', '.join(failed[:5])}{', ...' if len(failed) > 5 else ''})"


def failure_summary(prepared: PreparedRun, results: Results, changed: Sequence[Unit] = ()) -> str | None:
    """What failed in the run (generation, scoring, outputs changed on disk); None when nothing did."""
    records = prepared.run_dir.records()
    covered = {Unit(s.id, seed) for s in results_samples(prepared, records) for seed in run_seeds(prepared)}
    failed = [str(k) for k in sorted(k for k, r in records.items() if r.status == "failed" and k in covered)]
    parts = []
    if failed:
        parts.append(
            f"{len(failed)} sample(s) failed to generate ({', '.join(failed[:5])}{', ...' if len(failed) > 5 else ''})"
        )
    scoring = {name: m.n_failed for name, m in results.metrics.items() if m.n_failed}
    if scoring:
        parts.append("scoring failed on " + ", ".join(f"{n} sample(s) for {k}" for k, n in scoring.items()))
    if changed:
        parts.append(
            f"{len(set(changed))} output(s) missing or changed since recorded, not scored "
            f"({prepared.spec.remake_advice(prepared.run_dir.root)})"
        )
    return "; ".join(parts) or None


#: Parameter counts shown in tables (billions).
MODEL_PARAMS_B: dict[str, float] = {"nava-6b": 6.3, "nava-tiny": 0.0094}


def write_reports(prepared: PreparedRun) -> list[Path]:
    """report.md (comparison table) and report.html (plots, per-sample table) in the run directory."""
    from nava_eval.reports.render import write_report
    from nava_eval.reports.tables import build_table, render_table

    published = not prepared.spec.benchmark.startswith("jsonl:")
    # Seed-TTS splits are different languages (WER vs CER): report them side by side, not only pooled.
    per_set = bool(getattr(prepared.benchmark, "report_per_set", False))
    table = build_table(
        [prepared.run_dir.root], prepared.benchmark.name, published=published, per_set=per_set
    )
    from nava_eval.reports.report_text import render_derived_md
    from nava_eval.reports.rows import build_rows

    derived = render_derived_md(build_rows([prepared.run_dir.root]))  # Verse-Bench Overall, or why not
    md_path = atomic_write_text(
        prepared.run_dir.root / "report.md",
        f"# {prepared.spec.name}\n\n{render_table(table, 'md')}\n" + (f"\n{derived}" if derived else ""),
    )
    return [md_path, write_report(prepared.run_dir.root)]


def load_prepared(run_dir: Path, request_overrides: dict[str, Any] | None = None) -> PreparedRun:
    """Rebuild a PreparedRun from an existing run directory's run.json (for `score`/`report` alone)."""
    try:
        run_file = load_run_file(run_dir)
    except SchemaError:
        raise
    spec = run_file.spec
    if spec.seeds:
        from nava_eval.runners.seeds import check_run_seeds

        # A hand-edited run.json is one more route for a seed: the same range as --seeds.
        check_run_seeds(spec.seeds, f"{Path(run_dir) / 'run.json'}: seeds")
    request = RunRequest(
        benchmark=spec.benchmark,
        preset=spec.preset,
        run_dir=Path(run_dir),
        data_dir=Path(spec.data_dir) if spec.data_dir else None,
        selection=SampleSelection(
            sets=tuple(spec.sets) if spec.sets else None,
            ids=frozenset(spec.ids) if spec.ids else None,
            limit=spec.limit,
        ),
        **(request_overrides or {}),
    )
    try:
        preset = get_preset(spec.preset, spec.benchmark)
    except KeyError:  # a preset renamed since the run was made: run.json holds its settings
        preset = Preset(spec.preset, "(from run.json)", spec.generation, smoke=spec.smoke)
    request = dataclasses.replace(request, prompt_source=spec.prompt_source)
    _check_request(request)
    benchmark = get_benchmark(
        spec.benchmark, **_benchmark_options(spec.benchmark, preset, spec.prompt_source, spec.generation)
    )
    samples = benchmark.load(request.data_dir, request.selection)
    if spec.rewrite is not None:  # score what was generated: the recorded rewrites
        from nava_eval.runners.rewrite import apply_recorded

        samples = apply_recorded(samples, run_file.rewrites)
    check_scorer_weights(request.scorer_weights, request.metrics or spec.metrics)
    return PreparedRun(request, preset, benchmark, samples, spec, RunDir(Path(run_dir)), request.data_dir)
