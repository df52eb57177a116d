"""The benchmark spec: pydantic models, safe YAML loading, and errors that name file, line and field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from prunebench.defaults import DEFAULT_DATASET, DEFAULT_EXECUTOR, DEFAULT_METRICS, DEFAULT_REPORTERS
from prunebench.engine.config import EvalConfig, TrainConfig
from prunebench.errors import UsageError, did_you_mean
from prunebench.files import read_text_file
from prunebench.speed.config import SpeedConfig

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import PluginOptions
    from prunebench.plugins import Catalogue

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_REPORTERS",
    "ModelEntry",
    "PluginRef",
    "PrunerEntry",
    "Spec",
    "SpecError",
    "SpecProblem",
    "load_spec",
    "parse_spec",
    "resolve_spec",
    "with_device",
]

T = TypeVar("T")
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


Level = Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False,
                                description="fraction of channels (or params/FLOPs) removed")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _WithOptions(_Strict):
    """An entry naming a plugin, with ``options`` validated (once) when the spec is resolved."""

    if TYPE_CHECKING:  # pragma: no cover - each entry declares its own ``options`` field
        options: dict[str, Any]
    _validated: Any = PrivateAttr(None)  # the plugin's Options object, set on a resolved copy only

    def instantiate(self, cls: type[T]) -> T:
        """An instance of the plugin class ``cls`` with these options (no second validation when resolved)."""
        validated = self._validated
        if validated is not None and isinstance(validated, cls.Options):  # type: ignore[attr-defined]
            return cls(validated)  # type: ignore[call-arg]
        return cls(self.options)  # type: ignore[call-arg]


class PluginRef(_WithOptions):
    """A plugin named in the spec, with its options (validated by the plugin's own ``Options``).

    Written as a bare name (``l1``) or a mapping (``{name: ray, options: {address: auto}}``); keys beside
    ``name`` are taken as options too (``{name: ray, address: auto}``).
    """

    name: str = Field(min_length=1, description="registered plugin name (see `prunebench plugins`)")
    options: dict[str, Any] = Field(default_factory=dict, description="the plugin's options")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data}
        if isinstance(data, dict) and "name" in data:
            extra = {k: v for k, v in data.items() if k not in ("name", "options")}
            if extra:
                opts = dict(data.get("options") or {})
                opts.update(extra)
                return {"name": data["name"], "options": opts}
        return data


class ModelEntry(_WithOptions):
    """One model of the study."""

    name: str = Field(min_length=1, description="registered model name, e.g. yolov5n")
    label: str | None = Field(None, description="unique label in results (default: the name)")
    options: dict[str, Any] = Field(default_factory=dict, description="the model family's options")
    weights: Path | None = Field(None, description="start from these weights (prunebench or YOLOv5 .pt)")
    train: dict[str, Any] = Field(default_factory=dict,
                                  description="overrides of the spec's train budget for this model")
    finetune: dict[str, Any] = Field(default_factory=dict,
                                     description="overrides of the spec's finetune budget for this model")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @property
    def key(self) -> str:
        return self.label or self.name


class PrunerEntry(_WithOptions):
    """One pruning method of the study, at one or more levels."""

    name: str = Field(min_length=1, description="registered pruner name, e.g. l1, bn-scale, nni-fpgm")
    label: str | None = Field(None, description="unique label (needed when one pruner appears twice)")
    levels: list[Level] = Field(min_length=1, description="pruning levels, each in (0, 1)")
    options: dict[str, Any] = Field(default_factory=dict, description="the pruner's options")

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: list[float]) -> list[float]:
        for i, level in enumerate(levels):
            if level in levels[:i]:
                raise ValueError(f"level {level} is listed twice (at index {levels.index(level)} and {i})")
            same = next((j for j in range(i) if f"{levels[j]:g}" == f"{level:g}"), None)
            if same is not None:  # results name a level by its 6 significant digits (cell keys, tables)
                raise ValueError(f"levels {levels[same]!r} (index {same}) and {level!r} (index {i}) are the same "
                                 f"level once rounded to 6 significant digits ({level:g}), as results name "
                                 f"levels; give levels that differ within 6 digits")
        return [float(x) for x in levels]

    @property
    def key(self) -> str:
        return self.label or self.name


class Spec(_Strict):
    """A whole benchmark: what to train, prune, fine-tune, measure and report."""

    name: str = Field(min_length=1, max_length=100, description="name of the study (the run folder's default name)")
    description: str = Field("", description="free text shown in the report")
    seeds: list[Annotated[int, Field(ge=0, le=2**63 - 1)]] = Field(default_factory=lambda: [0], min_length=1,
                             description="random seeds; every cell runs once per seed (`seed: 0` also works)")
    device: str = Field("cpu", description="cpu, cuda, cuda:N or mps")
    output: Path | None = Field(None, description="run folder (default runs/<name>), relative to the current directory")
    plugins: list[str] = Field(default_factory=list, description="extra plugin modules to load (import names)")
    dataset: PluginRef = Field(default_factory=lambda: PluginRef(name=DEFAULT_DATASET),
                               description="a dataset plugin, or a string a dataset plugin reads (the path "
                                           "of a YOLO data.yaml)")
    models: list[ModelEntry] = Field(min_length=1, description="models of the study")
    pruners: list[PrunerEntry] = Field(default_factory=list, description="pruning methods and their levels")
    baseline: bool = Field(True, description="also evaluate each unpruned model (level 0)")
    train: TrainConfig = Field(default_factory=TrainConfig, description="baseline training budget")
    sparsity: TrainConfig | None = Field(None, description="sparsity-training budget (default: train's, with "
                                                           "the pruner's sparsity epochs)")
    finetune: TrainConfig = Field(default_factory=lambda: TrainConfig(epochs=10),
                                  description="fine-tuning budget, the same for every method")
    evaluate: EvalConfig = Field(default_factory=EvalConfig, description="evaluation settings")
    calibration_batches: int = Field(4, ge=1, le=1000, description="batches given to data-driven pruners")
    metrics: list[PluginRef] = Field(default_factory=lambda: [PluginRef(name=m) for m in DEFAULT_METRICS],
                                     min_length=1, description="metrics of every result row")
    reporters: list[PluginRef] = Field(default_factory=lambda: [PluginRef(name=r) for r in DEFAULT_REPORTERS],
                                       description="reporters run at the end")
    executor: PluginRef = Field(default_factory=lambda: PluginRef(name=DEFAULT_EXECUTOR), description="local or ray")
    speed: SpeedConfig | None = Field(
        None, description="the speed stage (one per model and seed): baseline and pruned variants timed "
        "interleaved on each runtime, speed-ups with 95% intervals; `speed: {}` for the defaults, null for none")

    _source_path: Path | None = PrivateAttr(None)
    _source_text: str | None = PrivateAttr(None)
    _base_dir: Path | None = PrivateAttr(None)  # relative paths in plugin options are resolved against it
    _resolved: bool = PrivateAttr(False)  # every plugin name and options checked (see resolve_spec)

    @model_validator(mode="before")
    @classmethod
    def _seed_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "seed" in data:
            data = dict(data)
            seed = data.pop("seed")
            if "seeds" in data:
                raise ValueError("give either `seed` or `seeds`, not both")
            data["seeds"] = [seed]
        return data

    @field_validator("output", mode="before")
    @classmethod
    def _output(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():  # Path("") is the current folder: never meant
            raise ValueError("the run folder is empty: give a folder (or . for the current folder), or leave "
                             "`output:` out for runs/<name>")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if "/" in v or "\\" in v or v.strip(".") == "" or v != v.strip() or any(ord(c) < 32 for c in v):
            raise ValueError(f"{v!r} cannot name a run folder (runs/<name>): no '/', '\\', control characters, "
                             f"leading/trailing spaces, and not only dots; give e.g. 'tea-bud-quick', or set "
                             f"`output:` to choose the folder")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not _DEVICE.match(v):
            raise ValueError(f"{v!r} is not a device: use cpu, cuda, cuda:N (N = GPU index) or mps")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        dup = sorted({s for s in v if v.count(s) > 1})
        if dup:
            raise ValueError(f"seed {dup[0]} is listed more than once")
        return v

    @model_validator(mode="after")
    def _unique_labels(self) -> Spec:
        for what, entries in (("models", self.models), ("pruners", self.pruners)):
            seen: dict[str, int] = {}
            for i, e in enumerate(entries):
                if not _LABEL.match(e.key):
                    raise ValueError(f"{what}[{i}]: label {e.key!r} may use letters, digits and . _ + - only")
                if e.key in seen:
                    raise ValueError(f"{what}[{i}] duplicates {what}[{seen[e.key]}] ({e.key!r}); give one of "
                                     f"them a distinct `label:` to run the same {what[:-1]} twice")
                seen[e.key] = i
        return self

    # -- derived ------------------------------------------------------------------------------

    @property
    def source_path(self) -> Path | None:
        return self._source_path

    @property
    def source_text(self) -> str | None:
        return self._source_text

    @property
    def resolved(self) -> bool:
        """True when every plugin name and options mapping was checked (a copy from :func:`resolve_spec`)."""
        return self._resolved

    @property
    def run_dir(self) -> Path:
        return self.output if self.output is not None else Path("runs") / self.name

    def model(self, key: str) -> ModelEntry:
        for m in self.models:
            if m.key == key:
                return m
        raise KeyError(key)

    def train_for(self, model_key: str) -> TrainConfig:
        """The baseline training budget of one model (the spec's, with the model's overrides)."""
        return _merge(self.train, self.model(model_key).train)

    def finetune_for(self, model_key: str) -> TrainConfig:
        """The fine-tuning budget of one model (the spec's, with the model's overrides)."""
        return _merge(self.finetune, self.model(model_key).finetune)


def _merge(base: TrainConfig, override: dict[str, Any]) -> TrainConfig:
    if not override:
        return base
    data = base.model_dump()
    if "hyp" in override:
        override = {**override, "hyp": {**data["hyp"], **override["hyp"]}}
    return TrainConfig.model_validate({**data, **override})


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


class SpecProblem(BaseModel):
    """One problem found in a spec."""

    file: str
    line: int | None
    field: str
    message: str

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecError(UsageError):
    """The spec is not valid; :attr:`problems` lists every problem found."""

    def __init__(self, problems: list[SpecProblem], *, hint: str | None = None) -> None:
        self.problems = problems
        n = len(problems)
        head = f"{problems[0].file}: {n} problem{'s' if n > 1 else ''} in the spec"
        body = "\n".join("  " + p.render() for p in problems)
        super().__init__(f"{head}\n{body}", hint=hint or "Run `prunebench schema` for every field, or see "
                                                            "docs/spec.md.")


# ------------------------------------------------------------------------------------------------
# YAML with line numbers
# ------------------------------------------------------------------------------------------------


def _compose(text: str, file: str) -> tuple[Any, dict[tuple[Any, ...], int], list[SpecProblem]]:
    """Parse YAML safely; return the data, a map from field path to line, and duplicate-key problems."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = f"YAML syntax error: {exc.problem or exc}"
        if exc.context:
            msg += f" ({exc.context})"
        raise SpecError([SpecProblem(file=file, line=line, field="", message=msg)],
                        hint="Fix the YAML syntax (indentation, colons, quotes) at that line.") from exc
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(file=file, line=None, field="", message=f"YAML error: {exc}")]) from exc
    if node is not None:
        size = _expanded_size(node)
        if size > MAX_SPEC_NODES:
            raise SpecError([SpecProblem(file=file, line=None, field="", message=(
                f"the spec expands to more than {MAX_SPEC_NODES:,} values (YAML aliases `*name` repeat whole "
                f"blocks); a spec has a few hundred, so this one is refused before it is built"))],
                hint="Write the values out, or use fewer nested aliases.")
    lines: dict[tuple[Any, ...], int] = {}
    problems: list[SpecProblem] = []

    def walk(n: Any, path: tuple[Any, ...]) -> None:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            seen: set[Any] = set()
            for k, v in n.value:
                key = k.value
                if key in seen:
                    problems.append(SpecProblem(file=file, line=k.start_mark.line + 1,
                                                field=".".join(map(str, (*path, key))),
                                                message=f"duplicate key {key!r}: the first one would be ignored"))
                seen.add(key)
                lines[(*path, key)] = k.start_mark.line + 1
                walk(v, (*path, key))
                lines[(*path, key)] = k.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, (*path, i))

    if node is not None:
        walk(node, ())
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # pragma: no cover - compose succeeded
        raise SpecError([SpecProblem(file=file, line=None, field="", message=f"YAML error: {exc}")]) from exc
    return data, lines, problems


