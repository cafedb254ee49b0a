"""A metric is one class: the registry holds "module:Class" only, and every module imports without torch."""

from __future__ import annotations

import subprocess
import sys
import typing

import pytest

from nava_eval.errors import UnknownName
from nava_eval.metrics.base import (
    SMOKE_SUFFIX,
    BaseMetric,
    MetricField,
    Requirement,
    get_metric,
    metric_class,
    metric_entries,
)
from nava_eval.metrics.registry import METRICS

REQUIREMENTS = set(typing.get_args(Requirement))


@pytest.mark.parametrize("name", list(METRICS))
def test_every_metric_module_imports_without_torch(name: str) -> None:
    """`nava-eval ls` and the reports read fields from the classes: importing one must not load torch."""
    module = METRICS[name].partition(":")[0]
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        "heavy = [m for m in ('torch', 'torchaudio', 'torchvision', 'transformers') if m in sys.modules]\n"
        "assert not heavy, f'imported {heavy}'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{module}: {done.stderr[-2000:]}"


@pytest.mark.parametrize("name", list(METRICS))
def test_the_class_declares_everything_once(name: str) -> None:
    cls = metric_class(name)
    assert issubclass(cls, BaseMetric)
    assert cls.name == name  # the registry key is the class's own name
    assert isinstance(cls.protocol, str) and "/" in cls.protocol and "+" not in cls.protocol
    assert cls.fields and all(isinstance(f, MetricField) for f in cls.fields)
    assert len({f.name for f in cls.fields}) == len(cls.fields)
    assert cls.description.strip()
    assert cls.requires and set(cls.requires) <= REQUIREMENTS, cls.requires
    entry = metric_entries()[name]
    assert (entry.protocol, entry.fields, entry.description) == (cls.protocol, cls.fields, cls.description)
    assert (entry.requires, entry.weight_names) == (cls.requires, cls.weight_names)


def test_weight_files_of_a_class_are_the_registry_entries_that_name_it() -> None:
    """Each weight a class loads is registered, and a weight entry names the metrics that load it."""
    from nava_eval.metrics.weights import weight_specs

    specs = weight_specs()
    for name in METRICS:
        declared = set(metric_class(name).weight_names)
        assert declared <= set(specs), f"{name}: unregistered weights {declared - set(specs)}"
        used = {w for w, spec in specs.items() if name in spec.used_by}
        assert declared == used, (
            f"{name}: class says {sorted(declared)}, weights registry says {sorted(used)}"
        )


@pytest.mark.parametrize("name", list(METRICS))
def test_smoke_instance_carries_the_class_protocol_with_the_smoke_suffix(name: str) -> None:
    # Constructing loads nothing; the instance's protocol is the class's one plus the smoke suffix,
    # unless the smoke run computes the real thing (no network, or real small networks: dnsmos).
    cls = metric_class(name)
    smoke = cls.protocol + (SMOKE_SUFFIX if cls.smoke_networks else "")
    assert get_metric(name, smoke=True).protocol == smoke
    assert get_metric(name).protocol == metric_class(name).protocol


def test_unknown_metric_lists_the_valid_ones() -> None:
    with pytest.raises(
        UnknownName,
        match=r"^unknown metric 'nosuch'; valid metrics: (\w+, )+sync, video_quality, videoreward, wer, wer_sensevoice$",
    ):
        get_metric("nosuch")


def test_wer_sensevoice_is_described_once_and_truly() -> None:
    """The registry's and the class's copies had drifted ("lowercase only" was wrong: it strips too)."""
    cls = metric_class("wer_sensevoice")
    assert "lowercase only" not in cls.description
    assert "strip+lowercase" in cls.fields[0].description and "ITN" in cls.fields[0].description
