"""The suite's own overhead (planning, cache keys, the SQLite store, resuming), with pytest-benchmark.

Run: ``pytest benchmarks/bench_suite_overhead.py --benchmark-enable`` (add ``--benchmark-autosave`` to
track it across commits, then ``pytest-benchmark compare``). None of these touch training, pruning or
evaluation compute: they time what the suite adds around it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prunebench.plugins import get_catalogue
from prunebench.spec import load_spec, with_device
from prunebench.suite.plan import build_plan
from prunebench.suite.results import load_results
from prunebench.suite.stage import StageResult
from prunebench.suite.store import Store

ROOT = Path(__file__).resolve().parent.parent


def _evaluate_result(run_dir: Path, key: str) -> StageResult:
    """A result shaped like a real evaluation: 11 metrics and P/R/F1/PR curves of 1000 points."""
    curve = [i / 1000 for i in range(1000)]
    return StageResult(kind="evaluate", metrics={f"m{i}": 0.5 for i in range(11)},
                       curves={"px": curve, "p_curve": [curve], "r_curve": [curve], "f1_curve": [curve],
                               "pr_recall": curve, "pr_precision": [curve]},
                       started=0.0, finished=1.0, seconds=1.0, compute_seconds=1.0)


def _history(epochs: int) -> list[dict[str, float]]:
    cols = ("train/box_loss", "train/obj_loss", "train/cls_loss", "metrics/precision", "metrics/recall",
            "metrics/mAP_0.5", "metrics/mAP_0.5:0.95", "val/box_loss", "val/obj_loss", "val/cls_loss")
    return [{"epoch": e, **dict.fromkeys(cols, 0.1)} for e in range(epochs)]


@pytest.fixture(scope="module")
def full_spec() -> Any:
    # the study as `--device cpu` plans it: its speed section's GPU runtimes are refused on a machine without one
    return with_device(load_spec(ROOT / "specs" / "tea-bud.yaml", check_plugins=False), "cpu")


def test_plan_full_study(benchmark: Any, full_spec: Any) -> None:
    """Expand the full tea-bud study (3 models x 4 pruners x 3 levels x 3 seeds + baselines) into stages."""
    cat = get_catalogue()
    if any(p.name not in cat.pruners for p in full_spec.pruners):
        full_spec = full_spec.model_copy(update={"pruners": [p for p in full_spec.pruners if p.name in cat.pruners]})
    plan = benchmark(build_plan, full_spec, cat, threads=1)
    assert len(plan.cells) >= 9


def test_store_full_study(benchmark: Any, full_spec: Any, tmp_path: Path) -> None:
    """Write every stage of the full study (histories of 100/50 epochs, curves) and read Results back."""
    cat = get_catalogue()
    spec = full_spec.model_copy(update={"pruners": [p for p in full_spec.pruners if p.name in cat.pruners]})
    plan = build_plan(spec, cat, threads=1)
    rounds = iter(range(10**6))

    def write_and_read() -> int:
        run_dir = tmp_path / f"r{next(rounds)}"
        run_dir.mkdir()
        with Store(run_dir) as store:
            run_id = store.start_run(name="bench", spec={}, spec_text="", environment={}, plan=plan,
                                     executor="local")
            for stage in plan.stage_list():
                if stage.kind == "evaluate":
                    result = _evaluate_result(run_dir, stage.key)
                else:
                    result = StageResult(kind=stage.kind, started=0.0, finished=1.0, seconds=1.0,
                                         compute_seconds=1.0)
                    if stage.kind in ("train", "finetune", "sparsity"):
                        result.history = _history(100 if stage.kind == "train" else 50)
                store.finish_stage(stage, result, None, run_id)
            for cell in plan.cells:
                store.finish_cell(cell, "done", None, run_id)
            assert len(store.cached_results(plan)) == len(plan.stages)
        return len(load_results(run_dir).cells)

    cells = benchmark.pedantic(write_and_read, rounds=3, iterations=1)
    assert cells == len(plan.cells)
