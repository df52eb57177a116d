"""Checks of a valid spec against this machine and its files, before any compute (``validate`` and ``run``).

What a spec's schema cannot know: whether its ``device`` exists here, whether each model's ``weights`` load
and fit the dataset's classes, whether a hyper-parameter belongs to the model family, whether the dataset
is usable, and whether the run folder can be one. Every problem is reported at once, with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.plugins import Catalogue
    from prunebench.spec import Spec, SpecProblem

__all__ = ["device_problem", "preflight"]


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot be used on this machine, or None."""
    if device == "cpu":
        return None
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return f"{device!r} is not available: this machine has no CUDA GPU that torch can use; use cpu"
        index = int(device.partition(":")[2] or 0)
        count = torch.cuda.device_count()
        if index >= count:
            return (f"{device!r} does not exist here: this machine has {count} CUDA GPU{'s' if count > 1 else ''} "
                    f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})")
        return None
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            return "'mps' is not available: this machine has no Apple GPU that torch can use; use cpu"
    return None


def _model_nc(model: Any) -> int | None:
    for holder in (model, getattr(model, "model", None)):
        nc = getattr(holder, "nc", None)
        if isinstance(nc, int):
            return nc
    layers = getattr(model, "model", None)
    try:
        nc = getattr(layers[-1], "nc", None)  # type: ignore[index]
    except (TypeError, IndexError):
        return None
    return nc if isinstance(nc, int) else None


def preflight(spec: Spec, catalogue: Catalogue) -> None:
    """Raise :class:`~prunebench.spec.SpecError` listing every problem that would stop ``run`` later."""
    from prunebench.spec import SpecError, SpecProblem, _compose, _line_for

    file = str(spec.source_path) if spec.source_path is not None else "<spec>"
    lines: dict[tuple[Any, ...], int] = {}
    if spec.source_text is not None:
        _, lines, _ = _compose(spec.source_text, file)

    def problem(loc: tuple[Any, ...], message: str) -> SpecProblem:
        return SpecProblem(file=file, line=_line_for(lines, loc), field=".".join(map(str, loc)), message=message)

    problems: list[SpecProblem] = []
    why = device_problem(spec.device)
    if why:
        problems.append(problem(("device",), why))
    nc: int | None = None
    ds = spec.dataset
    try:
        provider = ds.instantiate(catalogue.datasets.get(ds.name))
        nc = provider.check()
    except UsageError as exc:
        problems.append(problem(("dataset",), exc.message))
    for i, entry in enumerate(spec.models):
        try:
            family = entry.instantiate(catalogue.models.get(entry.name))
        except UsageError as exc:
            problems.append(problem(("models", i), exc.message))
            continue
        known = set(family.default_hyp())
        for budget in ("train", "finetune"):
            cfg = spec.train_for(entry.key) if budget == "train" else spec.finetune_for(entry.key)
            for key in sorted(set(cfg.hyp) - known):
                loc = ("models", i, budget, "hyp", key) if key in getattr(entry, budget).get("hyp", {}) else (
                    budget, "hyp", key)
                problems.append(problem(loc, f"{key!r} is not a hyper-parameter of {entry.name} (it has: "
                                             f"{', '.join(sorted(known))})"))
        if entry.weights is not None and Path(entry.weights).is_file():
            problems += _weights_problems(family, entry, nc, problem, ("models", i, "weights"))
    if problems:
        problems.sort(key=lambda q: (q.line or 0))
        raise SpecError(problems, hint="`prunebench validate SPEC` checks all of this before any compute.")


def _weights_problems(family: Any, entry: Any, nc: int | None, problem: Any, loc: tuple[Any, ...]) -> list[Any]:
    try:
        model = family.build(nc=nc or 80, weights=entry.weights)
    except UsageError as exc:
        return [problem(loc, exc.message)]
    except Exception as exc:  # a truncated or foreign file: whatever the loader raised
        return [problem(loc, f"{str(entry.weights)!r} is not a loadable {entry.name} checkpoint "
                             f"({type(exc).__name__}: {exc})")]
    got = _model_nc(model)
    if nc is not None and got is not None and got != nc:
        return [problem(loc, f"the weights have {got} classes but the dataset has {nc}; give the model "
                             f"`options: {{transfer: true}}` to start from them with a new {nc}-class head")]
    return []
