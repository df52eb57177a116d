"""prunebench-nni as a plugin: entry-point discovery, the unavailable path, and quiet lazy imports of NNI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from prunebench import plugins
from prunebench.errors import UsageError

pytest.importorskip("prunebench_nni", reason="the prunebench-nni plugin is not installed")
from prunebench_nni import PRUNER_NAMES, __version__
from prunebench_nni._nni import INSTALL_HINT, nni_status

pytestmark = pytest.mark.nni
needs_nni = pytest.mark.skipif(nni_status() is not None, reason=str(nni_status()))


@pytest.fixture
def fresh() -> Iterator[None]:
    plugins.reset()
    try:
        yield
    finally:
        plugins.reset()


@needs_nni
def test_entry_point_is_discovered(fresh: None) -> None:
    cat = plugins.build_catalogue()
    assert set(PRUNER_NAMES) <= set(cat.pruners.names())
    assert cat.origins["nni"] == ("entry point", __version__)
    entry = cat.pruners.entry("nni-slim")
    assert entry.plugin == "nni"
    assert entry.obj.name == "nni-slim"


def test_disabled_entry_point_removes_the_names(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRUNEBENCH_DISABLE_PLUGINS", "nni")
    cat = plugins.build_catalogue()
    assert not set(PRUNER_NAMES) & set(cat.pruners.names(include_unavailable=True))


def test_without_nni_the_names_are_listed_as_unavailable(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nni", None)  # what an uninstalled package looks like to import
    assert nni_status() is not None
    cat = plugins.build_catalogue()
    names = cat.pruners.names(include_unavailable=True)
    for name in PRUNER_NAMES:
        assert name in names
        assert name not in cat.pruners  # listed, not usable
        entry = cat.pruners._entries[name]
        assert not entry.available
        assert "pip install nni==3.0" in (entry.reason or "")
    with pytest.raises(UsageError, match=r"not available.*pip install nni==3\.0"):
        cat.pruners.get("nni-l1")


def test_a_wrong_nni_version_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from prunebench_nni import _nni

    monkeypatch.setattr(_nni.metadata, "version", lambda name: "2.10")
    reason = nni_status()
    assert reason is not None
    assert "nni 2.10" in reason
    assert INSTALL_HINT in reason


@needs_nni
def test_plugin_import_is_light_and_nni_import_is_quiet() -> None:
    code = (
        "import sys, warnings\n"
        "import prunebench_nni\n"
        "assert 'nni' not in sys.modules, 'nni imported at plugin import'\n"
        "assert 'torch' not in sys.modules, 'torch imported at plugin import'\n"
        "from prunebench import plugins\n"
        "cat = plugins.build_catalogue()\n"
        "assert 'nni' not in sys.modules, 'nni imported at registration'\n"
        "n = len(warnings.filters)\n"
        "from prunebench_nni._nni import import_pruning\n"
        "mod = import_pruning()\n"
        "assert hasattr(mod, 'L1NormPruner')\n"
        "assert len(warnings.filters) == n, 'NNI changed the warning filters'\n"
        "import logging\n"
        "assert logging.getLogger('nni').getEffectiveLevel() >= logging.WARNING\n"
    )
    proc = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ""
