"""``import prunebench as pb``: one public surface, an honest ``__all__``, and a light import."""

from __future__ import annotations

import subprocess
import sys

import prunebench as pb


def test_all_names_resolve() -> None:
    for name in pb.__all__:
        assert getattr(pb, name) is not None, name


def test_all_is_sorted_and_unique() -> None:
    tail = pb.__all__[2:]
    assert tail == sorted(tail)
    assert len(set(pb.__all__)) == len(pb.__all__)


def test_public_functions_are_documented() -> None:
    for name in pb.__all__:
        obj = getattr(pb, name)
        if callable(obj) and not isinstance(obj, type) and name != "hookimpl":
            assert obj.__doc__, f"pb.{name} has no docstring"


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        pb.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_is_light() -> None:
    code = ("import sys, time; t = time.perf_counter(); import prunebench; dt = time.perf_counter() - t; "
            "heavy = [m for m in ('torch', 'torch_pruning', 'nni', 'ray', 'matplotlib') if m in sys.modules]; "
            "print(dt, heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert out[1].strip() == "[]", out
    assert float(out[0]) < 1.0
