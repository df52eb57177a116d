"""COCO bbox evaluation speed: prunebench's numpy evaluator vs faster-coco-eval vs pycocotools.

Run: ``python -m pytest benchmarks/bench_coco.py --benchmark-enable --benchmark-group-by=group``.
Every contender starts from the same in-memory inputs (a ground-truth dict and a results list) and ends
with the 12 statistics, so loading the results, evaluating and accumulating are all timed. pycocotools
runs on a 500-image workload only (it takes ~40 s at 5,000 images). Results: docs/metrics.md.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from prunebench.metrics.coco import coco_evaluate

Workload = tuple[dict[str, Any], list[dict[str, Any]]]


def make_large_workload(seed: int, n_images: int, dets_per_image: int = 100, n_cats: int = 80,
                        gts_per_image: int = 7) -> Workload:
    """COCO-like: ~7 objects per image of all sizes, 100 detections per image, half of them near an object
    (jittered, 80% with the right class), 2% crowds, scores with ties (3 decimals)."""
    rng = np.random.default_rng(seed)
    n_g = n_images * gts_per_image
    g_img = np.repeat(np.arange(n_images), gts_per_image)
    g_cat = rng.integers(1, n_cats + 1, n_g)
    g_wh = rng.uniform(0.5, 1.5, (n_g, 2)) * rng.choice([8.0, 24.0, 60.0, 150.0], (n_g, 1))
    g_xy = rng.uniform(0, 500, (n_g, 2))
    g_crowd = rng.random(n_g) < 0.02
    n_d = n_images * dets_per_image
    d_img = np.repeat(np.arange(n_images), dets_per_image)
    src = d_img * gts_per_image + rng.integers(0, gts_per_image, n_d)
    near = rng.random(n_d) < 0.5
    d_cat = np.where(near & (rng.random(n_d) < 0.8), g_cat[src], rng.integers(1, n_cats + 1, n_d))
    wh = np.where(near[:, None], g_wh[src] * np.exp(rng.normal(0, 0.2, (n_d, 2))),
                  rng.uniform(0.5, 1.5, (n_d, 2)) * rng.choice([8.0, 24.0, 60.0, 150.0], (n_d, 1)))
    xy = np.where(near[:, None], g_xy[src] + rng.normal(0, 0.1, (n_d, 2)) * g_wh[src],
                  rng.uniform(0, 500, (n_d, 2)))
    xy = np.maximum(xy, 0.0)
    score = np.round(rng.random(n_d), 3)
    gb = np.concatenate([g_xy, g_wh], 1).tolist()
    db = np.concatenate([xy, wh], 1).tolist()
    anns = [{"id": i + 1, "image_id": im, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": int(cr)}
            for i, (im, c, b, cr) in enumerate(zip(g_img.tolist(), g_cat.tolist(), gb, g_crowd.tolist(),
                                                   strict=True))]
    dets = [{"image_id": im, "category_id": c, "bbox": b, "score": s}
            for im, c, b, s in zip(d_img.tolist(), d_cat.tolist(), db, score.tolist(), strict=True)]
    gt = {"images": [{"id": i} for i in range(n_images)], "annotations": anns,
          "categories": [{"id": c, "name": str(c)} for c in range(1, n_cats + 1)]}
    return gt, dets


N_IMAGES = int(os.environ.get("PRUNEBENCH_BENCH_IMAGES", "5000"))
SMALL = 500


@pytest.fixture(scope="module")
def large() -> Workload:
    return make_large_workload(0, N_IMAGES)


@pytest.fixture(scope="module")
def large_few_classes() -> Workload:
    return make_large_workload(1, N_IMAGES, n_cats=5)


@pytest.fixture(scope="module")
def small() -> Workload:
    return make_large_workload(2, SMALL)


def _faster_coco_eval(gt: dict[str, Any], dets: list[dict[str, Any]]) -> np.ndarray:
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(gt)
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval_faster(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def _pycocotools(gt: dict[str, Any], dets: list[dict[str, Any]]) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def _ours(gt: dict[str, Any], dets: list[dict[str, Any]]) -> np.ndarray:
    return coco_evaluate(gt, dets).stats


def _run(benchmark: Any, fn: Callable[..., np.ndarray], data: Workload, rounds: int) -> np.ndarray:
    """Time ``fn`` on fresh copies of the inputs (the other libraries annotate the dicts in place)."""
    gt, dets = data
    out: list[np.ndarray] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (copy.deepcopy(gt), copy.deepcopy(dets)), {}

    cpu: list[float] = []

    def target(g: dict[str, Any], d: list[dict[str, Any]]) -> None:
        t0 = time.process_time()
        out.append(fn(g, d))
        cpu.append(time.process_time() - t0)

    benchmark.pedantic(target, setup=setup, rounds=rounds, iterations=1)
    benchmark.extra_info["images"] = len(gt["images"])
    benchmark.extra_info["detections"] = len(dets)
    benchmark.extra_info["categories"] = len(gt["categories"])
    benchmark.extra_info["nproc"] = os.cpu_count()
    # CPU seconds of this process (all threads): steadier than wall time on a shared, loaded machine
    benchmark.extra_info["cpu_s_min"] = min(cpu)
    return out[-1]


@pytest.mark.benchmark(group="coco-5000x100-80cls")
def test_prunebench_coco(benchmark: Any, large: Workload) -> None:
    stats = _run(benchmark, _ours, large, rounds=3)
    assert stats.shape == (12,)


@pytest.mark.benchmark(group="coco-5000x100-80cls")
def test_faster_coco_eval(benchmark: Any, large: Workload) -> None:
    pytest.importorskip("faster_coco_eval")
    stats = _run(benchmark, _faster_coco_eval, large, rounds=1)
    np.testing.assert_allclose(stats, coco_evaluate(*large).stats, atol=1e-9)


@pytest.mark.benchmark(group="coco-5000x100-5cls")
def test_prunebench_coco_few_classes(benchmark: Any, large_few_classes: Workload) -> None:
    _run(benchmark, _ours, large_few_classes, rounds=3)


@pytest.mark.benchmark(group="coco-5000x100-5cls")
def test_faster_coco_eval_few_classes(benchmark: Any, large_few_classes: Workload) -> None:
    pytest.importorskip("faster_coco_eval")
    stats = _run(benchmark, _faster_coco_eval, large_few_classes, rounds=1)
    np.testing.assert_allclose(stats, coco_evaluate(*large_few_classes).stats, atol=1e-9)


@pytest.mark.benchmark(group="coco-500x100-80cls")
def test_prunebench_coco_small(benchmark: Any, small: Workload) -> None:
    _run(benchmark, _ours, small, rounds=3)


@pytest.mark.benchmark(group="coco-500x100-80cls")
def test_faster_coco_eval_small(benchmark: Any, small: Workload) -> None:
    pytest.importorskip("faster_coco_eval")
    _run(benchmark, _faster_coco_eval, small, rounds=1)


@pytest.mark.benchmark(group="coco-500x100-80cls")
def test_pycocotools_small(benchmark: Any, small: Workload) -> None:
    pytest.importorskip("pycocotools")
    stats = _run(benchmark, _pycocotools, small, rounds=1)
    np.testing.assert_allclose(stats, coco_evaluate(*small).stats, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------------------------------
# End to end: the whole `prunebench evaluate` process against a whole faster-coco-eval process
# --------------------------------------------------------------------------------------------------

_FCE_SCRIPT = """
import contextlib, io, json, sys
from faster_coco_eval import COCO, COCOeval_faster
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1])
    ev = COCOeval_faster(gt, gt.loadRes(sys.argv[2]), "bbox")
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(json.dumps([float(v) for v in ev.stats]))
"""
E2E_ROUNDS = int(os.environ.get("PRUNEBENCH_BENCH_ROUNDS", "3"))


@pytest.fixture(scope="module")
def e2e_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """5,000 images x 50 detections (250,000), 80 classes, written as JSON files (boxes may start at x < 0)."""
    import json

    gt, dets = make_large_workload(3, N_IMAGES, dets_per_image=50)
    rng = np.random.default_rng(3)
    for d in dets[:: 7]:  # as detectors write them: some boxes start left of or above the image
        d["bbox"][0] -= float(rng.uniform(0, 4))
        d["bbox"][1] -= float(rng.uniform(0, 4))
    root = tmp_path_factory.mktemp("coco-e2e")
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "dt.json").write_text(json.dumps(dets))
    return str(root / "gt.json"), str(root / "dt.json")


def _timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, children) of one whole process, and its stdout."""
    import resource
    import subprocess
    import sys

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


