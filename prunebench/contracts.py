"""The contracts a plugin fulfils: model families, pruners, metrics, datasets, executors, reporters.

Every plugin class carries a nested pydantic ``Options`` model (``extra="forbid"``, a description and
bounds on every field); prunebench validates the spec's ``options:`` mapping against it before anything
runs. Torch is only imported for type checking here so that ``import prunebench`` stays light.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from prunebench.defaults import Scope

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = [
    "DatasetProvider",
    "EvalContext",
    "Executor",
    "Metric",
    "ModelFamily",
    "PluginOptions",
    "PruneContext",
    "PruneRecord",
    "PruneResult",
    "Pruner",
    "Reporter",
    "Scope",
]


class PluginOptions(BaseModel):
    """Base of every plugin's ``Options``: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def canonical(self) -> dict[str, Any]:
        """The options as a spec's stage keys hash them: JSON values, aliases as keys, only those given.

        Written ``lambda:`` or ``strength:`` (a field and its alias), the result is the same.
        """
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


#: validated options by (Options class, canonical JSON): each plugin's options are validated once per process
#: (the spec validates them; a stage that instantiates the plugin from the canonical dict in its inputs reuses
#: that object instead of running the validators again). Options are frozen, so sharing them is safe.
_VALIDATED: dict[tuple[type[PluginOptions], str], PluginOptions] = {}


def _options_key(cls: type[PluginOptions], data: Mapping[str, Any]) -> tuple[type[PluginOptions], str] | None:
    import json

    try:
        return cls, json.dumps(data, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError):  # not JSON (e.g. a Path given in Python): validated each time
        return None


def remember_validated(options: PluginOptions) -> None:
    """Keep ``options`` as the validated form of its canonical dict (see :meth:`PluginOptions.canonical`)."""
    key = _options_key(type(options), options.canonical())
    if key is not None:
        _VALIDATED[key] = options


def validated_options(cls: type[PluginOptions], data: Mapping[str, Any] | None) -> PluginOptions:
    """``cls.model_validate(data)``, once per process for the same ``data``."""
    data = dict(data or {})
    key = _options_key(cls, data)
    known = _VALIDATED.get(key) if key is not None else None
    if known is not None:
        return known
    options = cls.model_validate(data)
    if key is not None:
        _VALIDATED[key] = options
    return options


