"""Run an NNI 3.0 pruner on a copy of the model and collect its output-channel masks and importance scores.

NNI wraps the model's modules in place, so it always works on a deep copy; the caller's model and its
BatchNorm statistics are untouched. NNI's ModelSpeedup is never used (it fails on torch >= 2.2).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from prunebench_nni._nni import import_pruning, quiet
from prunebench_nni._resolve import keep_from_mask

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import PruneContext

__all__ = ["NNI_CLASSES", "NNIMasks", "TrainingPlan", "compute_masks"]

#: prunebench method -> NNI 3.0 class name in ``nni.compression.pruning``
NNI_CLASSES = {
    "l1": "L1NormPruner",
    "l2": "L2NormPruner",
    "fpgm": "FPGMPruner",
    "slim": "SlimPruner",
    "taylor": "TaylorPruner",
}
DATA_DRIVEN = frozenset({"slim", "taylor"})


@dataclass
class TrainingPlan:
    """How the data-driven NNI pruners (Slim, Taylor) train on the calibration batches."""

    steps: int
    lr: float = 0.0
    momentum: float = 0.9
    regular_scale: float = 1.0


@dataclass
class NNIMasks:
    """NNI's decision per conv: a boolean keep vector and the per-channel importance it ranked by."""

    votes: dict[str, torch.Tensor] = field(default_factory=dict)
    scores: dict[str, torch.Tensor] = field(default_factory=dict)
    nni_class: str = ""
    steps_run: int = 0
    output: str = ""  #: what NNI printed (silenced)


def _to_float_images(images: torch.Tensor, device: str) -> torch.Tensor:
    images = images.to(device, non_blocking=True)
    if not images.is_floating_point():
        images = images.float() / 255.0
    return images


def _calibration_batches(calibration: Iterable[Any] | None, what: str) -> Iterable[Any]:
    from prunebench.errors import UsageError

    if calibration is None:
        raise UsageError(
            f"The pruner {what} needs calibration batches (context.calibration) to train NNI's scores, "
            "but none were given.",
            hint="Run it inside a suite (the training data is used), or pass "
                 "PruneContext(calibration=[(images, targets), ...], loss_fn=family.loss(model, hyp)).",
        )
    return calibration


def _make_training(ctx: PruneContext, plan: TrainingPlan, what: str, counter: list[int]) -> tuple[Callable, Callable]:
    from prunebench.errors import UsageError

    batches = _calibration_batches(ctx.calibration, what)
    loss_fn = ctx.loss_fn
    if loss_fn is None:
        raise UsageError(
            f"The pruner {what} needs the model family's loss (context.loss_fn), but it is None.",
            hint="Pass PruneContext(loss_fn=family.loss(model, family.default_hyp())).",
        )
    device = ctx.device

    def training_step(batch: Any, model: nn.Module, *args: Any, **kwargs: Any) -> torch.Tensor:
        images, targets = batch[0], batch[1]
        out = model(_to_float_images(images, device))
        result = loss_fn(out, targets.to(device))
        return result[0] if isinstance(result, (tuple, list)) else result

    def training_func(model: nn.Module, optimizers: Any, training_step: Callable, lr_schedulers: Any = None,
                      max_steps: int | None = None, max_epochs: int | None = None, *args: Any,
                      **kwargs: Any) -> None:
        total = max_steps or plan.steps
        opts = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]
        model.train()
        while counter[0] < total:
            seen = 0
            for batch in batches:
                for opt in opts:
                    opt.zero_grad()
                loss = training_step(batch, model)
                if not torch.isfinite(loss):
                    raise UsageError(f"The pruner {what} got a non-finite loss ({float(loss)}) at step "
                                     f"{counter[0]}.", hint="Check the calibration data and the model's weights.")
                loss.backward()
                for opt in opts:
                    opt.step()
                counter[0] += 1
                seen += 1
                if counter[0] >= total:
                    return
            if seen == 0:
                raise UsageError(f"The pruner {what}: context.calibration yielded no batches "
                                 f"(after {counter[0]} of {total} training steps).",
                                 hint="Give a re-iterable (a list or a DataLoader), not an exhausted generator.")

    return training_step, training_func


def compute_masks(
    model: nn.Module,
    conv_names: Sequence[str],
    level: float,
    method: str,
    ctx: PruneContext,
    plan: TrainingPlan | None = None,
    what: str = "",
) -> NNIMasks:
    """Run NNI's ``method`` pruner at ``sparse_ratio=level`` on a copy of ``model`` over ``conv_names``.

    Returns, per conv name, the boolean keep vector of NNI's output-channel mask and the per-channel
    importance NNI computed (captured from the pruner's own metric step, so nothing is re-implemented).
    """
    what = what or f"nni-{method}"
    pruning = import_pruning()
    cls = getattr(pruning, NNI_CLASSES[method])
    work = copy.deepcopy(model).to(ctx.device)
    ratio = min(max(float(level), 0.0), 0.999999)
    config_list = [{"op_names": list(conv_names), "op_types": ["Conv2d"], "sparse_ratio": ratio,
                    "granularity": "out_channel"}]
    out = NNIMasks(nni_class=NNI_CLASSES[method])
    counter = [0]
    with quiet(capture_output=False) as buf:
        import nni

        if method in DATA_DRIVEN:
            plan = plan or TrainingPlan(steps=1)
            training_step, training_func = _make_training(ctx, plan, what, counter)
            momentum = plan.momentum if plan.lr > 0 else 0.0
            optimizer = nni.trace(torch.optim.SGD)(work.parameters(), lr=plan.lr, momentum=momentum)
            evaluator = nni.compression.TorchEvaluator(training_func, optimizer, training_step,
                                                       dummy_input=ctx.example_inputs.to(ctx.device))
            if method == "slim":
                pruner = cls(work, config_list, evaluator, training_steps=plan.steps,
                             regular_scale=plan.regular_scale)
            else:
                pruner = cls(work, config_list, evaluator, training_steps=plan.steps)
        else:
            work.eval()
            pruner = cls(work, config_list)
        original_metrics = pruner._calculate_metrics

        def capture(data: Any) -> Any:
            metrics = original_metrics(data)
            for name, targets in metrics.items():
                if "weight" in targets and targets["weight"] is not None:
                    out.scores[name] = targets["weight"].detach().reshape(-1).float().cpu()
            return metrics

        pruner._calculate_metrics = capture
        try:
            _, masks = pruner.compress()
        finally:
            pruner.unwrap_model()
        out.output = buf.getvalue()
    out.steps_run = counter[0]
    for name in conv_names:
        weight_mask = (masks.get(name) or {}).get("weight")
        if weight_mask is None:
            continue
        out.votes[name] = keep_from_mask(weight_mask)
        if name in out.scores and out.scores[name].numel() != out.votes[name].numel():
            del out.scores[name]  # a score at another granularity: votes alone decide
    return out

