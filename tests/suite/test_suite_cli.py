"""``prunebench run`` and ``prunebench validate``: the plan table, cached marks and exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prunebench.cli import main
from prunebench.suite.runner import clear_run_dir, default_spec_path


def test_validate_prints_the_plan(write_spec: Any, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    spec = write_spec(pruners=[{"name": "l1", "levels": [0.3, 0.6]}], seeds=[0, 1])
    assert main(["validate", str(spec), "--stages"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "spec OK - 6 cells, 17 stages" in out
    for cell in ("yolov5n/baseline/s0", "yolov5n/l1/0.3/s1", "yolov5n/l1/0.6/s0"):
        assert cell in out
    assert "0 of 17 cached" in out
    assert "finetune-" in out


def test_validate_and_run_refuse_a_bad_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodels: [yolov5n]\npruners:\n  - name: l1\n    levels: [1.5]\n", encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    assert "pruners.0.levels.0" in " ".join(capsys.readouterr().err.split())
    assert main(["run", str(bad), "--no-progress"]) == 2
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2


def test_unknown_executor_is_a_usage_error(write_spec: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(write_spec()), "--executor", "rey", "--no-progress"]) == 2
    assert "Did you mean 'ray'" in " ".join(capsys.readouterr().err.split())


def test_the_embedded_quick_spec_is_valid_and_equals_the_shipped_one(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[2]
    assert default_spec_path().read_text() == (root / "specs" / "tea-bud-quick.yaml").read_text()
    assert main(["validate", str(default_spec_path())]) == 0
    assert "12 cells" in " ".join(capsys.readouterr().out.split())
    assert main(["validate", str(root / "specs" / "tea-bud.yaml")]) in (0, 2)  # 2 without prunebench-nni


def test_fresh_refuses_a_folder_that_is_not_a_run_folder(tmp_path: Path) -> None:
    from prunebench.errors import UsageError
    from prunebench.suite.store import Store

    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a prunebench run folder"):
        clear_run_dir(tmp_path)
    assert (tmp_path / "precious.txt").exists()
    run = tmp_path / "run"
    (run / "stages" / "train-0123456789abcdef").mkdir(parents=True)
    Store(run).close()
    (run / "report.md").write_text("kept")
    clear_run_dir(run)
    assert not (run / "stages").exists()
    assert not (run / "results.sqlite").exists()
    assert (run / "report.md").exists()


def test_one_run_per_run_folder(tmp_path: Path) -> None:
    import os

    from prunebench.errors import UsageError
    from prunebench.suite.runner import _lock

    with _lock(tmp_path), pytest.raises(UsageError, match=f"pid {os.getpid()}"), _lock(tmp_path):
        pass
    with _lock(tmp_path):  # released
        pass
