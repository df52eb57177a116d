"""Measure the NNI pruners on full-size yolov5n (nc=1): sizes per level, group disagreements, prune time.

Prints the Markdown table of docs/nni.md. Fresh (untrained) weights, scope backbone, one torch thread.
"""

from __future__ import annotations

import time

import torch

import prunebench as pb
from prunebench.contracts import PruneContext
from prunebench.pruning.costs import fused_params

IMGSZ = 128
PRUNERS = ("l1", "nni-l1", "nni-l2", "nni-fpgm", "nni-slim", "nni-taylor")


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    family = pb.get_model_family("yolov5n")
    model = family.build(nc=1).eval()
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, IMGSZ, IMGSZ, generator=gen)
    targets = torch.tensor([[0, 0, 0.5, 0.5, 0.3, 0.4], [1, 0, 0.4, 0.6, 0.2, 0.2]])
    ctx = PruneContext(family=family, example_inputs=family.example_inputs(IMGSZ), calibration=[(images, targets)],
                       loss_fn=family.loss(model, family.default_hyp()), imgsz=IMGSZ)
    print(f"unpruned: {fused_params(model):,} fused params")
    print("| pruner | level | fused params | GFLOPs | channels removed | coupled groups | channels disagreed "
          "| NNI decisions overridden | prune s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in PRUNERS:
        options = {"training_steps": 2} if name in ("nni-slim", "nni-taylor") else {}
        pruner = pb.create_pruner(name, **options)
        for level in (0.3, 0.6, 0.9):
            t0 = time.perf_counter()
            rec = pruner.prune(model, level, ctx).record
            seconds = time.perf_counter() - t0
            info = rec.extra.get("nni", {})
            print(f"| {name} | {level} | {rec.params_after:,} | {rec.gflops_after:.2f} | "
                  f"{rec.channels_before - rec.channels_after} | {info.get('coupled_groups', '-')} | "
                  f"{info.get('channels_disagreed', '-')} | {info.get('votes_overridden', '-')} | {seconds:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
