"""What a stage is (:class:`Stage`) and what it returns (:class:`StageResult`), with its files (:class:`Artifact`).

A :class:`StageResult` is the one typed path of a stage's outcome: the stage function returns it, the
executor carries it back to the driver (it pickles: plain data, never a model object), the store persists
it field by field and reads it back, and ``stages/<key>/stage.json`` keeps a copy so that a damaged store
can be rebuilt. New stage kinds add what they produce to the generic fields (``values`` for small scalars,
``diagnostics`` for named arrays, values and tables) and need no change of the store's schema.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

__all__ = ["STAGE_JSON", "Artifact", "Diagnostic", "Stage", "StageResult", "file_sha256", "jsonable",
           "rel_path", "resolve_path"]

#: the file in every stage folder that holds the stage's description and its :class:`StageResult`
STAGE_JSON = "stage.json"
#: the version of the ``stage.json`` layout
STAGE_JSON_FORMAT = 1

#: A diagnostic: a number, a string, an array (list), a mapping of those (``{"before": [...], "after": [...]}``)
#: or a table (a list of row mappings). Anything JSON can hold.
Diagnostic = float | int | str | bool | None | list[Any] | dict[str, Any]


@dataclass(frozen=True)
class Stage:
    """One unit of work. ``inputs`` hold everything it depends on (hashed); ``params`` how to run it."""

    key: str
    kind: str
    deps: tuple[str, ...]
    inputs: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)  # not hashed: labels, plugin modules, threads
    label: str = ""

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stage) and other.key == self.key

    def describe(self) -> dict[str, Any]:
        """The stage as ``stage.json`` and the store keep it (``params`` are how to run it, not kept)."""
        return {"key": self.key, "kind": self.kind, "label": self.label, "deps": list(self.deps),
                "inputs": self.inputs}


@dataclass
class Artifact:
    """A file a stage wrote (or reuses): its path (relative to the run folder when inside it), size and hash."""

    path: str
    size: int | None = None
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Artifact:
        return cls(path=str(data["path"]), size=None if data.get("size") is None else int(data["size"]),
                   sha256=data.get("sha256"))


@dataclass
class StageResult:
    """The outcome of one stage, as every part of the suite sees it.

    :param kind: the stage kind (``data``, ``train``, ``sparsity``, ``prune``, ``finetune``, ``evaluate``, …).
    :param artifacts: name -> file. ``weights`` is the checkpoint a downstream stage continues from;
        the data stage's ``data_yaml`` is the dataset's descriptor. Size and SHA-256 are filled in when the
        stage finishes and verified when the stage is reused.
    :param values: small JSON scalars and lists (``nc``, ``names``, ``best_fitness``, ``epochs_run``, …).
    :param history: one row per training epoch (the results.csv columns).
    :param metrics: metric name -> value (evaluate stages; None where a metric had no value).
    :param metric_info: metric name -> unit, higher_is_better, kind, fmt, description.
    :param curves: the P/R/F1 and PR curves of an evaluate stage.
    :param record: a prune stage's :class:`~prunebench.contracts.PruneRecord` as a mapping.
    :param diagnostics: named arrays, values and tables any plugin may attach (a pruner's BN γ
        magnitudes as ``bn_gamma``, per-image statistics, a latency table, …). Kept generically.
    :param started: wall-clock start (seconds since the epoch).
    :param finished: wall-clock end.
    :param seconds: ``finished - started``.
    :param compute_seconds: the part spent in training, pruning and evaluation compute.
    """

    kind: str
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float | None] = field(default_factory=dict)
    metric_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] | None = None
    diagnostics: dict[str, Diagnostic] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None
    seconds: float | None = None
    compute_seconds: float | None = None

    # -- reading -----------------------------------------------------------------------------------

    def path(self, name: str) -> str:
        """The path of artifact ``name`` (KeyError naming the ones there are when it is missing)."""
        try:
            return self.artifacts[name].path
        except KeyError:
            raise KeyError(f"{self.kind} result has no artifact {name!r} (has: {sorted(self.artifacts)})") from None

    @property
    def weights(self) -> str | None:
        """The checkpoint a downstream stage continues from, if this stage has one."""
        art = self.artifacts.get("weights")
        return art.path if art is not None else None

    # -- (de)serialising ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (NaN and infinities become None)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["artifacts"] = {name: a.to_dict() for name, a in self.artifacts.items()}
        return jsonable(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageResult:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown StageResult fields {unknown} (known: {sorted(known)})")
        kw = dict(data)
        kw["artifacts"] = {str(n): Artifact.from_dict(a) for n, a in (data.get("artifacts") or {}).items()}
        for name in ("values", "metrics", "metric_info", "curves", "diagnostics"):
            kw[name] = dict(data.get(name) or {})
        kw["history"] = list(data.get("history") or [])
        return cls(**kw)


def write_stage_json(out_dir: Path, stage: Stage, result: StageResult) -> Path:
    """Write ``out_dir/stage.json`` atomically: the stage's description and its result."""
    payload = {"format": STAGE_JSON_FORMAT, "stage": jsonable(stage.describe()), "result": result.to_dict()}
    path = out_dir / STAGE_JSON
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(payload, f, separators=(",", ":"), allow_nan=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_stage_json(path: Path) -> tuple[dict[str, Any], StageResult]:
    """``(stage description, result)`` from a ``stage.json``; ValueError when it is not one."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != STAGE_JSON_FORMAT:
        raise ValueError(f"{path}: not a prunebench stage.json of format {STAGE_JSON_FORMAT}")
    desc = payload.get("stage")
    if not isinstance(desc, dict) or not {"key", "kind", "deps", "inputs"} <= set(desc):
        raise ValueError(f"{path}: the stage description lacks key, kind, deps or inputs")
    try:
        result = StageResult.from_dict(payload.get("result") or {})
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return desc, result


# --------------------------------------------------------------------------------------------------
# Paths, hashes and JSON
# --------------------------------------------------------------------------------------------------


def rel_path(run_dir: Path, path: str | Path) -> str:
    """``path`` relative to the run folder when inside it (so the folder can move), else absolute."""
    p = Path(path).resolve()
    try:
        return p.relative_to(Path(run_dir).resolve()).as_posix()
    except ValueError:
        return str(p)


def resolve_path(run_dir: Path, path: str) -> Path:
    """A stored path (relative to the run folder, or absolute) as a path on this machine."""
    p = Path(path)
    return p if p.is_absolute() else Path(run_dir) / p


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file (memoised per path, size and modification time)."""
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _FILE_HASHES:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _FILE_HASHES[memo] = h.hexdigest()
    return _FILE_HASHES[memo]


def jsonable(obj: Any) -> Any:
    """Turn numpy arrays, tensors, dataclasses and paths into plain JSON types (NaN/inf become None)."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(asdict(obj))
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, torch tensors
        return jsonable(obj.tolist())
    if hasattr(obj, "item"):
        return jsonable(obj.item())
    return str(obj)
