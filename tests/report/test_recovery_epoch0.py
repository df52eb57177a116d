"""The recovery curve starts before fine-tuning: the trainer's ``epoch`` -1 row is the curve's epoch 0."""

from __future__ import annotations

from prunebench.report.recovery_plots import _curve


def test_the_row_before_fine_tuning_is_epoch_zero() -> None:
    rows = [{"epoch": -1.0, "metrics/mAP_0.5": 0.12}, {"epoch": 0.0, "metrics/mAP_0.5": 0.40},
            {"epoch": 1.0, "metrics/mAP_0.5": float("nan")}, {"epoch": 2.0, "metrics/mAP_0.5": 0.45}]
    assert _curve(rows) == {0: 0.12, 1: 0.40, 3: 0.45}