class _Plugin:
    """Shared behaviour: a registered name, a description and validated options."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    class Options(PluginOptions):
        pass

    @classmethod
    def resolve_options(cls, options: PluginOptions, base_dir: Path) -> tuple[PluginOptions, list[tuple[str, str]]]:
        """Options with the plugin's relative paths resolved against ``base_dir`` (the spec's folder).

        Return the (possibly updated) options and the problems found, as ``(option name, message)``
        pairs (e.g. a file that does not exist). The default resolves nothing. It never changes
        ``options`` in place (they are frozen): return ``options.model_copy(update=...)``.
        """
        return options, []

    def __init__(self, options: Mapping[str, Any] | PluginOptions | None = None) -> None:
        if isinstance(options, PluginOptions):
            self.options = options
        else:
            self.options = validated_options(self.Options, options)


# --------------------------------------------------------------------------------------------------
# Model families
# --------------------------------------------------------------------------------------------------


class ModelFamily(_Plugin, ABC):
    """One registered model name (``yolov5n``): how to build, train, post-process and save it.

    The object is cheap to construct; models are built on demand by :meth:`build`.
    """

    task: ClassVar[str] = "detect"
    stride: ClassVar[int] = 32  #: input sizes must be multiples of this
    loss_names: ClassVar[tuple[str, ...]] = ("box", "obj", "cls")

    @abstractmethod
    def build(self, nc: int, weights: str | Path | None = None) -> nn.Module:
        """Build the model for ``nc`` classes; load ``weights`` (any supported checkpoint) if given."""

    @abstractmethod
    def loss(self, model: nn.Module, hyp: Mapping[str, float]) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
        """Return ``loss_fn(train_outputs, targets) -> (loss, loss_items)``.

        ``targets`` is ``[n, 6]``: image index, class, cx, cy, w, h (normalised to the input size).
        ``loss`` is the scalar to back-propagate (scaled by batch size as YOLOv5 does);
        ``loss_items`` holds the detached components named by :attr:`loss_names`.
        """

    @abstractmethod
    def postprocess(
        self,
        outputs: Any,
        *,
        conf_thres: float = 0.001,
        iou_thres: float = 0.6,
        max_det: int = 300,
        multi_label: bool = False,
    ) -> list[torch.Tensor]:
        """Decode eval-mode outputs into one ``[n, 6]`` tensor per image: x1, y1, x2, y2, conf, cls."""

    @abstractmethod
    def example_inputs(self, imgsz: int = 640, batch: int = 1) -> torch.Tensor:
        """A zero input of the right shape (used for tracing, FLOPs and dependency graphs)."""

    @abstractmethod
    def ignored_layers(self, model: nn.Module) -> list[nn.Module]:
        """Layers whose output channels pruning must never change (e.g. Detect's output convs)."""

    @abstractmethod
    def prunable_layers(self, model: nn.Module, scope: Scope) -> list[nn.Module]:
        """Convolutions whose output channels a pruner may remove within ``scope``."""

    @abstractmethod
    def default_hyp(self) -> dict[str, float]:
        """Default training hyper-parameters (YOLOv5: hyp.scratch-low)."""

    def train_recipe(self) -> dict[str, Any]:
        """The family's choices for the budget settings a spec leaves at ``family``/unset.

        Keys: ``optimizer`` (SGD, Adam, AdamW or auto), ``close_mosaic`` (epochs), ``warmup_min_iters`` and
        ``fitness`` (yolov5 or map50-95). The default is YOLOv5's train.py.
        """
        return {"optimizer": "SGD", "close_mosaic": 0, "warmup_min_iters": 100, "fitness": "map50-weighted"}

    @abstractmethod
    def save(self, model: nn.Module, path: str | Path, **meta: Any) -> Path:
        """Save a (possibly pruned) model so that :meth:`load` rebuilds it without re-pruning."""

    @abstractmethod
    def load(self, path: str | Path) -> nn.Module:
        """Load a checkpoint safely (no code execution)."""

    @abstractmethod
    def fuse(self, model: nn.Module) -> nn.Module:
        """Return an inference copy with Conv+BN folded."""


# --------------------------------------------------------------------------------------------------
# Pruners
# --------------------------------------------------------------------------------------------------


@dataclass
class PruneContext:
    """What a pruner may use besides the model: the family's contract and optional calibration data."""

    family: ModelFamily
    example_inputs: torch.Tensor
    #: batches of ``(images, targets)`` for data-driven criteria (Taylor, NNI's Slim); may be None
    calibration: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None
    #: ``loss_fn(train_outputs, targets)`` from :meth:`ModelFamily.loss`; may be None
    loss_fn: Callable[..., Any] | None = None
    seed: int = 0
    device: str = "cpu"
    imgsz: int = 640
    #: a folder where measurements may be cached across prunes (the run folder's ``cache/``), or None
    cache_dir: Path | None = None


@dataclass
class PruneRecord:
    """What a prune did: requested vs achieved reductions and the channels removed per layer."""

    pruner: str
    level: float
    target: str
    scope: str
    params_before: int
    params_after: int
    gflops_before: float
    gflops_after: float
    channels_before: int
    channels_after: int
    removed: dict[str, int] = field(default_factory=dict)  # layer name -> output channels removed
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def params_reduction(self) -> float:
        return 1.0 - self.params_after / self.params_before if self.params_before else 0.0

    @property
    def flops_reduction(self) -> float:
        return 1.0 - self.gflops_after / self.gflops_before if self.gflops_before else 0.0

    @property
    def channel_reduction(self) -> float:
        return 1.0 - self.channels_after / self.channels_before if self.channels_before else 0.0


@dataclass
class PruneResult:
    """A pruned model, the record of what was removed, and optional named diagnostics of the prune.

    ``diagnostics`` (name -> a number, an array, a mapping of those or a table of rows; numpy arrays and
    tensors are fine) are stored with the prune stage and reach reporters as ``CellResult.diagnostics``.
    """

    model: nn.Module
    record: PruneRecord
    diagnostics: dict[str, Any] = field(default_factory=dict)


class Pruner(_Plugin, ABC):
    """A structured pruning method. ``prune`` returns a physically smaller model."""

    #: True when the pruner needs a sparsity-training phase before pruning (BN-scale)
    needs_sparsity_training: ClassVar[bool] = False

    def sparsity_epochs(self) -> int:
        """Epochs of sparsity training this pruner asks for (0 when none)."""
        return 0

    def regularizer(self, model: nn.Module, family: ModelFamily | None = None) -> Callable[[nn.Module], None] | None:
        """A callback run after every ``backward()`` during sparsity training (adds to ``.grad``).

        ``family`` lets the regulariser restrict itself to the layers of the pruner's scope; the suite
        always passes it (as a keyword).
        """
        return None

    def diagnostics(self, model: nn.Module, family: ModelFamily) -> Mapping[str, Any]:
        """Named read-outs of ``model`` that show what sparsity training does (default: none).

        The suite calls it before and after the sparsity stage's training and stores each name as
        ``{"before": value, "after": value}`` in that stage's diagnostics (bn-scale: ``bn_gamma``, the
        BatchNorm γ of its scope, which the γ histogram plots). Values: numbers, arrays, mappings of those.
        """
        return {}

    @abstractmethod
    def prune(self, model: nn.Module, level: float, context: PruneContext) -> PruneResult:
        """Remove channels so that the reduction named by the options' ``target`` equals ``level``."""


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


@dataclass
class EvalContext:
    """Everything a metric may read. Predictions/detection results are computed once per cell."""

    model: nn.Module  # the fused model in eval mode
    family: ModelFamily
    imgsz: int
    device: str = "cpu"
    #: YOLOv5-convention detection results (prunebench.metrics.detection.DetectionMetrics) or None
    detection: Any = None
    checkpoint: Path | None = None
    threads: int | None = None
    cache: dict[str, Any] = field(default_factory=dict)


class Metric(_Plugin, ABC):
    """One figure of a result row. Class attributes tell tables and plots how to show it."""

    unit: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True
    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "accuracy"
    fmt: ClassVar[str] = ".3f"
    label: ClassVar[str] = ""  #: a table column's header (default: the name, with the unit)
    axis: ClassVar[str] = ""  #: a plot axis' title (default: the label)

    @classmethod
    def info(cls) -> dict[str, Any]:
        """How reports show this metric; stored with every evaluation, so a report needs no plugin."""
        return {"unit": cls.unit, "higher_is_better": bool(cls.higher_is_better), "kind": cls.kind,
                "fmt": cls.fmt, "label": cls.label, "axis": cls.axis, "description": cls.description}

    @abstractmethod
    def compute(self, ctx: EvalContext) -> float | dict[str, float]:
        """Return the value, or a mapping that holds ``self.name`` plus auxiliary figures."""


# --------------------------------------------------------------------------------------------------
# Datasets, executors, reporters
# --------------------------------------------------------------------------------------------------


class DatasetProvider(_Plugin, ABC):
    """Provides a YOLO-format dataset: an existing ``data.yaml`` or a generated one."""

    @classmethod
    def from_shorthand(cls, text: str) -> dict[str, Any] | None:
        """The options this dataset reads from a bare string ``dataset: TEXT`` in a spec, or None.

        A spec's ``dataset:`` may be a registered dataset name or a string one dataset plugin claims
        (the bundled ``yolo`` claims paths ending in ``.yaml``/``.yml``). The default claims nothing.
        """
        return None

    @abstractmethod
    def prepare(self, root: Path) -> Path:
        """Make the dataset available (generating it under ``root`` if needed); return its data.yaml."""

    def fingerprint(self) -> str:
        """A string that changes whenever the data would change (used in cache keys)."""
        return f"{self.name}:{self.options.model_dump_json()}"

    def check(self) -> int | None:
        """Check the dataset before anything is computed (``prunebench validate`` and ``run`` call it).

        Raise :class:`~prunebench.errors.UsageError` for a dataset :meth:`prepare` would refuse (no usable
        training image, no labels) when that is known without generating anything, and return the number
        of classes when known (checked against a model's weights), else None. The default checks nothing.
        """
        return None

    def splits(self) -> set[str] | None:
        """The splits (``train``, ``val``, ``test``) :meth:`prepare` will provide, when known without generating
        anything, else None; ``validate`` refuses an ``evaluate.split`` that is not among them. The default:
        unknown."""
        return None


class Executor(_Plugin, ABC):
    """Runs the stages of a suite's plan (in this process, or on a cluster)."""

    @abstractmethod
    def run(self, stages: list[Any], run_stage: Callable[[Any, dict[str, Any]], Any],
            on_done: Callable[[Any, Any, BaseException | None], None]) -> None:
        """Run ``stages`` (each with ``.key`` and ``.deps``), respecting dependencies.

        A dependency that is not in ``stages`` is already satisfied (cached); its result is known to
        ``run_stage``. A stage whose dependency failed is not run; ``on_done`` reports it as failed.

        ``run_stage(stage, dep_results)`` computes one stage and returns its
        :class:`~prunebench.suite.stage.StageResult` (a
        :class:`~prunebench.suite.executors.base.StageFunction`); ``on_done(stage, result, error)`` is
        called in the driver process for every stage, in an order compatible with the dependencies.

        Events: ``run_stage.observer`` is the driver's observer (it fires the lifecycle hooks and moves
        the live display). In this process it is called directly; an executor that runs a stage
        elsewhere passes ``run_stage.with_observer(proxy)`` there, and the proxy's ``stage_started`` and
        ``epoch_end`` calls must reach ``run_stage.observer`` in the driver while the stage runs (the
        ``ray`` executor streams them through a Ray queue).
        """


class Reporter(_Plugin, ABC):
    """Turns stored results into something a person reads (tables, plots, a report, exports)."""

    @abstractmethod
    def report(self, results: Any, out_dir: Path, console: Any) -> list[Path]:
        """Write/print the report from stored results; return the files written."""
