"""A realistic stored run for the reporting tests: 2 models, baseline + 2 pruners x 3 levels, 2 seeds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from prunebench.suite.results import CellResult, Results

MODELS = {"yolov5n": (1_760_518, 4.1, 3.9, 0.70, 0.36, 21.0), "yolov5s": (7_012_822, 15.8, 14.4, 0.78, 0.42, 48.0)}
PRUNERS = ("l1", "bn-scale")
LEVELS = (0.3, 0.6, 0.9)
SEEDS = (0, 1)
FAILED_KEY = "yolov5s/bn-scale/0.9/s1"
FAILED_ERROR = ("Traceback (most recent call last):\n  File x\n"
                "RuntimeError: pruning removed every channel of model.9.cv2.conv")


def _curves(map50: float, rng: np.random.Generator) -> dict[str, object]:
    px = np.linspace(0, 1, 1000)
    p = np.clip(px ** 0.5 * (0.6 + map50 * 0.4), 0, 1)
    r = np.clip((1 - px ** 2) * (0.5 + map50 * 0.5), 0, 1)
    f1 = 2 * p * r / (p + r + 1e-16)
    recall = np.linspace(0, 1, 1000)
    precision = np.clip(1 - recall ** (1 / max(1 - map50, 0.05)) + rng.normal(0, 0.005, 1000), 0, 1)
    return {"px": px.tolist(), "p_curve": [p.tolist()], "r_curve": [r.tolist()], "f1_curve": [f1.tolist()],
            "pr_recall": recall.tolist(), "pr_precision": [precision.tolist()], "names": ["tea-bud"]}


def _history(epochs: int, start: float, with_val: bool = True) -> list[dict[str, float]]:
    rows = []
    for e in range(epochs):
        decay = math.exp(-e / 4)
        row = {"epoch": float(e), "train/box_loss": start * (0.5 + 0.5 * decay),
               "train/obj_loss": start * 0.4 * (0.6 + 0.4 * decay), "train/cls_loss": 0.0}
        if with_val:
            row.update({"val/box_loss": start * (0.55 + 0.45 * decay),
                        "val/obj_loss": start * 0.45 * (0.6 + 0.4 * decay), "val/cls_loss": 0.0,
                        "metrics/mAP_0.5": 0.7 * (1 - decay)})
        rows.append(row)
    return rows


def make_results(run_dir: Path) -> Results:
    rng = np.random.default_rng(0)
    cells: list[CellResult] = []
    for model, (params, gflops, size, map50, map5095, lat) in MODELS.items():
        for seed in SEEDS:
            m = {"params": float(params), "gflops": gflops, "size_mb": size, "latency_ms": lat + seed * 0.5,
                 "precision": 0.72 + 0.01 * seed, "recall": 0.64 - 0.01 * seed, "f1": 0.68,
                 "map50": map50 + 0.01 * seed, "map50_95": map5095 + 0.005 * seed, "fps": 1000 / (lat + seed * 0.5),
                 "latency_p90_ms": lat * 1.1, "latency_threads": 2.0, "latency_imgsz": 128.0}
            cells.append(CellResult(key=f"{model}/baseline/s{seed}", model=model, pruner=None, level=0.0,
                                    seed=seed, status="done", metrics=m,
                                    history={"train": _history(12, 0.1)}, curves=_curves(map50, rng),
                                    artifacts={"weights": f"weights/{model}-baseline-s{seed}.pt"}))
        for pruner in PRUNERS:
            for level in LEVELS:
                for seed in SEEDS:
                    key = f"{model}/{pruner}/{level}/s{seed}"
                    keep = 1 - 0.6 * level ** 1.5 - (0.03 if pruner == "bn-scale" else 0.0)
                    if key == FAILED_KEY:
                        cells.append(CellResult(key=key, model=model, pruner=pruner, level=level, seed=seed,
                                                status="failed",
                                                error=FAILED_ERROR))
                        continue
                    frac = 1 - level * 0.55
                    m = {"params": round(params * frac), "gflops": gflops * frac,
                         "size_mb": size * frac, "latency_ms": (lat + seed * 0.5) * (1 - level * 0.35),
                         "precision": 0.72 * keep, "recall": 0.64 * keep, "f1": 0.68 * keep,
                         "map50": (map50 + 0.01 * seed) * keep, "map50_95": (map5095 + 0.005 * seed) * keep,
                         "fps": 1000 / ((lat + seed * 0.5) * (1 - level * 0.35))}
                    diagnostics = {}
                    if pruner == "bn-scale":
                        g = np.abs(rng.normal(1.0, 0.3, 400))
                        diagnostics = {"bn_gamma": {"before": g.tolist(),
                                                    "after": (g * rng.exponential(0.1, 400)).tolist()}}
                    cells.append(CellResult(
                        key=key, model=model, pruner=pruner, level=level, seed=seed, status="done", metrics=m,
                        history={"finetune": _history(8, 0.08)}, curves=_curves(m["map50"], rng),
                        prune_record={"pruner": pruner, "level": level, "target": "channels", "scope": "backbone",
                                      "params_before": params, "params_after": round(params * frac),
                                      "gflops_before": gflops, "gflops_after": gflops * frac,
                                      "channels_before": 1000, "channels_after": round(1000 * (1 - level)),
                                      "removed": {"model.0.conv": 3}, "notes": [], "extra": {}},
                        diagnostics=diagnostics, artifacts={"weights": f"weights/{key.replace('/', '-')}.pt"}))
    spec = {"name": "tea-bud-test", "models": [{"name": "yolov5n"}, {"name": "yolov5s"}],
            "pruners": [{"name": "l1", "levels": list(LEVELS)}, {"name": "bn-scale", "levels": list(LEVELS)}],
            "seeds": list(SEEDS), "train": {"epochs": 12, "imgsz": 128}, "evaluate": {"imgsz": 128}}
    env = {"python": "3.11.2", "torch": "2.13.0", "prunebench": "0.1.0", "device": "cpu", "threads": 2,
           "git_commit": "abc1234", "platform": "Linux"}
    info = {"fps": {"unit": "img/s", "higher_is_better": True, "kind": "speed", "fmt": ".1f",
                    "description": "images per second at batch 1"}}
    return Results(run_dir=run_dir, name="tea-bud-test", spec=spec,
                   spec_text="name: tea-bud-test\nmodels: [yolov5n, yolov5s]\n", environment=env, cells=cells,
                   metric_info=info)


@pytest.fixture
def fake_results(tmp_path: Path) -> Results:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    return make_results(run_dir)


@pytest.fixture
def failed_key() -> str:
    """The key of the one failed cell of :func:`fake_results`."""
    return FAILED_KEY


@pytest.fixture(scope="session")
def plotted_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, list[Path]]:
    """The fake run with every plot drawn once (shared, read-only): ``(results, plot files)``."""
    from prunebench.report.plots import write_all_plots

    run_dir = tmp_path_factory.mktemp("plotted") / "run"
    run_dir.mkdir()
    results = make_results(run_dir)
    return results, write_all_plots(results, run_dir / "plots")


@pytest.fixture
def no_third_party_plugins(monkeypatch: pytest.MonkeyPatch, fresh_catalogue: None) -> None:
    """Only the bundled plugins (an installed third-party plugin cannot break these tests)."""
    monkeypatch.setenv("PRUNEBENCH_DISABLE_PLUGINS", "1")