#: the most values a spec may expand to (aliases included): a real spec has a few hundred
MAX_SPEC_NODES = 100_000


def _expanded_size(node: Any) -> int:
    """How many values ``node`` expands to, aliases counted every time they are used (computed without
    expanding them: each distinct node is sized once), capped just above :data:`MAX_SPEC_NODES`."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # being sized: meeting one again means an alias refers to its own block
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        n, children_done = stack.pop()
        if id(n) in sizes:
            continue
        if not children_done and id(n) in open_nodes:
            return MAX_SPEC_NODES + 1  # a recursive alias expands without end
        if isinstance(n, yaml.MappingNode):
            kids = [c for pair in n.value for c in pair]
        elif isinstance(n, yaml.SequenceNode):
            kids = list(n.value)
        else:
            sizes[id(n)] = 1
            continue
        if children_done:
            sizes[id(n)] = min(MAX_SPEC_NODES + 1, 1 + sum(sizes[id(c)] for c in kids))
            open_nodes.discard(id(n))
        else:
            open_nodes.add(id(n))
            stack.append((n, True))
            stack.extend((c, False) for c in kids if id(c) not in sizes)
    return sizes[id(node)]


def _line_for(lines: dict[tuple[Any, ...], int], loc: Iterable[Any]) -> int | None:
    path = tuple(loc)
    if path and (path[0],) not in lines:
        return None  # a default value: not written in the file
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _get(data: Any, loc: Iterable[Any]) -> tuple[bool, Any]:
    cur = data
    for part in loc:
        in_dict = isinstance(cur, dict) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_dict or in_list:
            cur = cur[part]
        else:
            return False, None
    return True, cur


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic adds pseudo-locations for unions and validators ("function-after[...]", "str", "int")
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"str", "int", "float"})))


def _keys_of(model: type[BaseModel]) -> list[str]:
    """The keys a user writes for ``model``: a field's alias where it has one (bn-scale's ``lambda``)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def _allowed_keys(model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    return ", ".join(_keys_of(model))


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the last element of ``loc`` (for 'allowed keys')."""
    model: type[BaseModel] = Spec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        inner = getattr(ann, "__args__", None) or (ann,)
        nxt = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nxt is None:
            return None
        model = nxt
    return model


def _problem_from_pydantic(err: dict[str, Any], data: Any, lines: dict[tuple[Any, ...], int], file: str,
                           prefix: tuple[Any, ...] = (), model: type[BaseModel] | None = None) -> SpecProblem:
    loc = (*prefix, *_clean_loc(tuple(err.get("loc", ()))))
    if not prefix and loc[:1] == ("seeds",) and isinstance(data, dict) and "seed" in data and "seeds" not in data:
        loc = ("seed",)  # the user wrote the shorthand `seed: N`
    field = ".".join(str(p) for p in loc)
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    found, value = _get(data, loc)
    if kind == "extra_forbidden":
        holder = model if model is not None else _model_for(loc)
        allowed = _allowed_keys(holder)
        close = did_you_mean(str(loc[-1]), _keys_of(holder)) if holder is not None else ""
        msg = f"unknown key {loc[-1]!r}.{close}" + (f" Allowed keys: {allowed}." if allowed else "")
    elif kind == "missing":
        msg = "this field is required but missing"
    elif found and kind in ("greater_than", "less_than") and "levels" in loc:
        msg = f"{msg} (got {value!r}); a level is the fraction removed, strictly between 0 and 1, e.g. 0.3"
    elif found and kind not in ("value_error",):
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg = f"{msg} (got {shown})"
    return SpecProblem(file=file, line=_line_for(lines, loc), field=field, message=msg)


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------


def with_device(spec: Spec, device: str | None) -> Spec:
    """The spec with ``device`` replaced (``run/validate --device``); the device is part of the stage keys.

    :raises UsageError: ``device`` is not cpu, cuda, cuda:N or mps.
    """
    if device is None or device == spec.device:
        return spec
    try:
        device = Spec._device(device)
    except ValueError as exc:
        raise UsageError(f"--device: {exc}.") from None
    return spec.model_copy(update={"device": device})


def load_spec(path: str | Path, *, check_plugins: bool = True) -> Spec:
    """Load and validate a spec file; raise :class:`SpecError` listing every problem found."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"Spec file {str(p)!r} does not exist.",
                         hint="Give the path of a YAML spec, e.g. specs/tea-bud-quick.yaml.")
    if p.is_dir():
        raise UsageError(f"Spec path {str(p)!r} is a folder, not a YAML file.")
    text = read_text_file(p, "spec file")
    return parse_spec(text, file=str(p), base_dir=p.parent, check_plugins=check_plugins)


