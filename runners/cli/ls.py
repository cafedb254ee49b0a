"""`nava-eval ls`: what is registered: benchmarks, metrics (protocol ids, directions), derived metrics, presets."""

from __future__ import annotations

import textwrap

import click

from nava_eval import direction


def _benchmark_lines() -> list[str]:
    from nava_eval.benchmarks.base import benchmark_entries, get_benchmark

    lines = []
    for name, entry in sorted(benchmark_entries().items()):
        label = "jsonl:PATH" if name == "jsonl" else name
        lines.append(f"  {label:<14} {entry.description}")
        if name == "jsonl":
            continue
        try:
            bench = get_benchmark(name)
        except ImportError as exc:  # a benchmark module that cannot import is shown, not hidden
            lines.append(f"      (unavailable: {exc})")
            continue
        counts = ", ".join(f"{s} {bench.expected_counts.get(s, '?')}" for s in bench.sets)
        lines.append(f"      sets: {counts}; output: {bench.output_kind}; aggregation: {bench.aggregation}")
        for set_name in bench.sets:
            metrics = ", ".join(bench.default_metrics.get(set_name, ())) or "–"
            lines.append(f"      metrics[{set_name}]: {metrics}")
    return lines


def _metric_lines() -> list[str]:
    from nava_eval.metrics.base import metric_entries

    lines = []
    for name, entry in sorted(metric_entries().items()):
        lines.append(f"  {name:<16} protocol {entry.protocol}")
        lines.append(f"      {entry.description}")
        for fld in entry.fields:
            arrow = f"{direction.arrow(fld.direction)} {direction.describe(fld.direction)}"
            unit = f" [{fld.unit}]" if fld.unit else ""
            extra = []
            if fld.protocol:
                extra.append(f"protocol {fld.protocol}")
            if fld.quantity:
                extra.append(f"measures {fld.quantity}")
            if fld.kind == "set":
                extra.append("one statistic of the whole set")
            more = f" ({'; '.join(extra)})" if extra else ""
            lines.append(f"      {fld.name}{unit}: {arrow}; {fld.description}{more}")
    return lines


def _derived_lines() -> list[str]:
    from nava_eval.reports.derived import DERIVED, derived_metric

    lines = []
    for name in sorted(DERIVED):
        metric = derived_metric(name)
        when = "in every report" if metric.default else "with report --derived " + name
        lines.append(f"  {name:<16} protocol {metric.protocol} ({metric.benchmark}; {when})")
        lines.append(f"      {metric.description}")
        inputs = ", ".join(
            f"{i.symbol}={i.field} [{' or '.join([i.protocol, *(f'{p} ({v})' for p, v in i.stand_ins.items())])}]"
            for i in metric.inputs
        )
        lines += textwrap.wrap(f"inputs: {inputs}", 110, initial_indent=" " * 6, subsequent_indent=" " * 8)
        fields = ", ".join(f"{f.name} {direction.arrow(f.direction)}" for f in metric.all_fields)
        lines.append(f"      fields: {fields}")
    return lines


def _preset_lines() -> list[str]:
    from nava_eval.runners.presets import DEFAULT_PRESETS, PRESETS, SMOKE_PRESET, get_preset, weight_files

    lines = []
    for name in [*sorted(PRESETS), SMOKE_PRESET]:
        preset = get_preset(name)
        gen = preset.generation
        g = gen.guidance.summary()
        default_for = sorted(
            {"jsonl": "jsonl:PATH", "jsonl-t2a": "jsonl:PATH of T2A lines"}.get(b, b)
            for b, p in DEFAULT_PRESETS.items()
            if p == name
        )
        lines.append(f"  {name:<17} {preset.description}")
        lines.append(f"      reproduces: {preset.reproduces}")
        if name == SMOKE_PRESET:
            lines.append(
                f"      model {gen.model}, {gen.steps} steps, {gen.width}×{gen.height}, {gen.latent_frames} latent "
                f"frames, {gen.fps} fps; any mode, with the guidance and seeds of the benchmark's own preset "
                "(its own tiny output settings)"
            )
            continue
        weights = weight_files(gen)
        lines.append(
            f"      modes: {'/'.join(preset.modes)}"
            + (f"; default for {', '.join(default_for)}" if default_for else "")
            + f"; weights {weights['dit']} ({weights['weight_dtype']})"
        )
        lines.append(
            f"      g_v {g['g_v']}, g_a {g['g_a']}, g_va {g['g_va']}, g_aa {g['g_aa']}, g_t {g['g_t']}, "
            f"3D CFG {'on' if g['align_3d_cfg'] else 'off'}, timbre CFG {'on' if g['timbre_cfg'] else 'off'}; "
            f"{gen.steps} steps, {gen.width}×{gen.height}, {gen.latent_frames} latent frames, seed {gen.seed} "
            f"({gen.seed_policy}), audio timing {gen.audio_timing}, decode {gen.decode_precision}"
            + (f", Seed-TTS speaker {gen.tts_speaker}" if "tts" in preset.modes else "")
        )
    return lines


@click.command(name="ls")
@click.argument(
    "what", type=click.Choice(["all", "benchmarks", "metrics", "derived", "presets"]), default="all"
)
def command(what: str) -> None:
    """List registered benchmarks, metrics, derived metrics and presets (WHAT: all or one of them)."""
    sections = {
        "benchmarks": _benchmark_lines,
        "metrics": _metric_lines,
        "derived": _derived_lines,
        "presets": _preset_lines,
    }
    for name, lines in sections.items():
        if what in ("all", name):
            click.echo(click.style(f"{name}:", bold=True))
            for line in lines():
                click.echo(line)
