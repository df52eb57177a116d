"""The plugin manager: defaults through the same hooks, spec modules, check_pending, env switches."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from prunebench import plugins
from prunebench.errors import UsageError

PRUNER_PLUGIN = '''
from prunebench import hookimpl
from prunebench.contracts import Pruner, PruneResult

class Keep(Pruner):
    name = "{name}"
    description = "a test pruner"

    def prune(self, model, level, context):
        raise RuntimeError("not used")

@hookimpl
def register_pruners(register):
    register(Keep)
'''


def test_default_plugins_register_through_hooks(fresh_catalogue: None) -> None:
    cat = plugins.get_catalogue()
    for module in plugins.DEFAULT_PLUGINS:
        assert cat.pm.has_plugin(module), module
        assert cat.origins[module][0] == "bundled"


def test_catalogue_is_built_once_and_reset(fresh_catalogue: None) -> None:
    first = plugins.get_catalogue()
    assert plugins.get_catalogue() is first
    plugins.reset()
    assert plugins.get_catalogue() is not first


def test_spec_plugin_module_registers_a_pruner(plugin_dir: Path) -> None:
    (plugin_dir / "tmp_pruner_plugin.py").write_text(PRUNER_PLUGIN.format(name="keep-all"))
    cat = plugins.get_catalogue(["tmp_pruner_plugin"])
    assert "keep-all" in cat.pruners
    entry = cat.pruners.entry("keep-all")
    assert entry.plugin == "tmp_pruner_plugin"
    assert cat.origins["tmp_pruner_plugin"][0] == "spec"


def test_duplicate_pruner_from_two_plugins_names_both(plugin_dir: Path) -> None:
    (plugin_dir / "tmp_dup_a.py").write_text(PRUNER_PLUGIN.format(name="same"))
    (plugin_dir / "tmp_dup_b.py").write_text(PRUNER_PLUGIN.format(name="same"))
    with pytest.raises(UsageError) as exc:
        plugins.build_catalogue(["tmp_dup_a", "tmp_dup_b"], entry_points=False)
    assert "tmp_dup_a" in str(exc.value)
    assert "tmp_dup_b" in str(exc.value)


def test_misspelt_hook_fails_at_start(plugin_dir: Path) -> None:
    (plugin_dir / "tmp_typo_plugin.py").write_text(textwrap.dedent('''
        from prunebench import hookimpl

        @hookimpl
        def register_prunrs(register):
            pass
    '''))
    with pytest.raises(UsageError) as exc:
        plugins.build_catalogue(["tmp_typo_plugin"], entry_points=False)
    assert "register_prunrs" in str(exc.value)
    assert "register_pruners" in str(exc.value)  # the hint lists the real hook names


def test_registering_a_non_pruner_is_refused(plugin_dir: Path) -> None:
    (plugin_dir / "tmp_bad_kind.py").write_text(textwrap.dedent('''
        from prunebench import hookimpl

        class NotAPruner:
            name = "nope"

        @hookimpl
        def register_pruners(register):
            register(NotAPruner)
    '''))
    with pytest.raises(UsageError, match="must be a subclass of prunebench.contracts.Pruner"):
        plugins.build_catalogue(["tmp_bad_kind"], entry_points=False)


def test_missing_spec_module_is_a_clear_error(fresh_catalogue: None) -> None:
    with pytest.raises(UsageError, match="no module named 'no_such_plugin_module'"):
        plugins.build_catalogue(["no_such_plugin_module"], entry_points=False)


def test_plugin_that_fails_to_import_is_named(plugin_dir: Path) -> None:
    (plugin_dir / "tmp_broken_plugin.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UsageError, match="tmp_broken_plugin.*RuntimeError: boom"):
        plugins.build_catalogue(["tmp_broken_plugin"], entry_points=False)


class _FakeEP:
    def __init__(self, name: str, obj: object) -> None:
        self.name, self.value, self._obj = name, f"{name}_module", obj
        self.dist = type("D", (), {"name": f"{name}-dist", "version": "9.9"})()

    def load(self) -> object:
        return self._obj


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch, plugin_dir: Path) -> list[str]:
    import importlib

    names = ["ep_alpha", "ep_beta"]
    for n in names:
        (plugin_dir / f"{n}_module.py").write_text(PRUNER_PLUGIN.format(name=n.replace("_", "-")))
    eps = [_FakeEP(n, importlib.import_module(f"{n}_module")) for n in names]
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: eps if group == "prunebench" else [])
    return names


def test_entry_points_loaded_with_version(fake_entry_points: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRUNEBENCH_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("PRUNEBENCH_PLUGINS", raising=False)
    cat = plugins.build_catalogue()
    assert {"ep-alpha", "ep-beta"} <= set(cat.pruners.names())
    assert cat.origins["ep_alpha"] == ("entry point", "9.9")
    assert cat.pruners.entry("ep-alpha").version == "9.9"


@pytest.mark.parametrize(("var", "value", "expected"), [
    ("PRUNEBENCH_DISABLE_PLUGINS", "1", set()),
    ("PRUNEBENCH_DISABLE_PLUGINS", "ep_alpha", {"ep-beta"}),
    ("PRUNEBENCH_PLUGINS", "ep_alpha", {"ep-alpha"}),
    ("PRUNEBENCH_PLUGINS", "", {"ep-alpha", "ep-beta"}),
])
def test_environment_switches(fake_entry_points: list[str], monkeypatch: pytest.MonkeyPatch,
                              var: str, value: str, expected: set[str]) -> None:
    monkeypatch.delenv("PRUNEBENCH_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("PRUNEBENCH_PLUGINS", raising=False)
    monkeypatch.setenv(var, value)
    cat = plugins.build_catalogue()
    assert {n for n in cat.pruners.names() if n.startswith("ep-")} == expected


def test_entry_point_that_fails_to_load_says_how_to_disable(monkeypatch: pytest.MonkeyPatch,
                                                            fresh_catalogue: None) -> None:
    class Broken(_FakeEP):
        def load(self) -> object:
            raise ImportError("missing dependency")

    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: [Broken("ep_broken", None)])
    with pytest.raises(UsageError) as exc:
        plugins.build_catalogue()
    assert "ep_broken" in str(exc.value)
    assert "PRUNEBENCH_DISABLE_PLUGINS=ep_broken" in str(exc.value)
