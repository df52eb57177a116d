"""The benchmark spec: pydantic models, safe YAML loading, and errors that name file, line and field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

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

from prunebench.engine.config import EvalConfig, TrainConfig
from prunebench.errors import UsageError, did_you_mean

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
]

DEFAULT_METRICS = ("params", "gflops", "size_mb", "latency_ms", "precision", "recall", "f1", "map50", "map50_95")
DEFAULT_REPORTERS = ("console", "json", "csv", "plots", "markdown", "html")
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


Level = Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False,
                                description="fraction of channels (or params/FLOPs) removed")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginRef(_Strict):
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


class ModelEntry(_Strict):
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


class PrunerEntry(_Strict):
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
        return [float(x) for x in levels]

    @property
    def key(self) -> str:
        return self.label or self.name


class Spec(_Strict):
    """A whole benchmark: what to train, prune, fine-tune, measure and report."""

    name: str = Field(min_length=1, max_length=100, description="name of the study (the run folder's default name)")
    description: str = Field("", description="free text shown in the report")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1,
                             description="random seeds; every cell runs once per seed (`seed: 0` also works)")
    device: str = Field("cpu", description="cpu, cuda, cuda:N or mps")
    output: Path | None = Field(None, description="run folder (default runs/<name>), relative to the current directory")
    plugins: list[str] = Field(default_factory=list, description="extra plugin modules to load (import names)")
    dataset: PluginRef = Field(default_factory=lambda: PluginRef(name="tea-bud-synth"),
                               description="a dataset plugin, or a path to a YOLO data.yaml")
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
    executor: PluginRef = Field(default_factory=lambda: PluginRef(name="local"), description="local or ray")

    _source_path: Path | None = PrivateAttr(None)
    _source_text: str | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _seed_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "seed" in data:
            data = dict(data)
            seed = data.pop("seed")
            if "seeds" in data:
                raise ValueError("give either `seed` or `seeds`, not both")
            data["seeds"] = [seed]
        if isinstance(data, dict) and isinstance(data.get("dataset"), str):
            data = {**data, "dataset": {"name": "yolo", "options": {"path": data["dataset"]}}}
        return data

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


def _allowed_keys(model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    return ", ".join(model.model_fields)


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
    field = ".".join(str(p) for p in loc)
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    found, value = _get(data, loc)
    if kind == "extra_forbidden":
        holder = model if model is not None else _model_for(loc)
        allowed = _allowed_keys(holder)
        close = did_you_mean(str(loc[-1]), holder.model_fields) if holder is not None else ""
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


def load_spec(path: str | Path, *, check_plugins: bool = True) -> Spec:
    """Load and validate a spec file; raise :class:`SpecError` listing every problem found."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"Spec file {str(p)!r} does not exist.",
                         hint="Give the path of a YAML spec, e.g. specs/tea-bud-quick.yaml.")
    if p.is_dir():
        raise UsageError(f"Spec path {str(p)!r} is a folder, not a YAML file.")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read spec file {str(p)!r}: {exc}") from exc
    return parse_spec(text, file=str(p), base_dir=p.parent, check_plugins=check_plugins)


def parse_spec(text: str, *, file: str = "<spec>", base_dir: Path | None = None,
               check_plugins: bool = True) -> Spec:
    """Validate spec text (YAML). Relative data and weight paths are resolved against ``base_dir``."""
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
    if spec is not None:
        problems += _check_paths(spec, data, lines, file, base_dir)
        if check_plugins and not problems:
            problems += _check_plugins(spec, data, lines, file)
    if problems:
        problems.sort(key=lambda q: (q.line or 0))
        raise SpecError(problems)
    assert spec is not None
    spec._source_path = Path(file) if file != "<spec>" else None
    spec._source_text = text
    return spec


