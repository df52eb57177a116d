"""What a result depends on besides the spec: versions, device, threads, CPU and the git commit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from prunebench.speed.runtimes import cpu_name

__all__ = ["collect_environment"]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    commit = out.stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                           capture_output=True, text=True, timeout=5, check=False)
    return commit + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def collect_environment(device: str, executor: str) -> dict[str, Any]:
    """The environment of this run, stored with the results and printed in the report."""
    import torch

    from prunebench._version import __version__

    env: dict[str, Any] = {
        "prunebench": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_pruning": _version("torch-pruning"),
        "nni": _version("nni"),
        "numpy": _version("numpy"),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": device,
        "executor": executor,
        "git_commit": _git_commit(Path(__file__).resolve().parent),
        "argv": list(sys.argv),
    }
    if executor == "ray":
        env["ray"] = _version("ray")
    if device.startswith("cuda") and torch.cuda.is_available():
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        env["gpu"] = torch.cuda.get_device_name(index)
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    return env
