"""The suite's speed stage: one per model and seed, timing the baseline and every pruned variant together.

:func:`speed_stage_inputs` is what the plan hashes (the speed settings, the variants' cell keys and the
keys of the stages whose weights they are: the stage reruns only when one of those models changes);
:func:`run_speed_stage` loads those weights and calls :func:`~prunebench.speed.measure.measure_speed`.
Its :class:`~prunebench.suite.stage.StageResult` keeps the rows of :mod:`prunebench.speed.measure`, each
with ``model`` (the spec's label) and ``seed`` added, as ``diagnostics["speed"]``; the notes (time caps
reached, runtimes that failed their check) as ``values["notes"]``. :func:`speed_rows` reads them back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prunebench.speed.config import SpeedConfig

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.suite.results import Results
    from prunebench.suite.stage import StageResult

__all__ = ["SPEED_KIND", "run_speed_stage", "speed_rows", "speed_stage_inputs"]

SPEED_KIND = "speed"


def speed_stage_inputs(config: SpeedConfig, baseline: str, variants: Mapping[str, str]) -> dict[str, Any]:
    """The hashed inputs of a speed stage: settings, the baseline's cell key, cell key -> weights stage key."""
    return {"speed": config.model_dump(mode="json"), "baseline": baseline, "variants": dict(variants)}


def run_speed_stage(ctx: Any) -> StageResult:
    """Load the baseline and its variants from their stages' weights and measure them (see module doc)."""
    from prunebench.speed.measure import measure_speed
    from prunebench.suite.stage import StageResult, resolve_path

    inputs = ctx.stage.inputs
    cfg = SpeedConfig.model_validate(inputs["speed"])
    family = ctx.family()
    models = {}
    for cell, dep in inputs["variants"].items():
        models[cell] = family.load(resolve_path(ctx.run_dir, ctx.deps[dep].path("weights")))
    in_channels = int(family.example_inputs(32).shape[1])
    t0 = time.perf_counter()
    measured = measure_speed(models, inputs["baseline"], cfg, device=ctx.device, workdir=ctx.out_dir,
                             in_channels=in_channels)
    ctx.compute_seconds += time.perf_counter() - t0
    label = ctx.stage.params.get("model_label") or inputs["model"]["name"]
    rows = [{"model": label, "seed": int(inputs["seed"]), **row} for row in measured.rows]
    return StageResult(kind=SPEED_KIND, values={"runtimes": list(cfg.runtimes), "notes": measured.notes},
                       diagnostics={"speed": rows})


def speed_rows(results: Results) -> list[dict[str, Any]]:
    """Every stored speed row of a run (one per model, seed, runtime and variant), in plan order."""
    rows: list[dict[str, Any]] = []
    for res in results.stages.values():
        if res.kind == SPEED_KIND:
            rows.extend(dict(r) for r in res.diagnostics.get("speed") or [])
    return rows