def _check_paths(spec: Spec, data: Any, lines: dict[tuple[Any, ...], int], file: str,
                 base_dir: Path | None) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    base = base_dir or Path.cwd()

    def resolve(raw: str | Path) -> Path:
        q = Path(raw).expanduser()
        if q.is_absolute() or q.exists():
            return q
        return base / q

    ds_path = spec.dataset.options.get("path")
    if spec.dataset.name == "yolo" and isinstance(ds_path, str | Path):
        q = resolve(ds_path)
        if not q.exists():
            loc = ("dataset", "options", "path") if ("dataset", "options", "path") in lines else ("dataset",)
            problems.append(SpecProblem(file=file, line=_line_for(lines, loc), field="dataset.options.path",
                                        message=f"dataset file {str(ds_path)!r} does not exist (looked for "
                                                f"{str(q)!r}); give the path of a YOLO data.yaml, or use "
                                                f"`dataset: {{name: tea-bud-synth}}` to generate one"))
        else:
            spec.dataset.options["path"] = str(q)
    for i, m in enumerate(spec.models):
        if m.weights is not None:
            q = resolve(m.weights)
            if not q.is_file():
                problems.append(SpecProblem(file=file, line=_line_for(lines, ("models", i, "weights")),
                                            field=f"models.{i}.weights",
                                            message=f"weights file {str(m.weights)!r} does not exist"))
            else:
                m.weights = q
        for budget in ("train", "finetune"):
            override = getattr(m, budget)
            if override:
                base_cfg = spec.train if budget == "train" else spec.finetune
                try:
                    _merge(base_cfg, override)
                except ValidationError as exc:
                    problems += [_problem_from_pydantic(e, data, lines, file, ("models", i, budget), TrainConfig)
                                 for e in exc.errors()]
    return problems


def _check_plugins(spec: Spec, data: Any, lines: dict[tuple[Any, ...], int], file: str) -> list[SpecProblem]:
    """Check every plugin name against the catalogue and every options mapping against its ``Options``."""
    from prunebench.plugins import get_catalogue

    try:
        cat = get_catalogue(spec.plugins)
    except UsageError as exc:
        return [SpecProblem(file=file, line=_line_for(lines, ("plugins",)), field="plugins", message=exc.message)]
    problems: list[SpecProblem] = []
    refs: list[tuple[str, tuple[Any, ...], Any]] = [("dataset", ("dataset",), spec.dataset),
                                                    ("executor", ("executor",), spec.executor)]
    refs += [("model", ("models", i), m) for i, m in enumerate(spec.models)]
    refs += [("pruner", ("pruners", i), p) for i, p in enumerate(spec.pruners)]
    refs += [("metric", ("metrics", i), m) for i, m in enumerate(spec.metrics)]
    refs += [("reporter", ("reporters", i), r) for i, r in enumerate(spec.reporters)]
    seen: dict[tuple[str, str], int] = {}
    for kind, loc, ref in refs:
        registry = cat.registry(kind)
        field = ".".join(map(str, (*loc, "name")))
        if kind in ("metric", "reporter"):
            if (kind, ref.name) in seen:
                problems.append(SpecProblem(file=file, line=_line_for(lines, loc), field=field,
                                            message=f"{kind} {ref.name!r} is listed twice"))
            seen[(kind, ref.name)] = 1
        try:
            cls = registry.get(ref.name)
        except UsageError as exc:
            problems.append(SpecProblem(file=file, line=_line_for(lines, loc), field=field, message=exc.message))
            continue
        options_model = getattr(cls, "Options", None)
        if options_model is None:
            continue
        try:
            validated = options_model.model_validate(ref.options)
        except ValidationError as exc:
            for e in exc.errors():
                problems.append(_problem_from_pydantic(e, data, lines, file, (*loc, "options"), options_model))
            continue
        ref.options.clear()
        ref.options.update(validated.model_dump(exclude_unset=True, mode="json"))
    return problems


def spec_schema() -> dict[str, Any]:
    """The JSON schema of the spec (for editors)."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "prunebench spec"
    return schema
