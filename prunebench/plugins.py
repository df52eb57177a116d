"""The plugin manager: bundled plugins, entry points and spec-named modules, all through the same hooks.

Loading order: entry points of group ``prunebench`` (third-party), then :data:`DEFAULT_PLUGINS`, then the
modules named in a spec's ``plugins:`` list; then ``check_pending()`` so that a misspelt hook
implementation fails at start. Nothing is loaded at ``import prunebench``; the first call to
:func:`get_catalogue` does it.

Environment variables:

``PRUNEBENCH_DISABLE_PLUGINS``
    ``1``/``all`` disables every third-party entry point; a comma-separated list disables those names.
``PRUNEBENCH_PLUGINS``
    A comma-separated allow-list: only these third-party entry points are loaded.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from prunebench import hookspecs
from prunebench._version import __version__
from prunebench.defaults import PLUGIN_KINDS
from prunebench.errors import UsageError
from prunebench.register import Register
from prunebench.registry import Registry

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "Catalogue",
    "Register",
    "get_catalogue",
    "get_plugin_manager",
    "reset",
]

ENTRY_POINT_GROUP = "prunebench"

#: The bundled plugins, registered through the same hooks as third-party ones.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "prunebench.default_plugins.yolov5",
    "prunebench.default_plugins.yolov8",
    "prunebench.default_plugins.pruners",
    "prunebench.default_plugins.metrics",
    "prunebench.default_plugins.datasets",
    "prunebench.default_plugins.executors",
    "prunebench.default_plugins.reporters",
    "prunebench.default_plugins.eventlog",
)

KINDS = PLUGIN_KINDS  #: the plugin kinds (defined in prunebench.defaults)


@dataclass
class Catalogue:
    """Every registered plugin object, by kind."""

    pm: pluggy.PluginManager
    models: Registry[Any] = field(default_factory=lambda: Registry("model"))
    pruners: Registry[Any] = field(default_factory=lambda: Registry("pruner"))
    metrics: Registry[Any] = field(default_factory=lambda: Registry("metric"))
    datasets: Registry[Any] = field(default_factory=lambda: Registry("dataset"))
    executors: Registry[Any] = field(default_factory=lambda: Registry("executor"))
    reporters: Registry[Any] = field(default_factory=lambda: Registry("reporter"))
    origins: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # plugin -> (source, version)

    def registry(self, kind: str) -> Registry[Any]:
        return getattr(self, kind + "s")

    @property
    def hook(self) -> Any:
        return self.pm.hook


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


_WARNED: set[str] = set()


def _warn(message: str) -> None:
    """Print a warning to stderr once per process."""
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"warning: {message}", file=sys.stderr)


def filter_note() -> str | None:
    """What the plugin environment variables keep out (for "unknown name" messages), or None."""
    eps = sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})
    kept = {ep.name for ep in _third_party_entry_points(warn=False)}
    left_out = [n for n in eps if n not in kept]
    if not left_out:
        return None
    env = ", ".join(f"{v}={os.environ[v]!r}" for v in ("PRUNEBENCH_PLUGINS", "PRUNEBENCH_DISABLE_PLUGINS")
                    if os.environ.get(v, "").strip())
    return f"{env} keeps these installed plugins out: {', '.join(left_out)}."


def _third_party_entry_points(*, warn: bool = True) -> list[metadata.EntryPoint]:
    eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    disabled = _env_list("PRUNEBENCH_DISABLE_PLUGINS")
    allowed = _env_list("PRUNEBENCH_PLUGINS")
    names = {ep.name for ep in eps}
    for var, listed in (("PRUNEBENCH_DISABLE_PLUGINS", disabled), ("PRUNEBENCH_PLUGINS", allowed)):
        unknown = sorted((listed or set()) - names - ({"1", "all", "*", "true"} if var.endswith("DISABLE_PLUGINS")
                                                       else set()))
        if warn and unknown:
            _warn(f"{var} names {', '.join(map(repr, unknown))}, but no installed plugin has that name "
                  f"(installed: {', '.join(sorted(names)) or 'none'}).")
    if disabled and disabled & {"1", "all", "*", "true"}:
        return []
    if disabled:
        eps = [ep for ep in eps if ep.name not in disabled]
    if allowed is not None:
        eps = [ep for ep in eps if ep.name in allowed]
    return eps


def _import(module: str, why: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise UsageError(f"Cannot import plugin module {module!r} ({why}): no module named {exc.name!r}.",
                             hint="Check the name, or install the package that provides it.") from exc
        raise UsageError(f"Plugin module {module!r} ({why}) failed to import: {exc}.") from exc
    except Exception as exc:
        raise UsageError(f"Plugin module {module!r} ({why}) failed to import: "
                         f"{type(exc).__name__}: {exc}") from exc


def get_plugin_manager(extra_modules: Iterable[str | ModuleType] = (), *, entry_points: bool = True,
                       defaults: bool = True) -> tuple[pluggy.PluginManager, dict[str, tuple[str, str | None]]]:
    """Build a fresh plugin manager; return it and each plugin's (source, version)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    origins: dict[str, tuple[str, str | None]] = {}
    if entry_points:
        for ep in _third_party_entry_points():
            if pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise UsageError(
                    f"The plugin {ep.name!r} (entry point {ep.value!r} of distribution "
                    f"{getattr(ep.dist, 'name', '?')!r}) failed to load: {type(exc).__name__}: {exc}",
                    hint="Disable it with PRUNEBENCH_DISABLE_PLUGINS=" + ep.name,
                ) from exc
            pm.register(plugin, name=ep.name)
            dist = ep.dist
            origins[ep.name] = ("entry point", dist.version if dist is not None else None)
    if defaults:
        for module in DEFAULT_PLUGINS:
            plugin = _import(module, "a bundled plugin")
            pm.register(plugin, name=module)
            origins[module] = ("bundled", __version__)
    for item in extra_modules:
        if isinstance(item, ModuleType):
            plugin, name = item, item.__name__
        else:
            plugin, name = _import(item, "named in the spec's plugins list"), item
        if pm.has_plugin(name) or pm.is_registered(plugin):
            continue
        pm.register(plugin, name=name)
        version = getattr(plugin, "__version__", None)
        origins[name] = ("spec", version)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise UsageError(f"A plugin implements a hook that does not exist: {exc}",
                         hint="Hook names: " + ", ".join(sorted(_hook_names()))) from exc
    return pm, origins


