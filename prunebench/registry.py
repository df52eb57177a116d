"""Name -> plugin class registries; duplicates refused, unknown names answered with the closest match."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from prunebench.errors import UsageError, did_you_mean

__all__ = ["Entry", "Registry"]

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered name: the object, and the plugin (and its version) it came from."""

    name: str
    obj: T
    plugin: str
    version: str | None = None
    available: bool = True
    reason: str | None = None  # why an entry is unavailable, with the install command

    @property
    def origin(self) -> str:
        return self.plugin if self.version is None else f"{self.plugin} {self.version}"


class Registry(Generic[T]):
    """A catalogue of one kind of plugin object (models, pruners, metrics, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def add(
        self,
        name: str,
        obj: T,
        *,
        plugin: str,
        version: str | None = None,
        available: bool = True,
        reason: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or name != name.strip():
            raise UsageError(f"Plugin {plugin!r} registered a {self.kind} with an invalid name {name!r}.")
        if name in self._entries:
            first = self._entries[name]
            if not first.available and available:  # a real implementation replaces a placeholder
                pass
            elif first.available and not available:
                return
            else:
                raise UsageError(
                    f"Duplicate {self.kind} name {name!r}: registered by {first.origin!r} and again by "
                    f"{plugin if version is None else f'{plugin} {version}'!r}.",
                    hint="Uninstall one of the two plugins, or disable one with PRUNEBENCH_DISABLE_PLUGINS.",
                )
        self._entries[name] = Entry(name, obj, plugin, version, available, reason)

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        entry = self._entries.get(name)
        if entry is None:
            available = ", ".join(sorted(self._entries)) or "(none)"
            from prunebench.plugins import filter_note

            note = filter_note()
            raise UsageError(
                f"Unknown {self.kind} {name!r}.{did_you_mean(name, self._entries)} "
                f"Available {self.kind}s: {available}." + (f" Note: {note}" if note else ""),
                hint="Run `prunebench plugins` to list every registered name and the plugin it comes from.",
            )
        if not entry.available:
            raise UsageError(f"The {self.kind} {name!r} is not available: {entry.reason}")
        return entry

    def names(self, pattern: str | None = None, *, include_unavailable: bool = False) -> list[str]:
        names = [n for n, e in self._entries.items() if include_unavailable or e.available]
        if pattern:
            names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        return sorted(names)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in sorted(self._entries)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries and self._entries[name].available

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
