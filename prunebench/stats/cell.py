"""The bootstrap of one evaluated cell as the store keeps it: settings, point values, draws and intervals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from prunebench.stats.bootstrap import BOOTSTRAP_METRICS, DEFAULT_RESAMPLES, bootstrap_weights, detection_draws
from prunebench.stats.images import ImageStats

__all__ = ["BOOTSTRAP_DIAGNOSTIC", "DEFAULT_SEED", "PER_IMAGE_ARTIFACT", "bootstrap_diagnostic", "draws_of"]

#: the diagnostic name an evaluate stage stores its bootstrap under
BOOTSTRAP_DIAGNOSTIC = "bootstrap"
#: the artifact name of an evaluate stage's per-image statistics (.npz)
PER_IMAGE_ARTIFACT = "per_image"
#: the resampling seed: the same for every cell, so cells on the same images are paired
DEFAULT_SEED = 0


def bootstrap_diagnostic(st: ImageStats, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                         confidence: float = 0.95) -> dict[str, Any]:
    """``{"resamples", "seed", "n_images", "confidence", "metrics": {name: {point, mean, std, low, high}},
    "draws": {name: [...]}}`` (percentile intervals; draws rounded to 7 decimals)."""
    point = detection_draws(st, np.ones((1, st.n_images), np.int32))
    draws = detection_draws(st, bootstrap_weights(st.n_images, resamples, seed))
    q = (100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2)
    metrics = {}
    for name in BOOTSTRAP_METRICS:
        d = draws[name]
        lo, hi = np.percentile(d, q)
        metrics[name] = {"point": float(point[name][0]), "mean": float(d.mean()), "std": float(d.std(ddof=1)),
                         "low": float(lo), "high": float(hi)}
    return {"resamples": int(resamples), "seed": int(seed), "n_images": int(st.n_images),
            "confidence": float(confidence), "method": "percentile, images resampled with replacement",
            "metrics": metrics, "draws": {k: np.round(v, 7).tolist() for k, v in draws.items()}}


def draws_of(diagnostic: Mapping[str, Any] | None, metric: str) -> np.ndarray | None:
    """The stored draws of ``metric`` (None when the cell has no bootstrap of it)."""
    if not diagnostic or metric not in (diagnostic.get("draws") or {}):
        return None
    return np.asarray(diagnostic["draws"][metric], dtype=float)
