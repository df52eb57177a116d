"""``run --fresh`` never loses data: the lock comes first, and only what prunebench wrote is deleted."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from prunebench.cli import main
from prunebench.suite.runfolder import MARKER_NAME, clear_run_dir, mark_run_dir
from prunebench.suite.store import STORE_NAME, Store

STAGE = "train-0123456789abcdef"


def _fake_run_folder(run: Path) -> None:
    """A run folder as prunebench leaves it: marker, store, a stage folder with an artifact."""
    run.mkdir(parents=True)
    mark_run_dir(run)
    Store(run).close()
    (run / "stages" / STAGE).mkdir(parents=True)
    (run / "stages" / STAGE / "weights.pt").write_bytes(b"weights")


def test_fresh_takes_the_lock_before_deleting_anything(tmp_path: Path, write_spec: Any,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    _fake_run_folder(run)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from prunebench.suite.runfolder import lock_run_dir
            with lock_run_dir(Path({str(run)!r})):
                print("locked", flush=True)
                sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(write_spec(out=run)), "--fresh", "--no-progress"]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert "Another prunebench run is using" in err
        assert (run / STORE_NAME).is_file()
        assert (run / "stages" / STAGE / "weights.pt").read_bytes() == b"weights"
    finally:
        holder.communicate("")


def test_fresh_refuses_a_folder_prunebench_did_not_write(tmp_path: Path, write_spec: Any,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    unrel = tmp_path / "unrel"
    (unrel / "stages" / "mydata").mkdir(parents=True)
    (unrel / "stages" / "mydata" / "thesis.txt").write_text("three years of work")
    assert main(["run", str(write_spec(out=unrel)), "--fresh", "--no-progress"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Refusing to start fresh" in err
    assert str(unrel) in err
    assert (unrel / "stages" / "mydata" / "thesis.txt").read_text() == "three years of work"
    assert sorted(p.name for p in unrel.iterdir()) == ["stages"]  # not even a lock file was left


def test_fresh_deletes_only_what_the_store_or_marker_names(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _fake_run_folder(run)
    (run / "stages" / "mydata").mkdir()
    (run / "stages" / "mydata" / "thesis.txt").write_text("mine")
    (run / "stages" / "notes.txt").write_text("mine too")
    (run / "report.md").write_text("a report")
    left = clear_run_dir(run)
    assert left == ["stages/mydata", "stages/notes.txt"]
    assert not (run / "stages" / STAGE).exists()
    assert not (run / STORE_NAME).exists()
    assert (run / "stages" / "mydata" / "thesis.txt").read_text() == "mine"
    assert (run / "report.md").exists()
    assert (run / MARKER_NAME).exists()


def test_a_store_without_marker_still_counts_and_an_empty_sqlite_does_not(tmp_path: Path) -> None:
    from prunebench.errors import UsageError

    old = tmp_path / "old"  # a run folder written before the marker existed
    old.mkdir()
    Store(old).close()
    (old / "stages" / STAGE).mkdir(parents=True)
    assert clear_run_dir(old) == []
    assert not (old / "stages").exists()
    fake = tmp_path / "fake"
    (fake / "stages" / STAGE).mkdir(parents=True)
    (fake / STORE_NAME).write_bytes(b"")
    with pytest.raises(UsageError, match="not a prunebench run folder"):
        clear_run_dir(fake)
    assert (fake / "stages" / STAGE).is_dir()


def test_fresh_deletes_the_stage_folders_prunebench_set_aside_and_nothing_else(tmp_path: Path) -> None:
    from prunebench.suite.runfolder import set_aside_name

    run = tmp_path / "run"
    _fake_run_folder(run)
    aside = run / "stages" / set_aside_name(STAGE)  # as a rerun keeps a stage whose artifact changed
    aside.mkdir()
    (aside / "weights.pt").write_bytes(b"damaged")
    lookalikes = [f"{STAGE}.changed-yesterday", f"{STAGE}.changed-20261201T000000Z.mine",
                  "mine.changed-20261201T000000Z"]
    for name in lookalikes:
        (run / "stages" / name).mkdir()
        (run / "stages" / name / "notes.txt").write_text("mine")
    (run / "stages" / f"{STAGE}.changed-20261201T000000Z").write_text("a file, not a folder")
    left = clear_run_dir(run)
    assert not aside.exists()
    assert not (run / "stages" / STAGE).exists()
    assert sorted(left) == sorted(f"stages/{n}" for n in [*lookalikes, f"{STAGE}.changed-20261201T000000Z"])
    for name in lookalikes:
        assert (run / "stages" / name / "notes.txt").read_text() == "mine"
