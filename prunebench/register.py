"""The typed object a catalogue hook receives (``register_models(register)`` etc.): a plugin calls it.

It lives apart from the plugin manager so that the hook specifications can name its type without
importing the manager (``hookspecs`` <- ``register`` <- ``registry``; ``plugins`` imports all three).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from prunebench.errors import UsageError
from prunebench.registry import Registry

__all__ = ["Register"]

T = TypeVar("T")


class Register(Generic[T]):
    """``register(cls)`` adds one plugin class to the catalogue of one kind; duplicates are refused."""

    def __init__(self, registry: Registry[T], plugin: str, version: str | None, base: type | None) -> None:
        self._registry = registry
        self._plugin = plugin
        self._version = version
        self._base = base

    @property
    def kind(self) -> str:
        return self._registry.kind

    def __call__(self, cls: T, *, name: str | None = None) -> None:
        """Register ``cls`` under ``name`` (default: its ``name`` class attribute)."""
        if self._base is not None and not (isinstance(cls, type) and issubclass(cls, self._base)):
            raise UsageError(
                f"Plugin {self._plugin!r} registered {cls!r} as a {self.kind}, but a {self.kind} must be a "
                f"subclass of {self._base.__module__}.{self._base.__qualname__}."
            )
        name = name or getattr(cls, "name", "")
        self._registry.add(name, cls, plugin=self._plugin, version=self._version)

    def unavailable(self, name: str, reason: str) -> None:
        """List ``name`` as known but unusable here, with ``reason`` (e.g. the install command)."""
        self._registry.add(name, None, plugin=self._plugin, version=self._version, available=False,
                           reason=reason)  # type: ignore[arg-type]
