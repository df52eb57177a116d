"""Pruner diagnostics: a generic channel from any pruner to the store and the reporters (bn-scale's γ is one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import prunebench as pb

pytestmark = pytest.mark.slow

DIAGNOSING_PLUGIN = '''
"""A temporary pruner plugin: L1 pruning that reports diagnostics of its own from both channels."""
import numpy as np

from prunebench.pruning.pruners import L1Pruner
from prunebench.hookspecs import hookimpl


class Diagnosing(L1Pruner):
    name = "diagnosing"
    description = "L1 with diagnostics (tests)"
    needs_sparsity_training = True

    def sparsity_epochs(self):
        return 1

    def diagnostics(self, model, family):
        return {"conv_count": sum(1 for m in model.modules() if type(m).__name__ == "Conv2d")}

    def prune(self, model, level, context):
        result = super().prune(model, level, context)
        result.diagnostics = {"kept_fraction": np.float64(1.0 - level), "table": [{"layer": "x", "kept": 3}]}
        return result


@hookimpl
def register_pruners(register):
    register(Diagnosing)
'''


def test_bn_scale_and_a_third_party_pruner_store_diagnostics(plugin_dir: Path, write_spec: Any) -> None:
    (plugin_dir / "diagnosing_plugin.py").write_text(DIAGNOSING_PLUGIN, encoding="utf-8")
    spec = write_spec(plugins=["diagnosing_plugin"], baseline=False,
                      pruners=[{"name": "bn-scale", "levels": [0.5], "options": {"sparsity_epochs": 1}},
                               {"name": "diagnosing", "levels": [0.5]}])
    res = pb.run(spec, progress=False)
    assert all(c.status == "done" for c in res.cells), [(c.key, c.error) for c in res.cells]
    bn, custom = res.cells
    gamma = bn.diagnostics["bn_gamma"]
    assert len(gamma["before"]) == len(gamma["after"]) > 0
    assert gamma["before"] != gamma["after"]  # sparsity training moved them
    assert custom.diagnostics["conv_count"]["before"] == custom.diagnostics["conv_count"]["after"] > 0
    assert custom.diagnostics["kept_fraction"] == pytest.approx(0.5)
    assert custom.diagnostics["table"] == [{"layer": "x", "kept": 3}]
    assert "bn_gamma" not in custom.diagnostics
    sparsity = res.stages[bn.stage_keys["sparsity"]]
    assert sparsity.kind == "sparsity"
    assert "bn_gamma" in sparsity.diagnostics
