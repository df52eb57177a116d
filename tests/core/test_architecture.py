"""The core knows no bundled plugin: it neither imports one's module nor branches on one's name.

The suite, the spec, the training engine, the reports and the plugin machinery reach bundled plugins
only through the catalogue, like any third-party plugin (``prunebench.defaults`` names the spec's
defaults; ``prunebench.plugins.DEFAULT_PLUGINS`` lists the bundled modules). This test reads the
sources (imports, string constants, names) and fails on any use of a bundled plugin's module or name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "prunebench"

#: Modules that are (or belong to) bundled plugins.
BUNDLED_MODULES = (
    "prunebench.default_plugins",
    "prunebench.models.yolov5",
    "prunebench.models.yolov8",
    "prunebench.pruning.bnscale",
    "prunebench.pruning.pruners",
    "prunebench_nni",
)

#: Names of bundled plugins (and their helpers) the core must not spell out.
BUNDLED_NAMES = frozenset({
    "yolo", "tea-bud-synth",  # datasets
    "yolov5", "yolov5n", "yolov5s", "yolov5m", "yolov8", "yolov8n", "yolov8s", "yolov8m",  # model families
    "bn-scale", "bn_gammas", "l1", "l2", "lamp", "fpgm", "taylor",  # pruners and their helpers
    "nni-l1", "nni-l2", "nni-fpgm", "nni-slim", "nni-taylor",
})

#: The core: every module here is checked.
CORE = sorted([
    *(PACKAGE / "suite").rglob("*.py"),
    *(PACKAGE / "engine").rglob("*.py"),
    *(PACKAGE / "report").rglob("*.py"),
    PACKAGE / "spec.py",
    PACKAGE / "hookspecs.py",
    PACKAGE / "contracts.py",
    PACKAGE / "registry.py",
    PACKAGE / "register.py",
    PACKAGE / "plugins.py",
])

#: Known violations still to remove: (path relative to prunebench/, what) -> who removes it. Keep it short.
ALLOWED: dict[tuple[str, str], str] = {}


def _is_bundled_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in BUNDLED_MODULES)


def violations(source: str, *, plugin_list_ok: bool = False) -> list[str]:
    """Every use of a bundled plugin's module or name in ``source``, as ``line: what``.

    ``plugin_list_ok`` lets string constants name bundled *modules* (``plugins.DEFAULT_PLUGINS``).
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _is_bundled_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                if _is_bundled_module(node.module) or _is_bundled_module(f"{node.module}.{a.name}"):
                    found.append(f"{node.lineno}: from {node.module} import {a.name}")
                elif a.name in BUNDLED_NAMES:
                    found.append(f"{node.lineno}: imports the name {a.name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in BUNDLED_NAMES:
                found.append(f"{node.lineno}: the string {node.value!r}")
            elif _is_bundled_module(node.value) and not plugin_list_ok:
                found.append(f"{node.lineno}: the module name {node.value!r}")
        elif isinstance(node, ast.Name) and node.id in BUNDLED_NAMES:
            found.append(f"{node.lineno}: the name {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in BUNDLED_NAMES:
            found.append(f"{node.lineno}: the attribute .{node.attr}")
    return found


@pytest.mark.parametrize("path", CORE, ids=[str(p.relative_to(PACKAGE)) for p in CORE])
def test_the_core_knows_no_bundled_plugin(path: Path) -> None:
    rel = str(path.relative_to(PACKAGE))
    found = violations(path.read_text(encoding="utf-8"), plugin_list_ok=rel == "plugins.py")
    left = [f for f in found if (rel, f.split(": ", 1)[1]) not in ALLOWED]
    assert not left, f"prunebench/{rel} uses bundled plugins by name: " + "; ".join(left)


def test_the_scan_sees_every_kind_of_use() -> None:
    source = '''
import prunebench.default_plugins.datasets
from prunebench.pruning.bnscale import bn_gammas
from prunebench.pruning import bnscale
from prunebench.models.yolov5.family import YOLOv5n
import importlib
importlib.import_module("prunebench.default_plugins.metrics")
if name == "bn-scale" or dataset.name == "yolo":
    pass
gammas = pruning.bn_gammas(model)
families = {"yolov5": 1}
'''
    found = violations(source)
    assert sorted(int(f.split(":")[0]) for f in found) == [2, 3, 4, 5, 7, 8, 8, 10, 11], found
    assert violations("x = 'yolov5 and friends'\nname = 'local'\n") == []  # prose and other names are fine


def test_the_allow_list_names_only_real_violations() -> None:
    for (rel, what), owner in ALLOWED.items():
        found = violations((PACKAGE / rel).read_text(encoding="utf-8"))
        assert any(f.split(": ", 1)[1] == what for f in found), f"stale allow-list entry {rel}: {what} ({owner})"