def _hook_names() -> list[str]:
    return [n for n in dir(hookspecs) if not n.startswith("_") and callable(getattr(hookspecs, n))
            and hasattr(getattr(hookspecs, n), "prunebench_spec")]


def _base_classes() -> dict[str, type]:
    from prunebench import contracts

    return {"model": contracts.ModelFamily, "pruner": contracts.Pruner, "metric": contracts.Metric,
            "dataset": contracts.DatasetProvider, "executor": contracts.Executor,
            "reporter": contracts.Reporter}


def build_catalogue(extra_modules: Iterable[str | ModuleType] = (), *, entry_points: bool = True,
                    defaults: bool = True) -> Catalogue:
    """Build a plugin manager and fill every registry by calling the catalogue hooks."""
    pm, origins = get_plugin_manager(extra_modules, entry_points=entry_points, defaults=defaults)
    cat = Catalogue(pm=pm, origins=origins)
    bases = _base_classes()
    for kind in KINDS:
        registry = cat.registry(kind)
        hook: Callable[..., Any] = getattr(pm.hook, f"register_{kind}s")
        for impl in hook.get_hookimpls():  # registration order: entry points, defaults, spec
            name = pm.get_name(impl.plugin) or repr(impl.plugin)
            version = origins.get(name, (None, None))[1]
            impl.function(register=Register(registry, name, version, bases[kind]))
    return cat


_CATALOGUE: Catalogue | None = None
_CATALOGUE_EXTRA: tuple[str, ...] = ()


def get_catalogue(extra_modules: Iterable[str] = ()) -> Catalogue:
    """The process-wide catalogue, built on first use (and rebuilt when new spec plugins are named)."""
    global _CATALOGUE, _CATALOGUE_EXTRA
    extra = tuple(dict.fromkeys(str(m) for m in extra_modules))
    if _CATALOGUE is None or not set(extra) <= set(_CATALOGUE_EXTRA):
        extra = tuple(dict.fromkeys(_CATALOGUE_EXTRA + extra))
        _CATALOGUE = build_catalogue(extra)
        _CATALOGUE_EXTRA = extra
    return _CATALOGUE


def reset() -> None:
    """Forget the process-wide catalogue (tests use this after registering temporary plugins)."""
    global _CATALOGUE, _CATALOGUE_EXTRA
    _CATALOGUE, _CATALOGUE_EXTRA = None, ()
