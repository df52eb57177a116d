"""Aggregate stored cells into table rows: mean ± std over seeds, retention against the baseline."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prunebench.defaults import DEFAULT_METRICS  # the tea-bud study's columns, in order; always shown
from prunebench.report.uncertainty import speedup_rows
from prunebench.suite.results import CellResult, Results

__all__ = [
    "DEFAULT_METRICS",
    "RETENTION",
    "BestPruner",
    "Row",
    "Stat",
    "best_pruners",
    "latency_setting",
    "metric_columns",
    "metric_info",
    "model_rows",
    "short_error",
    "summarize",
]


#: Retention figures against the same seed's baseline: name -> (metric, how, label).
#: ``ratio`` is value / baseline, ``inverse`` is baseline / value (a speed-up). The speed-up is the speed
#: stage's interleaved ratio (its first runtime) where the run has a ``speed:`` section, else the ratio of
#: the separately timed ``latency_ms`` figures.
RETENTION: dict[str, tuple[str, str, str]] = {
    "map50_kept": ("map50", "ratio", "mAP50 kept %"),
    "map50_95_kept": ("map50_95", "ratio", "mAP50-95 kept %"),
    "params_kept": ("params", "ratio", "Params kept %"),
    "speedup": ("latency_ms", "inverse", "Speed-up x"),
}


@dataclass(frozen=True)
class Stat:
    """A figure over seeds: mean, sample standard deviation (None with one value) and count."""

    mean: float | None
    std: float | None = None
    n: int = 0

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Stat:
        vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not vals:
            return cls(None, None, 0)
        std = statistics.stdev(vals) if len(vals) > 1 else None
        return cls(statistics.fmean(vals), std, len(vals))

    @property
    def missing(self) -> bool:
        return self.mean is None


@dataclass
class Row:
    """One table row: a model, a pruner (None: baseline) and a level, over every seed."""

    model: str
    pruner: str | None
    level: float
    cells: list[CellResult]
    values: dict[str, Stat] = field(default_factory=dict)
    retention: dict[str, Stat] = field(default_factory=dict)

    @property
    def is_baseline(self) -> bool:
        return self.pruner is None

    @property
    def done(self) -> list[CellResult]:
        return [c for c in self.cells if c.status == "done"]

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.status == "failed"]

    @property
    def status(self) -> str:
        """``done``, ``failed`` (every seed failed), ``partial`` or ``pending``."""
        if self.cells and len(self.done) == len(self.cells):
            return "done"
        if self.cells and len(self.failed) == len(self.cells):
            return "failed"
        if self.done or self.failed:
            return "partial"
        return "pending"

    @property
    def note(self) -> str:
        """A short remark for the table: failures and missing seeds."""
        n = len(self.cells)
        if self.status == "failed":
            return "failed: " + short_error(self.failed[0].error, 48)
        parts = []
        if self.failed:
            parts.append(f"{len(self.failed)}/{n} seeds failed: {short_error(self.failed[0].error, 40)}")
        pending = n - len(self.done) - len(self.failed)
        if pending:
            parts.append(f"{pending}/{n} seeds pending")
        return "; ".join(parts)

    def mean(self, metric: str) -> float | None:
        stat = self.values.get(metric) or self.retention.get(metric)
        return None if stat is None else stat.mean

    @property
    def label(self) -> str:
        return "baseline" if self.pruner is None else self.pruner


@dataclass(frozen=True)
class BestPruner:
    """The best pruner of one model at one level by a metric; ``tied`` lists pruners equal to it."""

    model: str
    level: float
    metric: str
    best: str
    value: float
    tied: tuple[str, ...] = ()
    runner_up: str | None = None
    margin: float | None = None


def short_error(error: str | None, width: int = 60) -> str:
    """The last line of an error (usually ``Type: message``), cut to ``width`` characters."""
    if not error:
        return "unknown error"
    lines = [ln.strip() for ln in str(error).strip().splitlines() if ln.strip()]
    text = lines[-1] if lines else str(error)
    return text if len(text) <= width else text[: width - 1] + "…"


def _registered_info(name: str) -> dict[str, Any]:
    """The metric class's own metadata (:meth:`Metric.info`), for stores that lack some of it."""
    from prunebench.errors import UsageError
    from prunebench.plugins import get_catalogue

    try:
        cls = get_catalogue().metrics.get(name)
    except UsageError:
        return {}
    return cls.info() if hasattr(cls, "info") else {}


