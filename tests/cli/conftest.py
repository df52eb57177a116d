"""Fixtures of the CLI tests: a tiny valid spec (tiny YOLOv5n, 8+4 synthetic 64 px images, 1 epoch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from prunebench.testing_tiny import tiny_spec


@pytest.fixture(scope="session")
def cli_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tiny synthetic dataset is generated (once per session, on first use)."""
    return tmp_path_factory.mktemp("cli-tea-bud")


@pytest.fixture
def write_spec(tmp_path: Path, cli_data_dir: Path) -> Callable[..., Path]:
    """``write_spec(name="spec.yaml", out=tmp_path/"run", **overrides) -> path`` of a tiny valid spec."""

    def write(name: str = "spec.yaml", out: Path | None = None, **overrides: Any) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(tiny_spec(out or tmp_path / "run", cli_data_dir, **overrides),
                                       sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def spec_factory() -> Callable[..., dict[str, Any]]:
    """``spec_factory(out, data_dir, **overrides)``: the tiny valid spec as a mapping."""
    return tiny_spec


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, spec_factory: Callable[..., dict[str, Any]]) -> Path:
    """A folder with ``spec.yaml`` (the tiny spec) and its finished run folder ``run/``, run once per session;
    tests read it or copy it, never change it."""
    import prunebench as pb

    root = tmp_path_factory.mktemp("cli-finished")
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_factory(root / "run", root / "data")), encoding="utf-8")
    pb.run(spec, progress=False)
    return root


@pytest.fixture
def assert_refused(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str], list[str]], str]:
    """``assert_refused(argv, needles)``: the command exits 2 without a traceback, and its output (whitespace
    normalised: rich wraps lines) holds every needle; returns that text."""
    from prunebench.cli import main

    def check(argv: list[str], needles: list[str]) -> str:
        code = main(argv)
        out = capsys.readouterr()
        text = " ".join((out.out + out.err).split())
        assert code == 2, text
        assert "Traceback" not in text
        for needle in needles:
            assert needle in text, f"{needle!r} not in {text!r}"
        return text

    return check
