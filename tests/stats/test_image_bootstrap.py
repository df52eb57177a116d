"""The image bootstrap recomputes YOLOv5's metrics exactly, is seeded, and narrows with more images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunebench.metrics.detection import DetectionStats, ap_per_class
from prunebench.stats import ImageStats, bootstrap_weights, detection_draws, point_metrics
from prunebench.stats.synthetic import synthetic_image_stats


def _reference(st: ImageStats, counts: np.ndarray) -> dict[str, float]:
    """ap_per_class on the resampled set written out image copy by image copy (val.py's arithmetic)."""
    tp, conf, pred_cls, target_cls = st.select(counts)
    if not tp.any():
        return dict.fromkeys(("precision", "recall", "f1", "map50", "map50_95"), 0.0)
    res = ap_per_class(tp, conf, pred_cls, target_cls)
    return {"precision": res.p.mean(), "recall": res.r.mean(), "f1": res.f1.mean(), "map50": res.ap[:, 0].mean(),
            "map50_95": res.ap.mean(1).mean()}


@pytest.mark.parametrize(("n_images", "nc", "dets"), [(40, 1, 15.0), (25, 3, 8.0), (8, 2, 2.0)])
def test_vectorised_bootstrap_equals_ap_per_class_on_the_resampled_set(n_images: int, nc: int, dets: float) -> None:
    st = synthetic_image_stats(n_images, nc=nc, labels_per_image=2.5, dets_per_image=dets, seed=n_images)
    w = np.vstack([np.ones(n_images, np.int32), bootstrap_weights(n_images, 25, seed=3)])
    draws = detection_draws(st, w)
    for b in range(w.shape[0]):
        ref = _reference(st, w[b])
        for name, value in ref.items():
            assert draws[name][b] == pytest.approx(value, abs=1e-12), (b, name)


def _boxes_images(n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(0, 4))
        xy = rng.uniform(0, 200, (k, 2))
        wh = rng.uniform(10, 60, (k, 2))
        labels = np.concatenate([np.zeros((k, 1)), xy, xy + wh], 1)
        src = rng.integers(0, max(k, 1), 6)
        if k:
            boxes = np.concatenate([xy[src], xy[src] + wh[src]], 1) + rng.normal(0, 6, (6, 4))
        else:
            boxes = np.tile([10.0, 10.0, 50.0, 50.0], (6, 1))
        conf = np.sort(rng.random(6))[::-1]
        dets = np.concatenate([boxes, conf[:, None], np.zeros((6, 1))], 1)
        out.append((torch.tensor(dets, dtype=torch.float32), torch.tensor(labels, dtype=torch.float32)))
    return out


def test_point_estimate_equals_detection_stats_from_boxes() -> None:
    images = _boxes_images(30, 0)
    ds = DetectionStats()
    for det, lab in images:
        ds.update(det, lab)
    m = ds.compute(["bud"])
    st = ImageStats.from_images(ds.images, names=["bud"])
    got = point_metrics(st)
    for name in ("precision", "recall", "f1", "map50", "map50_95"):
        assert got[name] == pytest.approx(getattr(m, name), abs=1e-12)
    assert 0 < m.map50 < 1


def test_bootstrap_is_reproducible_and_its_interval_holds_the_point(tmp_path: object) -> None:
    st = synthetic_image_stats(40, seed=1)
    a = detection_draws(st, bootstrap_weights(40, 200, seed=7))
    b = detection_draws(st, bootstrap_weights(40, 200, seed=7))
    c = detection_draws(st, bootstrap_weights(40, 200, seed=8))
    point = point_metrics(st)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])
        lo, hi = np.percentile(a[name], [2.5, 97.5])
        assert lo <= point[name] <= hi
        assert hi - lo > 0
    w = bootstrap_weights(40, 200, seed=7)
    assert (w.sum(1) == 40).all()


def test_four_times_the_images_halves_the_interval() -> None:
    st = synthetic_image_stats(40, seed=2)
    big = st.repeat(4)
    assert point_metrics(big)["map50"] == pytest.approx(point_metrics(st)["map50"], abs=1e-12)
    small_d = detection_draws(st, bootstrap_weights(40, 400, seed=0))
    big_d = detection_draws(big, bootstrap_weights(160, 400, seed=0))
    for name in ("map50", "map50_95", "recall"):
        w_small = np.subtract(*np.percentile(small_d[name], [97.5, 2.5]))
        w_big = np.subtract(*np.percentile(big_d[name], [97.5, 2.5]))
        assert 1.6 <= w_small / w_big <= 2.5, (name, w_small, w_big)


def test_image_stats_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    st = synthetic_image_stats(12, nc=2, seed=4)
    path = st.save(Path(str(tmp_path)) / "per_image.npz")
    back = ImageStats.load(path)
    np.testing.assert_array_equal(back.det_tp, st.det_tp)
    np.testing.assert_array_equal(back.det_conf, st.det_conf)
    assert back.n_images == 12
    assert back.names == st.names
