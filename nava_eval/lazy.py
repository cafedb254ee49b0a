"""Registries of "module:attr" strings, imported on first use.

Metrics, benchmarks, CLI commands and doctor's weight checks are named by such strings so that
`nava-eval --help` and `nava-eval ls` answer without importing torch; this module is the one loader
and the one unknown-name error they share.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from nava_eval.errors import UnknownName


def unknown_name_error(
    kind: str, names: Iterable[str], valid: Iterable[str], plural: str | None = None
) -> UnknownName:
    """The one unknown-name error: `unknown metric 'x'; valid metrics: a, b` (several: `metric(s) 'x', 'y'`)."""
    names = list(names)
    what = f"{kind} {names[0]!r}" if len(names) == 1 else f"{kind}(s) " + ", ".join(repr(n) for n in names)
    return UnknownName(f"unknown {what}; valid {plural or kind + 's'}: {', '.join(valid)}")


class BadTargetError(ImportError):
    """A registry target that is not "module:attr" or names nothing importable."""


def load(target: str) -> Any:
    """The object a "module:attr" string names, importing its module."""
    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise BadTargetError(f"{target!r} is not a 'module:attr' target")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise BadTargetError(f"{target!r}: module {module_name} has no attribute {attr!r}") from None


class Registry(Mapping[str, str]):
    """Names of one kind ("metric", "benchmark", ...) mapped to "module:attr" targets.

    `labels` changes how a name is shown in the list of valid names (`jsonl` → `jsonl:PATH`);
    `builtins` names a module whose import registers the built-in entries, imported on first lookup.
    """

    def __init__(
        self,
        kind: str,
        targets: Mapping[str, str] | None = None,
        *,
        plural: str | None = None,
        labels: Mapping[str, str] | None = None,
        builtins: str | None = None,
    ) -> None:
        self.kind = kind
        self.plural = plural or kind + "s"
        self.labels = dict(labels or {})
        self._targets: dict[str, str] = dict(targets or {})
        self._builtins = builtins

    def _ensure(self) -> dict[str, str]:
        if self._builtins is not None:
            module, self._builtins = self._builtins, None
            importlib.import_module(module)
        return self._targets

    def register(self, name: str, target: str) -> None:
        """Add (or replace) one entry."""
        self._ensure()[name] = target

    def unregister(self, name: str) -> None:
        self._ensure().pop(name, None)

    def __getitem__(self, name: str) -> str:
        targets = self._ensure()
        if name not in targets:
            raise self.unknown([name])
        return targets[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._ensure()))

    def __len__(self) -> int:
        return len(self._ensure())

    def __contains__(self, name: object) -> bool:
        return name in self._ensure()

    def load(self, name: str) -> Any:
        """The object registered under `name` (UnknownName listing the valid names otherwise)."""
        return load(self[name])

    def valid_names(self) -> list[str]:
        """The valid names, sorted, as the unknown-name error lists them (labelled ones last)."""
        targets = self._ensure()
        plain = sorted(n for n in targets if n not in self.labels)
        return plain + [self.labels[n] for n in targets if n in self.labels]

    def unknown(self, names: Iterable[str]) -> UnknownName:
        """The error for names this registry does not hold."""
        return unknown_name_error(self.kind, names, self.valid_names(), self.plural)

    def check(self, names: Iterable[str]) -> None:
        """UnknownName listing every unknown name in `names` (and the valid ones)."""
        targets = self._ensure()
        unknown = [n for n in dict.fromkeys(names) if n not in targets]
        if len(unknown) == 1:  # said as "metric(s)": the caller asked about a list
            raise unknown_name_error(f"{self.kind}(s)", unknown, self.valid_names(), self.plural)
        if unknown:
            raise self.unknown(unknown)
