"""Registries: duplicates refused with both origins, unknown names answered with the closest match."""

from __future__ import annotations

import pytest

from prunebench.errors import UsageError
from prunebench.registry import Registry


def test_add_get_and_names() -> None:
    reg: Registry[int] = Registry("pruner")
    reg.add("l1", 1, plugin="core", version="0.1")
    reg.add("l2", 2, plugin="core")
    assert reg.get("l1") == 1
    assert reg.names() == ["l1", "l2"]
    assert reg.names("l*") == ["l1", "l2"]
    assert "l1" in reg
    assert len(reg) == 2


def test_duplicate_names_both_origins() -> None:
    reg: Registry[int] = Registry("pruner")
    reg.add("l1", 1, plugin="prunebench.default_plugins.pruners", version="0.1.0")
    with pytest.raises(UsageError) as exc:
        reg.add("l1", 2, plugin="acme-pruners", version="2.0")
    msg = str(exc.value)
    assert "Duplicate pruner name 'l1'" in msg
    assert "prunebench.default_plugins.pruners 0.1.0" in msg
    assert "acme-pruners 2.0" in msg


def test_unknown_name_suggests_and_lists() -> None:
    reg: Registry[int] = Registry("model")
    for n in ("yolov5n", "yolov5s", "yolov5m"):
        reg.add(n, 0, plugin="core")
    with pytest.raises(UsageError) as exc:
        reg.get("yolov5x")
    msg = str(exc.value)
    assert "Unknown model 'yolov5x'" in msg
    assert "Did you mean 'yolov5" in msg
    assert "yolov5m, yolov5n, yolov5s" in msg


def test_unavailable_entry_explains_and_real_one_replaces_it() -> None:
    reg: Registry[object] = Registry("pruner")
    reg.add("nni-l1", None, plugin="prunebench_nni", available=False, reason="pip install nni==3.0")
    assert "nni-l1" not in reg
    assert reg.names(include_unavailable=True) == ["nni-l1"]
    with pytest.raises(UsageError, match="not available: pip install nni==3.0"):
        reg.get("nni-l1")
    reg.add("nni-l1", 1, plugin="other")
    assert reg.get("nni-l1") == 1


@pytest.mark.parametrize("bad", ["", " l1", 3])
def test_invalid_names_refused(bad: object) -> None:
    reg: Registry[int] = Registry("metric")
    with pytest.raises(UsageError, match="invalid name"):
        reg.add(bad, 1, plugin="x")  # type: ignore[arg-type]
