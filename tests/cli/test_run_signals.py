"""SIGTERM (a scheduler's stop) is handled like Ctrl-C: the run row is closed as interrupted, with a hint."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

pytestmark = pytest.mark.slow


def _wait_for_training(proc: subprocess.Popen[str], run_dir: Path) -> bool:
    """Wait for the readiness mark: an ``epoch_finished`` line of the train stage in ``events.jsonl``.

    By then the training loop runs with its DataLoader worker (the store's 'running' row comes earlier,
    while the process may still be importing, building the model or forking the worker).
    """
    events = run_dir / "events.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if events.is_file():
            for line in events.read_text(encoding="utf-8").splitlines():
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:  # a line being written
                    continue
                if event.get("event") == "epoch_finished" and event.get("stage") == "train":
                    return True
        time.sleep(0.05)
    return False


def _drain(stream: IO[str], into: list[str]) -> threading.Thread:
    """Read the child's stderr while it runs: a full pipe would block the child in a write."""
    thread = threading.Thread(target=lambda: into.append(stream.read()), daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(("signum", "group", "code", "said"), [
    (signal.SIGTERM, True, 143, "terminated (SIGTERM)"),  # a scheduler's stop: the DataLoader worker gets it too
    (signal.SIGINT, False, 130, "interrupted")])
def test_a_signal_closes_the_run_as_interrupted(write_spec: Any, tmp_path: Path, signum: int, group: bool,
                                                code: int, said: str) -> None:
    run_dir = tmp_path / "run"
    budget = {"epochs": 200, "imgsz": 64, "batch_size": 4, "max_batches": 1, "warmup_epochs": 0.0, "cache": False,
              "workers": 1}
    spec = write_spec(out=run_dir, train=budget)
    proc = subprocess.Popen([sys.executable, "-m", "prunebench", "run", str(spec), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stderr is not None
    chunks: list[str] = []
    reader = _drain(proc.stderr, chunks)
    try:
        running = _wait_for_training(proc, run_dir)
        if group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        proc.wait(timeout=120)
        reader.join(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = "".join(chunks)
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


class _Finaliser:
    def __del__(self) -> None:  # where Python swallows the KeyboardInterrupt a signal raises
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs at the next bytecode boundary, still inside __del__
            pass


def test_a_signal_whose_exception_was_swallowed_still_stops_at_the_next_safe_point(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from prunebench.interrupts import handle_signals, interrupted, raise_if_interrupted

    swallowed: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", swallowed.append)
    with handle_signals():
        _Finaliser()  # "Exception ignored in __del__": the program would go on
        assert [type(u.exc_value) for u in swallowed] == [KeyboardInterrupt]
        assert interrupted() == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()
    assert interrupted() is None
    raise_if_interrupted()  # outside the block nothing is pending
