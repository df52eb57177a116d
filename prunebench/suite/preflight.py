"""Checks of a valid spec against this machine and its files, before any compute (``validate`` and ``run``).

What a spec's schema cannot know: whether its ``device`` exists here, whether each model's ``weights`` load
and fit the dataset's classes, whether a hyper-parameter belongs to
the model family, whether the dataset is usable, whether a matched-cost level (``target: params`` or
``flops``) can be reached in its scope, whether the spec has any cell, whether a local Ray would wait for GPUs
this machine lacks, and whether the run folder can be one.
Every problem is reported at once, with its line.
"""

from __future__ import annotations

import os
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
    if not spec.baseline and not spec.pruners:
        problems.append(problem(("baseline",), "baseline: false and no pruners: the spec has no cell to run; add a "
                                               "pruner under `pruners:` or leave `baseline:` out (true)"))
    nc: int | None = None
    ds = spec.dataset
    try:
        provider = ds.instantiate(catalogue.datasets.get(ds.name))
        nc = provider.check()
        splits = provider.splits()
        if splits is not None and spec.evaluate.split not in splits:
            problems.append(problem(("evaluate", "split"), f"{spec.evaluate.split!r}: the dataset has no such "
                                                           f"split (it has {', '.join(sorted(splits))})"))
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
        model: Any = None
        if entry.weights is not None and Path(entry.weights).is_file():
            found, model = _weights_problems(family, entry, nc, problem, ("models", i, "weights"))
            if found:
                problems += found
                continue
        problems += _reach_problems(spec, catalogue, i, family, model, nc, problem)
        problems += _size_problems(spec, family, entry.key, problem)
    problems += _executor_problems(spec, catalogue, problem)
    if problems:
        problems.sort(key=lambda q: (q.line or 0))
        raise SpecError(problems, hint="`prunebench validate SPEC` checks all of this before any compute.")


def _weights_problems(family: Any, entry: Any, nc: int | None, problem: Any,
                      loc: tuple[Any, ...]) -> tuple[list[Any], Any]:
    """The problems of a model's ``weights`` (none when they load and fit), and the loaded model."""
    name = str(entry.weights)
    try:
        model = family.build(nc=nc or 80, weights=entry.weights)
    except UsageError as exc:
        message = exc.message if name in exc.message else f"{name!r}: {exc.message}"
        return [problem(loc, message)], None
    except Exception as exc:  # a truncated or foreign file: whatever the loader raised
        return [problem(loc, f"{name!r} is not a loadable {entry.name} checkpoint "
                             f"({type(exc).__name__}: {exc})")], None
    got = _model_nc(model)
    if nc is not None and got is not None and got != nc:
        return [problem(loc, f"the weights have {got} classes but the dataset has {nc}; give the model "
                             f"`options: {{transfer: true}}` to start from them with a new {nc}-class head")], None
    return [], model


def _reach_problems(spec: Spec, catalogue: Catalogue, i: int, family: Any, model: Any, nc: int | None,
                    problem: Any) -> list[Any]:
    """Levels of a matched-cost pruner (``target: params`` or ``flops``) that model ``i`` cannot reach.

    The most a scope can remove depends only on the architecture and the pruner's scope, guards and rounding,
    so it is found by pruning a copy of the model once at the highest level (ranking channels by their index:
    how channels are ranked does not change how many can go; ``round_to: auto`` counted as no rounding, the
    most it could reach).
    """
    import copy

    from prunebench.contracts import PruneContext
    from prunebench.pruning.options import PrunerOptions
    from prunebench.pruning.removal import prune_model

    found = []
    for j, entry in enumerate(spec.pruners):
        try:
            options = entry.instantiate(catalogue.pruners.get(entry.name)).options  # type: ignore[attr-defined]
        except (UsageError, AttributeError):
            continue
        if not isinstance(options, PrunerOptions) or options.target not in ("params", "flops"):
            continue
        shared = PrunerOptions.model_validate({k: getattr(options, k) for k in PrunerOptions.model_fields})
        if shared.round_to == "auto":
            shared = shared.model_copy(update={"round_to": None})
        level = max(entry.levels)
        try:
            base = copy.deepcopy(model) if model is not None else family.build(nc=nc or 80)
            ctx = PruneContext(family=family, example_inputs=family.example_inputs(64), imgsz=64)
            prune_model(base, level, ctx, shared, criterion=_by_index, name=entry.name, inplace=True)
        except UsageError as exc:
            if "can remove at most" in exc.message:
                found.append(problem(("pruners", j, "levels", entry.levels.index(level)),
                                     f"{spec.models[i].key}: {exc.message} {exc.hint or ''}".strip()))
        except Exception:  # anything else is the prune stage's to report, with its context
            continue
    return found


