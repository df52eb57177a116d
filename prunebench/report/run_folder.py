"""Open a run folder's stored results and find a cell, its model family and its weights (with clear errors)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.errors import UsageError, did_you_mean
from prunebench.suite.results import CellResult, Results

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import ModelFamily

__all__ = ["cell_weights", "family_name", "family_options", "find_cell", "load_cell_model", "model_family",
           "open_run"]


def open_run(run_dir: str | Path) -> Results:
    """The stored results of ``run_dir`` (UsageError when the folder or its results store is missing)."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UsageError(f"Run folder {str(path)!r} does not exist.",
                         hint="Give the folder `prunebench run` wrote (the spec's `output:`, default runs/<name>).")
    return Results.load(path)


def find_cell(results: Results, key: str) -> CellResult:
    """The cell ``key`` (UsageError listing the keys and the closest one when unknown)."""
    for c in results.cells:
        if c.key == key:
            return c
    keys = [c.key for c in results.cells]
    shown = ", ".join(keys[:30]) + (f", ... ({len(keys) - 30} more)" if len(keys) > 30 else "")
    raise UsageError(f"The run {str(results.run_dir)!r} has no cell {key!r}.{did_you_mean(key, keys)} "
                     f"Cells: {shown or '(none)'}.",
                     hint="Cell keys look like <model>/<pruner>/<level>/s<seed> or <model>/baseline/s<seed>.")


def family_name(results: Results, model: str) -> str:
    """The registered model name of the spec's model labelled ``model`` (the label itself if not found)."""
    for entry in (results.spec or {}).get("models") or []:
        if isinstance(entry, str):
            if entry == model:
                return entry
        elif isinstance(entry, dict) and (entry.get("label") or entry.get("name")) == model:
            return str(entry.get("name") or model)
    return model


def family_options(results: Results, model: str) -> dict[str, Any]:
    """The ``options:`` the spec gave the model labelled ``model`` (e.g. width_multiple), else ``{}``."""
    for entry in (results.spec or {}).get("models") or []:
        if isinstance(entry, dict) and (entry.get("label") or entry.get("name")) == model:
            return dict(entry.get("options") or {})
    return {}


def model_family(results: Results, model: str) -> ModelFamily:
    """The registered model family of the spec's model labelled ``model``, with the spec's options."""
    from prunebench.api import get_model_family
    from prunebench.plugins import get_catalogue

    get_catalogue([str(m) for m in (results.spec or {}).get("plugins") or []])  # the spec's own plugins
    return get_model_family(family_name(results, model), **family_options(results, model))


def cell_weights(results: Results, cell: CellResult) -> Path:
    """The checkpoint of ``cell``'s evaluated (fine-tuned) model, checked to exist."""
    if cell.status != "done":
        why = f": {cell.error.strip().splitlines()[-1]}" if cell.error else ""
        raise UsageError(f"Cell {cell.key!r} is {cell.status}{why}; only finished cells have a model.",
                         hint="Run `prunebench run` again to finish it, or pick another cell.")
    rel = cell.artifacts.get("weights")
    if not rel:
        raise UsageError(f"Cell {cell.key!r} stored no weights (artifacts: {sorted(cell.artifacts) or 'none'}).")
    path = Path(rel) if Path(rel).is_absolute() else Path(results.run_dir) / rel
    if not path.is_file():
        raise UsageError(f"The weights of cell {cell.key!r} are missing: {str(path)!r} does not exist.",
                         hint="Was the run folder moved or cleaned? `prunebench run` again recomputes them.")
    return path


def load_cell_model(run_dir: str | Path | Results, cell_key: str, fused: bool = True,
                    device: str = "cpu") -> tuple[nn.Module, ModelFamily]:
    """Load the model of cell ``cell_key`` (fused Conv+BN, eval mode by default) and its model family."""
    results = run_dir if isinstance(run_dir, Results) else open_run(run_dir)
    cell = find_cell(results, cell_key)
    path = cell_weights(results, cell)
    family = model_family(results, cell.model)
    model: Any = family.load(path)
    if fused:
        model = family.fuse(model)
    model = model.to(device).eval()
    return model, family