@pytest.mark.benchmark(group="coco-e2e-5000x50")
def test_evaluate_process_vs_faster_coco_eval_process(benchmark: Any, e2e_files: tuple[str, str]) -> None:
    """``prunebench evaluate --json`` is >= 4x faster end to end than faster-coco-eval, same numbers (1e-9).

    Both run as whole processes (start-up, imports, reading and checking both files, evaluating), in
    interleaved rounds in this one test; the ratio of the medians is the result (docs/metrics.md).
    """
    import json

    pytest.importorskip("faster_coco_eval")
    gt_path, dt_path = e2e_files
    ours_cmd = ["-m", "prunebench", "evaluate", "--gt", gt_path, "--pred", dt_path, "--json"]
    fce_cmd = ["-c", _FCE_SCRIPT, gt_path, dt_path]
    walls: dict[str, list[float]] = {"prunebench": [], "faster-coco-eval": []}
    cpus: dict[str, list[float]] = {"prunebench": [], "faster-coco-eval": []}
    outs: dict[str, str] = {}

    def one_round() -> None:
        for name, cmd in (("faster-coco-eval", fce_cmd), ("prunebench", ours_cmd)):
            wall, cpu, out = _timed(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)
            outs[name] = out

    benchmark.pedantic(one_round, rounds=E2E_ROUNDS, iterations=1)
    ours = json.loads(outs["prunebench"])
    np.testing.assert_allclose([ours[k] for k in ours], json.loads(outs["faster-coco-eval"]), rtol=0, atol=1e-9)
    med = {k: float(np.median(v)) for k, v in walls.items()}
    ratio = med["faster-coco-eval"] / med["prunebench"]
    cpu_ratio = float(np.median(cpus["faster-coco-eval"]) / np.median(cpus["prunebench"]))
    benchmark.extra_info.update({"wall_s_median": med, "ratio_wall": ratio, "ratio_cpu": cpu_ratio,
                                 "rounds": E2E_ROUNDS, "nproc": os.cpu_count(),
                                 "load_1min": os.getloadavg()[0]})
    print(f"\nprunebench evaluate {med['prunebench']:.2f} s, faster-coco-eval {med['faster-coco-eval']:.2f} s "
          f"(median wall of {E2E_ROUNDS} interleaved rounds): {ratio:.2f}x; CPU time ratio {cpu_ratio:.2f}x")
    assert ratio >= 4.0, f"end to end only {ratio:.2f}x faster than faster-coco-eval"
