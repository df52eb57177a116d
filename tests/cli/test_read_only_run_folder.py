"""A read-only run folder: run, report and export say "read-only" and what to do; reading still works."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from prunebench.cli import main

pytestmark = pytest.mark.slow


def _make_read_only(src: Path, view: Path) -> Iterator[Path]:
    """``view``: the run folder ``src`` as this process cannot write it (chmod; as root a read-only bind mount)."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [src, *src.rglob("*")]}
        for p, mode in modes.items():
            p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            yield src
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    view.mkdir()
    if subprocess.run(["mount", "--bind", str(src), str(view)], check=False, capture_output=True).returncode != 0:
        pytest.skip("running as root without the right to bind-mount: no way to make a folder read-only")
    try:
        remount = ["mount", "-o", "remount,ro,bind", str(view)]
        if subprocess.run(remount, check=False, capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only")
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=False)


@pytest.fixture
def read_only_run(finished_run: Path, tmp_path: Path) -> Iterator[Path]:
    yield from _make_read_only(finished_run / "run", tmp_path / "ro-view")


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr()
    return " ".join((out.out + out.err).split())


def test_run_report_and_export_name_a_read_only_folder(read_only_run: Path, finished_run: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    spec = finished_run / "spec.yaml"
    assert main(["run", str(spec), "--out", str(read_only_run), "--no-progress"]) == 2
    text = _said(capsys)
    assert "read-only" in text
    assert "`prunebench run` writes its results store" in text
    assert "Traceback" not in text

    assert main(["report", str(read_only_run), "-r", "json"]) == 2
    text = _said(capsys)
    assert "read-only" in text
    assert "-r console" in text  # what to do instead
    assert "damaged" not in text
    assert "not readable" not in text

    cell = "yolov5n/baseline/s0"
    assert main(["export", str(read_only_run), "--cell", cell, "--format", "pt"]) == 2
    text = _said(capsys)
    assert "read-only" in text
    assert "--out" in text


def test_a_read_only_run_folder_can_still_be_read(read_only_run: Path, finished_run: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(read_only_run), "-r", "console"]) == 0
    assert "baseline" in _said(capsys)
    assert main(["validate", str(finished_run / "spec.yaml"), "--out", str(read_only_run)]) == 0
    assert "3 of 3 cached" in _said(capsys)
    out = tmp_path / "model.pt"
    assert main(["export", str(read_only_run), "--cell", "yolov5n/baseline/s0", "--format", "pt",
                 "--out", str(out)]) == 0
    assert out.is_file()
    (tmp_path / "afile").write_text("x")  # an --out under a file: named, no traceback
    assert main(["export", str(read_only_run), "--cell", "yolov5n/baseline/s0", "--format", "pt",
                 "--out", str(tmp_path / "afile" / "m.pt")]) == 2
    text = _said(capsys)
    assert "afile" in text
    assert "is a file" in text
