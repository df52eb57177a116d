"""Acceptance: the tutorial's plugin package is pip-installed, listed, validated and run, unchanged prunebench."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "writing-plugins.md"
BLOCK = re.compile(r"^```\w+ file=(\S+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def tutorial_files() -> dict[str, str]:
    return dict(BLOCK.findall(TUTORIAL.read_text(encoding="utf-8")))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRUNEBENCH_")}
    env["MPLBACKEND"] = "Agg"
    return env


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prunebench", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=900, check=False)


def test_tutorial_has_every_file() -> None:
    assert set(tutorial_files()) == {"pyproject.toml", "acme_pruners/__init__.py", "spec.yaml"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("tutorial")
    pkg = work / "acme-pruners"
    for name, body in tutorial_files().items():
        target = (work if name == "spec.yaml" else pkg) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", str(pkg)],
                   check=True, capture_output=True, text=True, timeout=600)
    try:
        yield work
    finally:
        subprocess.run([*pip, "uninstall", "-y", "acme-pruners"], check=False, capture_output=True, timeout=600)


@pytest.mark.slow
def test_installed_plugin_is_listed(installed: Path) -> None:
    out = _cli("plugins", "--json", cwd=installed)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    row = next(p for p in data["pruners"] if p["name"] == "max-abs")
    assert row["plugin"] == "acme"
    assert row["version"] == "0.1.0"
    assert {"name": "acme", "source": "entry point", "version": "0.1.0"} in data["plugins"]


@pytest.mark.slow
def test_installed_plugin_can_be_disabled(installed: Path) -> None:
    env = {**_env(), "PRUNEBENCH_DISABLE_PLUGINS": "acme"}
    out = subprocess.run([sys.executable, "-m", "prunebench", "plugins", "--json"], cwd=installed, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert "max-abs" not in {p["name"] for p in json.loads(out.stdout)["pruners"]}


@pytest.mark.slow
def test_spec_naming_the_plugin_validates_and_runs(installed: Path) -> None:
    out = _cli("validate", "spec.yaml", cwd=installed)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "max-abs" in out.stdout
    bad = installed / "bad.yaml"
    bad.write_text((installed / "spec.yaml").read_text().replace("note: tutorial", "nots: tutorial"))
    out = _cli("validate", "bad.yaml", cwd=installed)
    assert out.returncode == 2
    assert "pruners.0.options.nots" in out.stderr
    out = _cli("run", "spec.yaml", "--out", "run", "--no-progress", cwd=installed)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    results = json.loads((installed / "run" / "results.json").read_text())
    cells = {(c["pruner"], c["level"]): c for c in results["cells"]}
    mine = cells[("max-abs", 0.5)]
    assert mine["status"] == "done"
    assert mine["metrics"]["params"] < cells[(None, 0)]["metrics"]["params"]
    assert cells[("l1", 0.5)]["status"] == "done"


@pytest.mark.slow
def test_tutorial_python_snippet_runs(installed: Path) -> None:
    text = TUTORIAL.read_text(encoding="utf-8")
    snippet = text.split("## Testing your plugin", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    out = subprocess.run([sys.executable, "-c", snippet], cwd=installed, env=_env(), capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
