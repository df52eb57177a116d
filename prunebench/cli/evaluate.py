"""``prunebench evaluate``: score a COCO results file against COCO annotations (pycocotools' numbers)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "handle"]

_LABELS = {
    "AP": "AP @[IoU=0.50:0.95 | area=all | maxDets=100]",
    "AP50": "AP @[IoU=0.50 | area=all | maxDets=100]",
    "AP75": "AP @[IoU=0.75 | area=all | maxDets=100]",
    "APs": "AP @[IoU=0.50:0.95 | area=small | maxDets=100]",
    "APm": "AP @[IoU=0.50:0.95 | area=medium | maxDets=100]",
    "APl": "AP @[IoU=0.50:0.95 | area=large | maxDets=100]",
    "AR1": "AR @[IoU=0.50:0.95 | area=all | maxDets=1]",
    "AR10": "AR @[IoU=0.50:0.95 | area=all | maxDets=10]",
    "AR100": "AR @[IoU=0.50:0.95 | area=all | maxDets=100]",
    "ARs": "AR @[IoU=0.50:0.95 | area=small | maxDets=100]",
    "ARm": "AR @[IoU=0.50:0.95 | area=medium | maxDets=100]",
    "ARl": "AR @[IoU=0.50:0.95 | area=large | maxDets=100]",
}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="COCO mAP of a results file (equal to pycocotools, vectorised)",
        description="Evaluate a COCO results file (a list of {image_id, category_id, bbox, score}) against "
                    "COCO ground-truth annotations with COCOeval's bbox rules, and print the 12 statistics.",
    )
    p.add_argument("--gt", required=True, metavar="ANNOTATIONS.json", help="COCO ground-truth annotations")
    p.add_argument("--pred", required=True, metavar="DETECTIONS.json", help="COCO results file (detections)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the 12 statistics")
    p.add_argument("--per-category", action="store_true", help="also show AP, AP50 and AR100 per category")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from prunebench.metrics.coco import coco_evaluate_columns
    from prunebench.metrics.cocofile import load_coco_arrays

    gt, dets = load_coco_arrays(args.gt, args.pred)  # every problem of a file at once; odd values warned
    for warning in dets.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    res = coco_evaluate_columns(gt, dets.image_id, dets.category_id, dets.boxes, dets.scores)
    if args.json:
        out: dict[str, Any] = dict(res.summary)
        if args.per_category:
            out = {**out, "per_category": {str(k): v for k, v in res.per_category.items()}}
        print(json.dumps(out))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"COCO bbox evaluation: {len(dets)} detections, {len(res.img_ids)} images, "
                        f"{len(res.cat_ids)} categories", title_justify="left")
    table.add_column("statistic")
    table.add_column("definition")
    table.add_column("value", justify="right")
    for key, value in res.summary.items():
        table.add_row(key, _LABELS[key], "-1 (undefined)" if value == -1 else f"{value:.4f}")
    console.print(table)
    if args.per_category:
        names = {c["id"]: str(c.get("name", c["id"])) for c in gt["categories"]}
        cat_table = Table(title="Per category", title_justify="left")
        for col in ("category", "id", "AP", "AP50", "AR100"):
            cat_table.add_column(col, justify="left" if col == "category" else "right")
        for cid, stats in res.per_category.items():
            cat_table.add_row(names.get(cid, str(cid)), str(cid),
                              *(f"{stats[k]:.4f}" if stats[k] != -1 else "-" for k in ("AP", "AP50", "AR100")))
        console.print(cat_table)
    return 0
