"""``prunebench info``: the summary table and JSON, option parsing, checkpoints and user errors (exit 2)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from prunebench.cli import main


@pytest.fixture(autouse=True)
def _bundled_only(monkeypatch: pytest.MonkeyPatch, fresh_catalogue: None) -> None:
    monkeypatch.setenv("PRUNEBENCH_DISABLE_PLUGINS", "all")


def test_info_json_matches_the_official_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "yolov5n", "--nc", "1", "--imgsz", "320", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["nc"] == 1
    assert data["unfused"]["layers"] == 214
    assert data["unfused"]["params"] == 1_765_270
    assert data["fused"]["params"] == 1_760_518
    assert data["fused"]["gflops_640"] == pytest.approx(4.1296, abs=0.05)
    assert data["fused"]["gflops"] == pytest.approx(4.1296 / 4, abs=0.02)


def test_info_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "yolov5n", "-o", "width_multiple=0.0625", "--nc", "2"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "yolov5n (nc=2)" in out
    assert "unfused" in out
    assert "GFLOPs@640" in out


def test_info_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from prunebench.models.yolov5.family import YOLOv5n

    fam = YOLOv5n({"width_multiple": 0.0625})
    path = fam.save(fam.build(nc=4), tmp_path / "w.pt")
    assert main(["info", "yolov5n", "--weights", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["nc"] == 4
    assert data["weights"] == str(path)


@pytest.mark.parametrize(("argv", "needle"), [
    (["info", "yolov5q"], "Did you mean"),
    (["info", "yolov5n", "--imgsz", "100"], "multiple of 32"),
    (["info", "yolov5n", "--prune", "l1"], "--level"),
    (["info", "yolov5n", "-o", "width_multiple"], "KEY=VALUE"),
    (["info", "yolov5n", "--weights", "/nonexistent/best.pt"], "not found"),
])
def test_info_user_errors(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert needle in " ".join(capsys.readouterr().err.split())


def test_info_with_a_pruner(capsys: pytest.CaptureFixture[str]) -> None:
    import prunebench as pb

    if "l1" not in pb.list_pruners():
        pytest.skip("no l1 pruner registered in this checkout")
    argv = ["info", "yolov5n", "-o", "width_multiple=0.125", "--nc", "1", "--imgsz", "64",
            "--prune", "l1", "--level", "0.5", "--scope", "backbone", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pruned"]["fused"]["params"] < data["fused"]["params"]
    assert data["pruned"]["scope"] == "backbone"


def test_info_does_not_import_torch_at_module_import() -> None:
    import importlib
    import subprocess

    code = "import sys, prunebench.cli.info; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert importlib.import_module("prunebench.cli.info").add_parser
