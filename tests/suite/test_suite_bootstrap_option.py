"""``evaluate.bootstrap``: resamples and seed of the image bootstrap; only a non-default value changes keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from prunebench.plugins import get_catalogue
from prunebench.spec import Spec
from prunebench.suite.plan import Plan, build_plan


def _plan(spec_dict: Any, tmp_path: Path, bootstrap: dict[str, Any] | None) -> Plan:
    d = spec_dict(tmp_path / "run", tmp_path / "data")
    if bootstrap is not None:
        d["evaluate"] = {**(d.get("evaluate") or {}), "bootstrap": bootstrap}
    return build_plan(Spec.model_validate(d), get_catalogue(), threads=1)


def _evaluate_inputs(plan: Plan) -> list[dict[str, Any]]:
    return [s.inputs["eval"] for s in plan.stage_list() if s.kind == "evaluate"]


def test_the_default_bootstrap_keeps_the_keys_and_another_changes_only_evaluate(spec_dict: Any,
                                                                                tmp_path: Path) -> None:
    plain = _plan(spec_dict, tmp_path, None)
    explicit = _plan(spec_dict, tmp_path, {"resamples": 1000, "seed": 0})
    assert set(plain.stages) == set(explicit.stages)
    assert all("bootstrap" not in e for e in _evaluate_inputs(plain))
    more = _plan(spec_dict, tmp_path, {"resamples": 2000})
    changed = {plain.stages[k].kind for k in set(plain.stages) - set(more.stages)}
    assert changed == {"evaluate"}
    assert all(e["bootstrap"] == {"resamples": 2000, "seed": 0} for e in _evaluate_inputs(more))
    off = _plan(spec_dict, tmp_path, {"resamples": 0})
    assert all(e["bootstrap"]["resamples"] == 0 for e in _evaluate_inputs(off))


@pytest.mark.parametrize("bad", [{"resamples": 50}, {"resamples": -1}, {"resamples": 200_000}, {"seed": -3},
                                 {"draws": 10}])
def test_bad_bootstrap_settings_are_refused_by_field(spec_dict: Any, tmp_path: Path, bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        _plan(spec_dict, tmp_path, bad)
    assert "bootstrap" in str(info.value)
    assert next(iter(bad)) in str(info.value)
