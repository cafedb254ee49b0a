"""The one lazy "module:attr" loader and its unknown-name error (metrics, benchmarks, commands, doctor)."""

from __future__ import annotations

import json

import pytest

from nava_eval.errors import UnknownName, UserError
from nava_eval.lazy import BadTargetError, Registry, load, unknown_name_error


def test_load_imports_the_module_and_returns_the_attribute() -> None:
    assert load("json:dumps") is json.dumps
    with pytest.raises(BadTargetError, match="'json.dumps' is not a 'module:attr' target"):
        load("json.dumps")
    with pytest.raises(BadTargetError, match="module json has no attribute 'nope'"):
        load("json:nope")
    with pytest.raises(ModuleNotFoundError):
        load("no_such_module_xyz:thing")


def test_registry_is_a_mapping_and_loads_on_lookup() -> None:
    reg = Registry("codec", {"json": "json:dumps", "loads": "json:loads"})
    assert list(reg) == ["json", "loads"] and len(reg) == 2 and "json" in reg and "yaml" not in reg
    assert reg["json"] == "json:dumps" and reg.load("loads") is json.loads
    reg.register("again", "json:dumps")
    assert reg.load("again") is json.dumps
    reg.unregister("again")
    assert "again" not in reg


def test_one_unknown_name_error_lists_the_valid_names() -> None:
    reg = Registry(
        "benchmark",
        {"vb": "json:dumps", "jsonl": "json:loads", "ab": "json:dumps"},
        labels={"jsonl": "jsonl:PATH"},
    )
    with pytest.raises(UnknownName) as one:
        reg.load("zz")
    # sorted, labelled names last, and str() is the plain message (KeyError would quote it)
    assert str(one.value) == "unknown benchmark 'zz'; valid benchmarks: ab, vb, jsonl:PATH"
    assert isinstance(one.value, KeyError) and isinstance(one.value, UserError)  # one line in the CLI
    with pytest.raises(UnknownName) as several:
        reg.check(["vb", "x", "y", "x"])
    assert str(several.value) == "unknown benchmark(s) 'x', 'y'; valid benchmarks: ab, vb, jsonl:PATH"
    with pytest.raises(UnknownName, match=r"^unknown benchmark\(s\) 'x'; valid"):
        reg.check(["x"])  # asked about a list: said as a list
    reg.check(["ab", "vb"])  # known names pass
    assert str(unknown_name_error("command", ["frob"], ["ls", "run"])) == (
        "unknown command 'frob'; valid commands: ls, run"
    )
