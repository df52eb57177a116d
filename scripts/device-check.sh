#!/usr/bin/env bash
# One prepared check of prunebench's CUDA code paths (at most 8 minutes on one GPU), with a summary.
#   usage: bash scripts/device-check.sh [VENV_DIR]        (default: .venv-test, else .venv)
# Runs a tiny study with device cuda:0: training with AMP and EMA, pruning, fine-tuning, evaluation with
# CUDA-event latency, the speed stage on torch, torch-fp16 and (where installed) ONNX Runtime's CUDA and
# TensorRT providers, then the same study under the Ray executor with gpus_per_cell (where ray is
# installed), and the slow speed tests. On a machine without a CUDA GPU it says so and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
venv="${1:-}"
if [ -z "$venv" ]; then venv=.venv-test; [ -x "$venv/bin/python" ] || venv=.venv; fi
py="$venv/bin/python"
[ -x "$py" ] || { echo "device-check: no Python at $py (run scripts/setup.sh first)"; exit 2; }
if ! "$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "device-check: needs a CUDA GPU; torch sees none here, so nothing was checked (exit 0)."
    exit 0
fi
out="$(mktemp -d "${TMPDIR:-/tmp}/prunebench-device-check.XXXXXX")"
start=$(date +%s)
status=0
"$py" - "$out" <<'PY' || status=1
import importlib.util, json, sys, time
from pathlib import Path

import torch
import yaml

out = Path(sys.argv[1])
runtimes = ["torch", "torch-fp16"]
import prunebench as pb
from prunebench.speed.runtimes import RUNTIMES

for name in ("onnxruntime", "onnxruntime-tensorrt"):
    why = RUNTIMES[name].unavailable("cuda:0")
    print(f"{name}: {'available' if why is None else 'skipped, ' + why}")
    if why is None:
        runtimes.append(name)
budget = {"epochs": 2, "imgsz": 128, "batch_size": 8, "max_batches": 4, "warmup_epochs": 0.0, "amp": True,
          "cache": False}
spec = {
    "name": "device-check", "seed": 0, "device": "cuda:0", "output": str(out / "run"),
    "dataset": {"name": "tea-bud-synth", "options": {"train": 32, "val": 16, "imgsz": 128, "seed": 0,
                                                     "out": str(out / "data")}},
    "models": [{"name": "yolov5n"}],
    "pruners": [{"name": "l1", "levels": [0.3, 0.6], "options": {"scope": "backbone"}}],
    "train": budget, "finetune": budget, "evaluate": {"batch_size": 8, "half": True},
    "calibration_batches": 1,
    "metrics": ["params", "gflops", {"name": "latency_ms", "options": {"warmup": 5, "repeats": 20, "imgsz": 640}},
                "map50", "map50_95"],
    "speed": {"runtimes": runtimes, "threads": 4, "imgsz": 640, "time_cap_s": 20},
    "reporters": ["console", "markdown"],
}
(out / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
t0 = time.time()
res = pb.run(out / "spec.yaml", progress=False)
print(f"\nlocal executor: {sum(c.status == 'done' for c in res.cells)}/{len(res.cells)} cells done in "
      f"{time.time() - t0:.0f} s on {torch.cuda.get_device_name(0)}")
failed = [c for c in res.cells if c.status != "done"]
for c in failed:
    print(f"FAILED {c.key}: {c.error}")
from prunebench.speed.stage import speed_rows

rows = speed_rows(res)
print("\n| variant | runtime | dtype | latency ms [95% CI] | speed-up [95% CI] | max abs err | status |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    if r["status"] == "ok":
        print(f"| {r['variant']} | {r['runtime']} | {r['dtype']} | {r['median_ms']:.2f} [{r['median_lo_ms']:.2f}, "
              f"{r['median_hi_ms']:.2f}] | {r['speedup']:.2f} [{r['speedup_lo']:.2f}, {r['speedup_hi']:.2f}] | "
              f"{r['max_abs_error']:.1e} | ok |")
    else:
        print(f"| {r['variant']} | {r['runtime']} | | | | | failed: {r['error']} |")
for c in res.cells:
    if "latency_ms" in c.metrics:
        print(f"evaluate-stage latency (CUDA events, separately timed): {c.key} {c.metrics['latency_ms']:.2f} ms")
bad = bool(failed) or any(r["status"] != "ok" for r in rows)
if importlib.util.find_spec("ray") is not None:
    spec["executor"] = {"name": "ray", "options": {"gpus_per_cell": 0.5}}
    spec["output"] = str(out / "run-ray")
    spec["speed"] = None
    (out / "spec-ray.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    t0 = time.time()
    ray_res = pb.run(out / "spec-ray.yaml", progress=False)
    done = sum(c.status == "done" for c in ray_res.cells)
    print(f"ray executor (gpus_per_cell 0.5): {done}/{len(ray_res.cells)} cells done in {time.time() - t0:.0f} s")
    same = all(abs(a.metrics.get("params", 0) - b.metrics.get("params", 0)) < 1e-9
               for a, b in zip(res.cells, ray_res.cells))
    print(f"ray vs local: same parameter counts per cell: {same}")
    bad = bad or done != len(ray_res.cells) or not same
else:
    print("ray executor: skipped (ray is not installed; pip install 'prunebench[ray]')")
sys.exit(1 if bad else 0)
PY
"$py" -m pytest tests/speed -q -m "slow or not slow" -p no:cacheprovider -o addopts="--import-mode=importlib" \
    || status=1
echo "device-check: $([ $status -eq 0 ] && echo OK || echo FAILED) in $(( $(date +%s) - start )) s; files in $out"
exit $status
