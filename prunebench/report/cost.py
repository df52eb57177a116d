"""The compute each cell cost: images seen, epochs and seconds of training, sparsity training and fine-tuning.

Methods are compared at an equal budget only when the budget is visible: every result row states it.
The baseline's training is shared by every cell of its model and seed and is counted in each of them.
"""

from __future__ import annotations

from typing import Any

from prunebench.suite.results import CellResult, Results

__all__ = ["COST_COLUMNS", "COST_STAGES", "cell_cost", "cost_text"]

#: the training stages whose cost a row states
COST_STAGES: tuple[str, ...] = ("train", "sparsity", "finetune")
#: results.csv / results.json cost fields, in order
COST_COLUMNS: tuple[str, ...] = tuple(f"{s}_{f}" for s in COST_STAGES for f in ("epochs", "images", "seconds"))


def cell_cost(results: Results, cell: CellResult) -> dict[str, float | None]:
    """``{train,sparsity,finetune}_{epochs,images,seconds}`` of the cell's stages (None: not run or unknown)."""
    out: dict[str, float | None] = dict.fromkeys(COST_COLUMNS)
    for kind in COST_STAGES:
        key = cell.stage_keys.get(kind)
        res = results.stages.get(key) if key else None
        if res is None:
            continue
        values: dict[str, Any] = res.values or {}
        epochs = values.get("epochs_run", len(res.history) if res.history else None)
        out[f"{kind}_epochs"] = None if epochs is None else float(epochs)
        out[f"{kind}_images"] = None if values.get("images_seen") is None else float(values["images_seen"])
        seconds = values.get("train_seconds", res.compute_seconds)
        out[f"{kind}_seconds"] = None if seconds is None else float(seconds)
    return out


def cost_text(cost: dict[str, float | None]) -> str:
    """``"train 30 ep / 7,680 img / 116 s; finetune 3 ep / 768 img / 9 s"`` (stages that ran)."""
    parts = []
    for kind in COST_STAGES:
        ep = cost.get(f"{kind}_epochs")
        if not ep:
            continue
        img, sec = cost.get(f"{kind}_images"), cost.get(f"{kind}_seconds")
        bits = [f"{ep:g} ep"]
        if img is not None:
            bits.append(f"{img:,.0f} img")
        if sec is not None:
            bits.append(f"{sec:.0f} s")
        parts.append(f"{kind} " + " / ".join(bits))
    return "; ".join(parts) if parts else "no training"