def parse_spec(text: str, *, file: str = "<spec>", base_dir: Path | None = None,
               check_plugins: bool = True) -> Spec:
    """Validate spec text (YAML) and return the resolved spec; raise :class:`SpecError` listing every problem.

    Relative weight paths (and the plugins' own relative paths, such as the ``yolo`` dataset's ``path``)
    are resolved against ``base_dir``. With ``check_plugins`` every plugin name and options mapping is
    checked too and the result is :attr:`Spec.resolved`; without, that happens in :func:`resolve_spec`
    (``build_plan`` calls it), with the same outcome: the stage keys do not depend on it.
    """
    data, lines, problems = _compose(text, file)
    if data is None:
        raise SpecError([SpecProblem(file=file, line=None, field="", message="the spec is empty")],
                        hint="Start from specs/tea-bud-quick.yaml.")
    if not isinstance(data, dict):
        raise SpecError([SpecProblem(file=file, line=1, field="",
                                     message=f"the spec must be a mapping of keys to values, got a "
                                             f"{type(data).__name__}")])
    spec: Spec | None = None
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        problems += [_problem_from_pydantic(e, data, lines, file) for e in exc.errors()]
        if check_plugins:  # every problem at once: the plugin names too, read from the raw mapping
            problems += _raw_name_problems(data, lines, file)
    if spec is not None:
        spec._source_path = Path(file) if file != "<spec>" else None
        spec._source_text = text
        spec._base_dir = base_dir or Path.cwd()
        spec, found = _resolve_paths(spec, data, lines, file)
        problems += found
        if check_plugins:
            spec, found = _resolve_plugins(spec, data, lines, file)
            problems += found
    if problems:
        problems.sort(key=lambda q: (q.line or 0))
        raise SpecError(problems)
    assert spec is not None
    return spec