def _by_index(group: Any, generator: Any = None) -> Any:
    """Distinct scores in channel order: a ranking for counting what a scope can remove, nothing more."""
    import torch

    return torch.arange(group.channels, 0, -1, dtype=torch.float32)


def _executor_problems(spec: Spec, catalogue: Catalogue, problem: Any) -> list[Any]:
    """What a local Ray (no ``address``) would wait for forever: more GPUs per cell or CPUs per task than this
    machine has, or a ``node_ip_address`` that is not this machine's."""
    try:
        options = spec.executor.instantiate(catalogue.executors.get(spec.executor.name)).options  # type: ignore[attr-defined]
    except (UsageError, AttributeError):
        return []
    address = getattr(options, "address", None)
    if address is not None:  # a cluster's resources are the cluster's to say; whether it answers is asked here
        return _cluster_problems(spec.executor.name, address, getattr(options, "node_ip_address", None), problem)
    found = []
    cpus = float(getattr(options, "cpus_per_task", 0.0) or 0.0)
    have_cpus = getattr(options, "num_cpus", None) or os.cpu_count() or 1
    if cpus > have_cpus:
        found.append(problem(("executor", "options", "cpus_per_task"),
                             f"{cpus:g} CPUs per task, but the local Ray started here has {have_cpus} and would "
                             f"wait forever; give cpus_per_task: {have_cpus} or less"))
    node_ip = getattr(options, "node_ip_address", None)
    if isinstance(node_ip, str) and not _is_local_address(node_ip):
        found.append(problem(("executor", "options", "node_ip_address"),
                             f"{node_ip!r} is not an address of this machine, so the local Ray started here "
                             f"cannot listen there; leave node_ip_address out (127.0.0.1) or give one of this "
                             f"machine's addresses"))
    gpus = float(getattr(options, "gpus_per_cell", 0.0) or 0.0)
    if gpus <= 0:
        return found
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus <= count:
        return found
    have = "no CUDA GPU that torch can use" if count == 0 else f"only {count} CUDA GPU{'s' if count > 1 else ''}"
    return [*found, problem(("executor", "options", "gpus_per_cell"),
                    f"{gpus:g} GPU{'' if gpus == 1 else 's'} per cell, but this machine has {have}, and the local "
                    f"Ray started here would wait for {'it' if gpus == 1 else 'them'} forever; give gpus_per_cell: "
                    f"{'0 (the stages run on the CPU)' if count == 0 else f'{count} or less'}, or the `address` of "
                    f"a Ray cluster with GPUs")]


def _is_local_address(host: str) -> bool:
    """Whether ``host`` names an address of this machine (a socket can be bound to it)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    for family, kind, proto, _, addr in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.bind((addr[0], 0))
            return True
        except OSError:
            continue
    return False


def _cluster_problems(executor: str, address: str, node_ip: str | None, problem: Any) -> list[Any]:
    """The ``ray`` executor's own check of a cluster before joining it (a few seconds), as ``run`` makes it."""
    if executor != "ray":
        return []
    try:
        from prunebench.suite.executors.ray_init import check_cluster
    except ImportError:  # pragma: no cover - Ray not installed: the executor says so when created
        return []
    try:
        check_cluster(address, node_ip)
    except UsageError as exc:
        return [problem(("executor", "options", "address"), f"{exc.message} {exc.hint or ''}".strip())]
    return []


def _size_problems(spec: Spec, family: Any, key: str, problem: Any) -> list[Any]:
    """Input sizes the model family cannot take (its ``example_inputs`` refuses them, e.g. not a multiple of
    its stride): ``speed.imgsz``, a latency target's ``latency_imgsz`` and a metric's ``imgsz``."""
    sizes: list[tuple[tuple[Any, ...], Any]] = []
    if spec.speed is not None:
        sizes.append((("speed", "imgsz"), spec.speed.imgsz))
    for j, entry in enumerate(spec.pruners):
        if entry.options.get("target") == "latency":
            sizes.append((("pruners", j, "options", "latency_imgsz"), entry.options.get("latency_imgsz", 640)))
    for k, ref in enumerate(spec.metrics):
        if ref.options.get("imgsz") is not None:
            sizes.append((("metrics", k, "options", "imgsz"), ref.options["imgsz"]))
    found = []
    for loc, size in sizes:
        if not isinstance(size, int):
            continue
        try:
            family.example_inputs(size)
        except UsageError as exc:
            found.append(problem(loc, f"{key}: {exc.message}"))
    return found