def metric_info(results: Results, name: str) -> dict[str, Any]:
    """How to show ``name``: what the store says (written from the metric class when it was measured),
    completed from the registered metric class (older stores have no labels), then generic defaults."""
    info: dict[str, Any] = {"unit": "", "higher_is_better": True, "kind": "accuracy", "fmt": ".4g", "label": "",
                            "axis": "", "description": ""}
    stored = {k: v for k, v in (results.metric_info or {}).get(name, {}).items() if v not in (None, "")}
    if not stored.get("label") and (name in (results.metric_info or {}) or name in DEFAULT_METRICS):
        info.update({k: v for k, v in _registered_info(name).items() if v not in (None, "")})
    info.update(stored)
    for key in ("label", "axis"):
        if "{unit}" in str(info.get(key, "")):
            info[key] = str(info[key]).replace("{unit}", str(info["unit"] or "")).strip()
    if not info["label"]:
        info["label"] = f"{name} ({info['unit']})" if info["unit"] else name
    return info


def metric_columns(results: Results, *, auxiliary: bool = False) -> list[str]:
    """The tea-bud study's columns first, then every other metric of the run.

    Without ``auxiliary`` only registered metrics (those in ``metric_info``) are added; with it, every
    figure any cell stored (auxiliary figures such as ``latency_p90_ms`` or ``latency_threads``), as the
    JSON/CSV exports want.
    """
    extra: dict[str, None] = {k: None for k in results.metric_info or {} if k not in DEFAULT_METRICS}
    if auxiliary:
        for c in results.cells:
            for k in c.metrics:
                if k not in DEFAULT_METRICS:
                    extra[k] = None
    return [*DEFAULT_METRICS, *extra]


def _level_key(level: float) -> float:
    return round(float(level), 6)


def summarize(results: Results) -> list[Row]:
    """Every row of every model: baseline first, then each pruner's levels in increasing order."""
    columns = metric_columns(results)
    groups: dict[tuple[str, str | None, float], list[CellResult]] = {}
    for c in results.cells:
        level = 0.0 if c.pruner is None else _level_key(c.level)
        groups.setdefault((c.model, c.pruner, level), []).append(c)
    pruner_order = {p: i for i, p in enumerate(results.pruners)}
    model_order = {m: i for i, m in enumerate(results.models)}

    def order(k: tuple[str, str | None, float]) -> tuple[int, int, float]:
        model, pruner, level = k
        return (model_order[model], -1 if pruner is None else pruner_order[pruner], level)

    rows: list[Row] = []
    for key in sorted(groups, key=order):
        model, pruner, level = key
        cells = sorted(groups[key], key=lambda c: c.seed)
        done = [c for c in cells if c.status == "done"]
        row = Row(model=model, pruner=pruner, level=level, cells=cells)
        row.values = {m: Stat.of(c.metrics.get(m) for c in done) for m in columns}
        rows.append(row)
    speed = speedup_rows(results)
    for row in rows:
        row.retention = _retention(results, row, rows, speed)
    return rows