def resolve_spec(spec: Spec, catalogue: Catalogue | None = None) -> Spec:
    """``spec`` with every plugin name and options mapping checked: itself when already resolved.

    Otherwise a resolved copy (``spec`` is never changed): a dataset shorthand becomes the plugin that
    claims it, each plugin resolves its own relative paths, and each options mapping is validated
    once by the plugin's ``Options`` and written canonically (:meth:`PluginOptions.canonical`), so a
    field and its alias (bn-scale's ``lambda``/``strength``) give the same stage keys.
    Raises :class:`SpecError` naming file, line and field.
    """
    if spec.resolved:
        return spec
    file = str(spec.source_path) if spec.source_path is not None else "<spec>"
    data: Any = spec.model_dump(mode="json")
    lines: dict[tuple[Any, ...], int] = {}
    if spec.source_text is not None:
        data, lines, _ = _compose(spec.source_text, file)
    out, problems = _resolve_plugins(spec, data, lines, file, catalogue)
    if problems:
        problems.sort(key=lambda q: (q.line or 0))
        raise SpecError(problems)
    return out


def _resolve_paths(spec: Spec, data: Any, lines: dict[tuple[Any, ...], int],
                   file: str) -> tuple[Spec, list[SpecProblem]]:
    """A copy of ``spec`` with the models' weight paths resolved; problems with paths and model budgets."""
    problems: list[SpecProblem] = []
    base = spec._base_dir or Path.cwd()
    out = spec.model_copy(deep=True)
    for i, m in enumerate(out.models):
        if m.weights is not None:
            q = _resolve_path(m.weights, base)
            if not q.is_file():
                problems.append(SpecProblem(file=file, line=_line_for(lines, ("models", i, "weights")),
                                            field=f"models.{i}.weights",
                                            message=f"weights file {str(m.weights)!r} " + (
                                                "is a folder, not a file" if q.is_dir() else
                                                f"does not exist (looked for {str(q)!r})")))
            else:
                m.weights = q
        problems += _check_budget_overrides(out, i, data, lines, file)
    return out, problems


