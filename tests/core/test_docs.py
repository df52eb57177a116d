"""Docs stay complete: every spec field and every CLI command has a place in docs/."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunebench.cli import COMMANDS
from prunebench.engine.config import EvalConfig, TrainConfig
from prunebench.spec import ModelEntry, PrunerEntry, Spec

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("model", [Spec, ModelEntry, PrunerEntry, TrainConfig, EvalConfig])
def test_every_spec_field_is_documented(model: type) -> None:
    text = (DOCS / "spec.md").read_text(encoding="utf-8")
    for field in model.model_fields:
        assert f"`{field}`" in text, f"docs/spec.md does not document {model.__name__}.{field}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_documented(command: str) -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert f"## `prunebench {command}" in text, f"docs/cli.md has no section for prunebench {command}"
