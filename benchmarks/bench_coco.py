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