def _resolve_path(raw: str | Path, base: Path) -> Path:
    q = Path(raw).expanduser()
    return q if q.is_absolute() or q.exists() else base / q


def _check_budget_overrides(spec: Spec, i: int, data: Any, lines: dict[tuple[Any, ...], int],
                            file: str) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    m = spec.models[i]
    for budget, base_cfg in (("train", spec.train), ("finetune", spec.finetune)):
        override = getattr(m, budget)
        if override:
            try:
                _merge(base_cfg, override)
            except ValidationError as exc:
                problems += [_problem_from_pydantic(e, data, lines, file, ("models", i, budget), TrainConfig)
                             for e in exc.errors()]
    return problems


def _plugin_refs(spec: Spec) -> list[tuple[str, tuple[Any, ...], _WithOptions]]:
    """Every entry of ``spec`` that names a plugin: (kind, location in the spec, entry)."""
    refs: list[tuple[str, tuple[Any, ...], _WithOptions]] = [("dataset", ("dataset",), spec.dataset),
                                                              ("executor", ("executor",), spec.executor)]
    refs += [("model", ("models", i), m) for i, m in enumerate(spec.models)]
    refs += [("pruner", ("pruners", i), p) for i, p in enumerate(spec.pruners)]
    refs += [("metric", ("metrics", i), m) for i, m in enumerate(spec.metrics)]
    refs += [("reporter", ("reporters", i), r) for i, r in enumerate(spec.reporters)]
    return refs