def _retention(results: Results, row: Row, rows: Sequence[Row],
               speed: dict[str, dict[str, Any]]) -> dict[str, Stat]:
    base_row = next((r for r in rows if r.model == row.model and r.is_baseline), None)
    out: dict[str, Stat] = {}
    for name, (metric, how, _label) in RETENTION.items():
        if name == "speedup" and speed:  # interleaved in one process: never two absolute times taken apart
            out[name] = Stat.of(speed[c.key]["speedup"] if c.key in speed else None for c in row.done)
            continue
        ratios: list[float | None] = []
        for c in row.done:
            base = results.baseline(row.model, c.seed)
            b = base.metrics.get(metric) if base is not None and base.status == "done" else None
            if b is None and base_row is not None:  # this seed has no baseline: use the baseline mean
                b = base_row.values.get(metric, Stat(None)).mean
            v = c.metrics.get(metric)
            ratios.append(_ratio(v, b, how))
        out[name] = Stat.of(ratios)
    return out


def _ratio(value: float | None, base: float | None, how: str) -> float | None:
    if value is None or base is None:
        return None
    num, den = (value, base) if how == "ratio" else (base, value)
    if not den or not math.isfinite(num) or not math.isfinite(den):
        return None
    return float(num) / float(den)


def model_rows(rows: Sequence[Row], model: str) -> list[Row]:
    """The rows of one model, baseline first."""
    return [r for r in rows if r.model == model]


def best_pruners(rows: Sequence[Row], metric: str = "map50_95", *, decimals: int = 3) -> list[BestPruner]:
    """Per model and level, the pruner with the best mean ``metric``; equal when equal at ``decimals``."""
    out: list[BestPruner] = []
    keys = dict.fromkeys((r.model, r.level) for r in rows if not r.is_baseline)
    for model, level in keys:
        cands = [(r.pruner, r.mean(metric)) for r in rows
                 if r.model == model and r.level == level and not r.is_baseline]
        scored = sorted(((v, p) for p, v in cands if v is not None and p is not None), reverse=True)
        if len({p for p, _ in cands}) < 2 or not scored:
            continue
        best_v, best_p = scored[0]
        tied = tuple(p for v, p in scored[1:] if round(v, decimals) == round(best_v, decimals))
        rest = [(v, p) for v, p in scored[1:] if p not in tied]
        runner = rest[0] if rest else None
        out.append(BestPruner(model=model, level=level, metric=metric, best=best_p, value=best_v,
                              tied=tied, runner_up=runner[1] if runner else None,
                              margin=best_v - runner[0] if runner else None))
    return out


def latency_setting(results: Results) -> str:
    """Where latency was measured, e.g. ``"cpu, 2 threads, imgsz 640, batch 1"`` (from the stored run)."""
    env = results.environment or {}
    lat = env.get("latency") if isinstance(env.get("latency"), dict) else {}
    spec = results.spec or {}

    def pick(*keys: str) -> Any:
        for k in keys:
            for src in (lat, env):
                if src.get(k) not in (None, ""):
                    return src[k]
        return None

    for m in spec.get("metrics") or []:  # the latency metric's own options win
        if isinstance(m, dict) and m.get("name") == "latency_ms" and isinstance(m.get("options"), dict):
            lat = {**m["options"], **lat}
    measured = next((c.metrics for c in results.cells if c.status == "done" and "latency_ms" in c.metrics), {})
    device = pick("device", "latency_device")
    threads = measured.get("latency_threads") or pick("threads", "num_threads", "torch_threads",
                                                      "latency_threads")
    imgsz = measured.get("latency_imgsz") or pick("imgsz", "latency_imgsz")
    batch = measured.get("latency_batch") or 1
    if imgsz is None:
        for section in ("latency", "evaluate", "finetune", "train"):
            sec = spec.get(section)
            if isinstance(sec, dict) and sec.get("imgsz"):
                imgsz = sec["imgsz"]
                break
    parts = [str(device) if device else "device not recorded"]
    parts.append(f"{threads:g} threads" if isinstance(threads, int | float) else
                 f"{threads} threads" if threads else "threads not recorded")
    parts.append(f"imgsz {imgsz:g}" if isinstance(imgsz, int | float) else
                 f"imgsz {imgsz}" if imgsz else "imgsz not recorded")
    parts.append(f"batch {batch:g}" if isinstance(batch, int | float) else f"batch {batch}")
    return ", ".join(parts)
