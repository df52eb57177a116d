"""The generations specs (YOLOv5 vs YOLOv8): both validate, and a tiny variant of the quick one runs end to
end with one evaluator for both families and shows both generations on one trade-off chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import prunebench as pb

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["generations-quick.yaml", "generations.yaml"])
def test_generations_specs_validate(name: str) -> None:
    spec = pb.load_spec(ROOT / "specs" / name)
    models = [m.name for m in spec.models]
    assert "yolov5n" in models
    assert "yolov8n" in models
    assert len({p.name for p in spec.pruners}) >= 2


def test_tiny_generations_run(tmp_path: Path, synth_dir: Path, spec_dict: Any) -> None:
    quick = yaml.safe_load((ROOT / "specs" / "generations-quick.yaml").read_text(encoding="utf-8"))
    tiny = {"width_multiple": 0.0625, "depth_multiple": 0.33}
    data = spec_dict(tmp_path / "run", synth_dir,
                     models=[{"name": m, "options": tiny} for m in quick["models"]],
                     pruners=[{**p, "levels": p["levels"][:1]} for p in quick["pruners"]])
    path = tmp_path / "generations-tiny.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    res = pb.run(path, out=tmp_path / "run", progress=False)
    assert [c.key for c in res.cells] == ["yolov5n/baseline/s0", "yolov5n/l1/0.3/s0", "yolov5n/random/0.3/s0",
                                          "yolov8n/baseline/s0", "yolov8n/l1/0.3/s0", "yolov8n/random/0.3/s0"]
    assert all(c.status == "done" for c in res.cells), [(c.key, c.error) for c in res.cells]
    v8 = next(c for c in res.cells if c.key == "yolov8n/baseline/s0")
    assert {"train/box_loss", "train/cls_loss", "train/dfl_loss"} <= set(v8.history["train"][0])
    for cell in res.cells:  # the same metrics from the one evaluator
        assert {"map50", "map50_95", "params", "gflops"} <= set(cell.metrics)
    from prunebench.report.summary_plots import plot_tradeoff

    _fig, ax = plot_tradeoff(res, x="gflops", y="map50")
    labels = [line.get_label() for line in ax.lines]
    assert "unpruned yolov5 (smaller-model reference)" in labels
    assert "unpruned yolov8 (smaller-model reference)" in labels
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"yolov5n l1", "yolov8n l1", "yolov5n random", "yolov8n random"} <= set(legend)
