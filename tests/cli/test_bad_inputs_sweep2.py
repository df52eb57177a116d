"""Bad input found by the second sweep (issue 11): one case per class, each failed before its fix.

Every spec case exits 2 from ``validate`` (so ``run`` is never reached); every case shows no traceback and
names the field or option and the value; compared with whitespace normalised (rich may wrap).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from prunebench.cli import main
from prunebench.testing_tiny import TINY_MODEL

Case = Callable[[Path, Callable[..., Path]], tuple[list[str], list[str]]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def add(fn: Case) -> Case:
        CASES[name] = fn
        return fn
    return add


def _l1(levels: list[float], **options: Any) -> list[dict[str, Any]]:
    return [{"name": "l1", "levels": levels, "options": options}]


@case("a spec without cells: baseline false and no pruners")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["validate", str(write_spec(baseline=False, pruners=[]))], ["baseline", "no cell to run"]


@case("a run folder that is a broken symbolic link")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "link").symlink_to(tmp / "nowhere")
    return ["validate", str(write_spec(output=str(tmp / "link")))], ["link", "symbolic link", "does not exist"]


@case("weights of another family name the file")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    import prunebench as pb

    fam = pb.get_model_family("yolov8n", width_multiple=0.0625)
    v8 = fam.save(fam.build(nc=1), tmp / "v8.pt")
    spec = write_spec(models=[{**TINY_MODEL, "weights": str(v8)}])
    return ["validate", str(spec)], ["models.0.weights", str(v8), "not a YOLOv5"]


@case("a matched-cost level the scope cannot reach")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(baseline=False, pruners=_l1([0.3, 0.95], target="params"))
    return ["validate", str(spec)], ["pruners.0.levels.1", "level 0.95", "can remove at most", "scope 'backbone'"]


@case("latency_imgsz that is not a multiple of 32")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(pruners=_l1([0.3], target="latency", latency_imgsz=100))
    return ["validate", str(spec)], ["pruners.0.options.latency_imgsz", "multiple of 32", "100"]


@case("a latency metric imgsz that is not a multiple of 32")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(metrics=["params", {"name": "latency_ms", "options": {"imgsz": 33}}])
    return ["validate", str(spec)], ["metrics.1.options.imgsz", "multiple of 32", "33"]


@case("a speed imgsz that the model cannot take")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(speed={"runtimes": ["torch"], "imgsz": 50})
    return ["validate", str(spec)], ["speed.imgsz", "multiple of 32", "50"]


@case("speed min_rounds above max_rounds")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(speed={"runtimes": ["torch"], "min_rounds": 10, "max_rounds": 5})
    return ["validate", str(spec)], ["speed", "min_rounds (10)", "max_rounds (5)"]


@case("a synthetic dataset's out that is a file")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "afile").write_text("mine")
    spec = write_spec(dataset={"name": "tea-bud-synth", "options": {"train": 8, "val": 4, "out": str(tmp / "afile")}})
    return ["validate", str(spec)], ["dataset", str(tmp / "afile"), "is a file"]


@case("an evaluate split the dataset does not have")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(evaluate={"batch_size": 4, "split": "test"})  # the tiny tea-bud set has no test images
    return ["validate", str(spec)], ["evaluate.split", "'test'", "no such split", "train, val"]


@case("a reporter file outside the run folder")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(reporters=[{"name": "json", "options": {"filename": "../../escape.json"}}])
    return ["validate", str(spec)], ["reporters.0.options.filename", "'../../escape.json'", "inside the run folder"]


@case("a plots folder given as an absolute path")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(reporters=[{"name": "plots", "options": {"folder": str(tmp / "elsewhere")}}])
    return ["validate", str(spec)], ["reporters.0.options.folder", str(tmp / "elsewhere"), "inside the run folder"]


@case("a local Ray asked for more GPUs per cell than the machine has")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    import torch

    gpus = torch.cuda.device_count() + 1  # a local Ray would wait for them forever
    spec = write_spec(executor={"name": "ray", "gpus_per_cell": gpus})
    return ["validate", str(spec)], ["executor.options.gpus_per_cell", f"{gpus} GPU", "wait", "forever"]


@case("a local Ray asked for more CPUs per task than it has")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(executor={"name": "ray", "num_cpus": 2, "cpus_per_task": 3})
    return ["validate", str(spec)], ["executor.options.cpus_per_task", "3 CPUs per task", "has 2", "forever"]


@case("a local Ray told to advertise an address that is not this machine's")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(executor={"name": "ray", "node_ip_address": "999.1.1.1"})
    return ["validate", str(spec)], ["executor.options.node_ip_address", "'999.1.1.1'", "not an address of this"]


@case("a Ray cluster address where nothing answers")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(executor={"name": "ray", "address": "127.0.0.1:1"})
    return ["validate", str(spec)], ["executor.options.address", "No Ray cluster answers at 127.0.0.1:1"]


@case("an unknown name that differs from a known one in case")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["validate", str(write_spec(metrics=["mAP"]))], ["metrics.0", "'mAP'", "Did you mean 'map50'"]


# ---- a read-only place for the run folder -------------------------------------------------------------------


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty folder this process cannot write (chmod; as root a read-only bind mount)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    mount = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], check=False,
                           capture_output=True)
    if mount.returncode != 0:
        pytest.skip("running as root without the right to bind-mount: no way to make a folder read-only")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_validate_refuses_a_run_folder_that_cannot_be_created(read_only_dir: Path, write_spec: Callable[..., Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write_spec(output=str(read_only_dir / "run")))]) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert str(read_only_dir) in text
    assert "read-only" in text
    assert "cannot create the run folder" in text


def test_validate_warns_that_run_cannot_write_a_read_only_run_folder(
        read_only_dir: Path, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write_spec(output=str(read_only_dir)))]) == 0  # reading it still works
    text = " ".join(capsys.readouterr().out.split())
    assert f"the run folder {read_only_dir} is read-only" in text
    assert "`prunebench run` cannot write there" in text


# ---- image files ----------------------------------------------------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels and holds no pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(
        b"IEND", b"")


def test_an_image_header_of_billions_of_pixels_is_skipped_with_its_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml
    from PIL import Image

    root = tmp_path / "ds"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (64, 48), (90, 140, 60)).save(root / "images" / split / f"{i}.png")
            (root / "labels" / split / f"{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "images" / "val" / "0.png").write_bytes(_png_header(100_000, 100_000))  # a decompression bomb
    data = root / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val", "names": ["a"]}))
    assert main(["data", "check", str(data), "--no-cache"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Traceback" not in text
    assert "skipped val" in text  # (the path itself may be folded by rich)
    assert "image too large to decode" in text
    assert "10000000000 pixels" in text


# ---- the command line --------------------------------------------------------------------------------------------


@case("run --fresh --rebuild-store")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return (["run", str(write_spec()), "--fresh", "--rebuild-store", "--no-progress"],
            ["--fresh and --rebuild-store contradict each other"])


@case("run --executor with an unknown name")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["run", str(write_spec()), "--executor", "slurm", "--no-progress"], ["--executor slurm", "'slurm'"]


@case("info --weights of a text file")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "t.pt").write_text("hello, not a checkpoint")
    return ["info", "yolov5n", "--weights", str(tmp / "t.pt")], ["Cannot read checkpoint", str(tmp / "t.pt")]


@case("info --weights of another family name the file")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    import prunebench as pb

    fam = pb.get_model_family("yolov8n", width_multiple=0.0625)
    v8 = fam.save(fam.build(nc=1), tmp / "v8.pt")
    return ["info", "yolov5n", "-o", "width_multiple=0.0625", "--weights", str(v8)], [str(v8), "not a YOLOv5"]


@case("info --imgsz without bound")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["info", "yolov5n", "--imgsz", "65536000"], ["--imgsz", "between 32 and 4096", "65536000"]


@case("data check --max-list -1")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["data", "check", str(tmp / "data.yaml"), "--max-list", "-1"], ["--max-list", "0 or more", "-1"]


# ---- a finished run folder ------------------------------------------------------------------------------------


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr()
    return " ".join((out.out + out.err).split())


def test_export_never_replaces_an_existing_file_without_force(finished_run: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "notes.pt"
    mine.write_text("my own notes")
    argv = ["export", str(finished_run / "run"), "--cell", "yolov5n/baseline/s0", "--format", "pt", "--out", str(mine)]
    assert main(argv) == 2
    assert "exists; export does not replace a file unless told to" in _said(capsys)
    assert mine.read_text() == "my own notes"
    assert main([*argv, "--force"]) == 0
    assert mine.read_bytes() != b"my own notes"


def test_export_imgsz_that_is_not_positive(finished_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["export", str(finished_run / "run"), "--cell", "yolov5n/baseline/s0", "--imgsz", "-64", "--no-verify"]
    assert main(argv) == 2
    text = _said(capsys)
    assert "Traceback" not in text
    assert "--imgsz must be between 32 and 4096" in text
    assert "-64" in text


def test_rebuild_store_refuses_a_store_of_a_newer_prunebench(finished_run: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import shutil
    import sqlite3

    run = tmp_path / "run"
    shutil.copytree(finished_run / "run", run)
    with sqlite3.connect(run / "results.sqlite") as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    before = sorted(p.name for p in run.iterdir())
    assert main(["run", str(finished_run / "spec.yaml"), "--out", str(run), "--rebuild-store", "--no-progress"]) == 2
    assert "newer prunebench (store schema 99" in _said(capsys)
    assert sorted(p.name for p in run.iterdir()) == before  # nothing renamed as "damaged"


def test_a_full_disk_is_named_without_a_traceback(finished_run: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A run folder on a tiny tmpfs: the store's commit fails with SQLite's "database or disk is full"."""
    full = tmp_path / "full"
    full.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(full)],
                                           check=False, capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a tiny tmpfs")
    try:
        code = main(["run", str(finished_run / "spec.yaml"), "--out", str(full / "run"), "--no-progress"])
        text = _said(capsys)
    finally:
        subprocess.run(["umount", "-l", str(full)], check=False)  # lazily: the failed run may hold a file
    assert code in (1, 2), text
    assert "Traceback" not in text
    assert "disk is full" in text.lower() or "no space left" in text.lower()
    assert "rerun the same command" in text, text


# ---- every case above (parametrized last: the list is complete here) ----------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_clearly(name: str, tmp_path: Path, write_spec: Callable[..., Path],
                                      assert_refused: Callable[[list[str], list[str]], str]) -> None:
    assert_refused(*CASES[name](tmp_path, write_spec))
