"""SIGTERM (a scheduler's stop) is handled like Ctrl-C: the run row is closed as interrupted, with a hint."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _wait_for_a_running_stage(proc: subprocess.Popen[str], run_dir: Path, kind: str) -> bool:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if (run_dir / "results.sqlite").exists():
            try:
                conn = sqlite3.connect(run_dir / "results.sqlite", timeout=1)
                rows = conn.execute("SELECT kind FROM stages WHERE status='running'").fetchall()
                conn.close()
            except sqlite3.Error:
                rows = []
            if (kind,) in rows:
                return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(("signum", "code", "said"), [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                                       (signal.SIGINT, 130, "interrupted")])
def test_a_signal_closes_the_run_as_interrupted(write_spec: Any, tmp_path: Path, signum: int, code: int,
                                                said: str) -> None:
    run_dir = tmp_path / "run"
    budget = {"epochs": 200, "imgsz": 64, "batch_size": 4, "max_batches": 1, "warmup_epochs": 0.0, "cache": False}
    spec = write_spec(out=run_dir, train=budget)
    proc = subprocess.Popen([sys.executable, "-m", "prunebench", "run", str(spec), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        running = _wait_for_a_running_stage(proc, run_dir, "train")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=300)  # a loaded 2-core machine can take long to close a stage
    finally:
        if proc.poll() is None:
            proc.kill()
    assert running, f"the run ended before its training started: {err[-2000:]!r}"
    assert proc.returncode == code, err[-3000:]
    text = " ".join(err.split())
    assert said in text
    assert "rerun the same command to resume" in text
    assert "Traceback" not in text
    conn = sqlite3.connect(run_dir / "results.sqlite")
    try:
        runs = conn.execute("SELECT status, finished FROM runs").fetchall()
        stages = dict(conn.execute("SELECT kind, status FROM stages"))
    finally:
        conn.close()
    assert len(runs) == 1
    assert runs[0][0] == "interrupted"
    assert runs[0][1] is not None
    assert stages["data"] == "done"  # what finished before the signal is kept