def _raw_name_problems(data: dict[str, Any], lines: dict[tuple[Any, ...], int], file: str) -> list[SpecProblem]:
    """Unknown plugin names in a spec that failed validation (so that one run reports every problem)."""
    from prunebench.plugins import get_catalogue

    modules = data.get("plugins") or []
    try:
        cat = get_catalogue([str(m) for m in modules] if isinstance(modules, list) else [])
    except UsageError:
        return []
    named: list[tuple[str, tuple[Any, ...], Any]] = []
    for kind, key in (("model", "models"), ("pruner", "pruners"), ("metric", "metrics"), ("reporter", "reporters")):
        entries = data.get(key)
        if isinstance(entries, list):
            named += [(kind, (key, i), e) for i, e in enumerate(entries)]
    if "executor" in data:
        named.append(("executor", ("executor",), data["executor"]))
    problems: list[SpecProblem] = []
    for kind, loc, entry in named:
        name = entry if isinstance(entry, str) else entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            continue
        try:
            cat.registry(kind).get(name)  # type: ignore[attr-defined]
        except UsageError as exc:
            problems.append(SpecProblem(file=file, line=_line_for(lines, loc),
                                        field=".".join(map(str, (*loc, "name"))), message=exc.message))
    return problems


def _dataset_shorthand(ref: PluginRef, cat: Catalogue) -> PluginRef:
    """``dataset: TEXT``: a registered dataset name, or the string one dataset plugin claims."""
    if ref.options or ref.name in cat.datasets:
        return ref
    for name in cat.datasets.names():
        options = cat.datasets.get(name).from_shorthand(ref.name)
        if options is not None:
            return PluginRef(name=name, options=options)
    return ref


def _resolve_plugins(spec: Spec, data: Any, lines: dict[tuple[Any, ...], int], file: str,
                     cat: Catalogue | None = None) -> tuple[Spec, list[SpecProblem]]:
    """The resolved copy of ``spec`` (see :func:`resolve_spec`) and the problems found."""
    from prunebench.contracts import remember_validated
    from prunebench.plugins import get_catalogue

    if cat is None:
        try:
            cat = get_catalogue(spec.plugins)
        except UsageError as exc:
            return spec, [SpecProblem(file=file, line=_line_for(lines, ("plugins",)), field="plugins",
                                      message=exc.message)]
    out = spec.model_copy(deep=True)
    out.dataset = _dataset_shorthand(out.dataset, cat)
    base = spec._base_dir or Path.cwd()
    problems: list[SpecProblem] = []
    seen: set[tuple[str, str]] = set()
    for kind, loc, ref in _plugin_refs(out):
        field = ".".join(map(str, (*loc, "name")))
        line = _line_for(lines, loc)
        if kind in ("metric", "reporter"):
            if (kind, ref.name) in seen:
                problems.append(SpecProblem(file=file, line=line, field=field,
                                            message=f"{kind} {ref.name!r} is listed twice"))
            seen.add((kind, ref.name))
        try:
            cls = cat.registry(kind).get(ref.name)  # type: ignore[attr-defined]
        except UsageError as exc:
            message = exc.message
            if kind == "dataset":
                message += " A string may also be the path of a YOLO data.yaml (ending in .yaml)."
            problems.append(SpecProblem(file=file, line=line, field=field, message=message))
            continue
        try:
            validated: PluginOptions = cls.Options.model_validate(ref.options)
        except ValidationError as exc:
            problems += [_problem_from_pydantic(e, data, lines, file, (*loc, "options"), cls.Options)
                         for e in exc.errors()]
            continue
        validated, found = cls.resolve_options(validated, base)
        for option, message in found:
            oloc = (*loc, "options", option)
            problems.append(SpecProblem(file=file, line=_line_for(lines, oloc), field=".".join(map(str, oloc)),
                                        message=message))
        ref.options = validated.canonical()
        ref._validated = validated
        remember_validated(validated)  # a stage instantiating the plugin from ref.options reuses it
    out._resolved = not problems
    return out, problems


def spec_schema() -> dict[str, Any]:
    """The JSON schema of the spec (for editors)."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "prunebench spec"
    return schema
