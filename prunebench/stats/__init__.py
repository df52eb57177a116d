"""Statistics of stored results: seed intervals (Student t), the image bootstrap, paired tests and Holm.

Two sources of uncertainty are measured: across training seeds (:class:`SeedSummary`, :func:`paired_t_test`)
and across the validation images (:func:`bootstrap_weights`, :func:`detection_draws`). Everything here
is a function of stored numbers, so a report can redraw it without running a model.
"""

from prunebench.stats.bootstrap import (
    BOOTSTRAP_METRICS,
    DEFAULT_RESAMPLES,
    bootstrap_weights,
    detection_draws,
    point_metrics,
)
from prunebench.stats.images import ImageStats
from prunebench.stats.intervals import SeedSummary, t_interval
from prunebench.stats.significance import PairedTest, bootstrap_p, holm, paired_t_test
from prunebench.stats.tdist import t_cdf, t_ppf, t_two_sided_p

__all__ = [
    "BOOTSTRAP_METRICS",
    "DEFAULT_RESAMPLES",
    "ImageStats",
    "PairedTest",
    "SeedSummary",
    "bootstrap_p",
    "bootstrap_weights",
    "detection_draws",
    "holm",
    "paired_t_test",
    "point_metrics",
    "t_cdf",
    "t_interval",
    "t_ppf",
    "t_two_sided_p",
]
