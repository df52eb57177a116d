"""Broken datasets through `prunebench data check`: each problem is named, with the right exit code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from prunebench.cli import main

GOOD = "0 0.5 0.5 0.25 0.25\n"


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["data", "check", *args])
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


# ---- fixable or skippable problems: the dataset stays usable (exit 0), each file is listed with its reason


def test_clean_dataset_summary(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, str(make_dataset()))
    assert code == 0
    assert "│ train │ 2 │ 2 │ 0 │ 0 │ 0 │ - │" in out
    assert "│ val │ 1 │ 1 │ 0 │ 0 │ 0 │ - │" in out


def test_corrupt_image_is_skipped(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset()
    (data.parent / "images" / "train" / "bad.jpg").write_bytes(b"this is not a jpeg at all" * 10)
    code, out = run(capsys, str(data))
    assert code == 0
    assert "skipped train:" in out
    assert "bad.jpg: corrupt image" in out
    assert "corrupt image: 1" in out


def test_truncated_image_is_skipped(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    from PIL import Image

    data = make_dataset()
    path = data.parent / "images" / "train" / "cut.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    code, out = run(capsys, str(data))
    assert code == 0
    assert "cut.jpg: truncated image:" in out


def test_unsupported_format_is_listed(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    data = make_dataset()
    Image.new("RGB", (32, 32)).save(data.parent / "images" / "train" / "anim.gif")
    code, out = run(capsys, str(data))
    assert code == 0
    assert "anim.gif: unsupported format: .gif" in out


def test_wrong_column_count(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(train={"a.png": GOOD, "b.png": GOOD + "0 0.5 0.5 0.2\n"})
    code, out = run(capsys, str(data))
    assert code == 0
    assert "wrong column count:" in out
    assert "b.txt line 2: 4 columns, expected 5 (class cx cy w h)" in out


def test_coordinates_outside_unit_range(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(train={"a.png": GOOD, "b.png": "0 1.2 0.5 0.2 0.2\n"})
    code, out = run(capsys, str(data))
    assert code == 0
    assert "coordinates outside [0, 1]:" in out
    assert "b.txt line 1: 1.2 0.5 0.2 0.2" in out


def test_class_id_out_of_range(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(train={"a.png": GOOD, "b.png": "3 0.5 0.5 0.2 0.2\n"})
    code, out = run(capsys, str(data))
    assert code == 0
    assert "class id out of range:" in out
    assert "class 3 but the dataset has nc=1 (allowed 0..0)" in out


def test_label_not_a_number(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(train={"a.png": GOOD, "b.png": "0 0.5 abc 0.2 0.2\n"})
    code, out = run(capsys, str(data))
    assert code == 0
    assert "not a number:" in out
    assert "b.txt line 1: '0 0.5 abc 0.2 0.2'" in out


def test_duplicate_rows_are_dropped_and_counted(make_dataset: Callable[..., Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(train={"a.png": GOOD + GOOD + "0 0.2 0.2 0.1 0.1\n", "b.png": GOOD})
    code, out = run(capsys, str(data))
    assert code == 0
    # 2 images, 3 instances (one duplicate dropped), 0 backgrounds, 1 duplicate, 0 skipped
    assert "│ train │ 2 │ 3 │ 0 │ 1 │ 0 │ - │" in out


def test_missing_label_file_is_a_background(make_dataset: Callable[..., Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(train={"a.png": GOOD, "b.png": None})
    code, out = run(capsys, str(data))
    assert code == 0
    assert "│ train │ 2 │ 1 │ 1 │ 0 │ 0 │ - │" in out


# ---- unusable datasets: a message naming the file and what to do, exit code 2


def test_data_yaml_missing_keys(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(yaml="path: .\ntrain: images/train\nnames: [bud]\n")
    code, out = run(capsys, str(data))
    assert code == 2
    assert f"error: {data}: missing key(s) 'val'." in out
    assert "hint: A data.yaml needs `train:` and `val:`" in out


def test_data_yaml_missing_names(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(yaml="train: images/train\nval: images/val\n")
    code, out = run(capsys, str(data))
    assert code == 2
    assert f"{data}: missing key 'names' (and 'nc')." in out


def test_split_path_does_not_exist(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(yaml="path: .\ntrain: images/train\nval: images/valid\nnames: [bud]\n")
    code, out = run(capsys, str(data))
    assert code == 2
    assert f"{data}: val: 'images/valid' does not exist (looked for {data.parent / 'images' / 'valid'})." in out


def test_root_path_does_not_exist(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(yaml="path: ../nowhere\ntrain: images/train\nval: images/val\nnames: [bud]\n")
    code, out = run(capsys, str(data))
    assert code == 2
    assert f"{data}: path: the dataset root" in out
    assert "nowhere does not exist." in out


def test_data_yaml_file_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, str(tmp_path / "nope.yaml"))
    assert code == 2
    assert f"Dataset file {tmp_path / 'nope.yaml'} does not exist." in out


def test_empty_split(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(val={})
    code, out = run(capsys, str(data))
    assert code == 2
    assert f"{data}: val: no images found in images/val." in out


def test_no_labels_at_all(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(train={"a.png": None, "b.png": None})
    code, out = run(capsys, str(data))
    assert code == 2
    assert f"{data}: train: no labels at all (2 images, 0 boxes); looked for label files such as" in out
    assert "labels/train/a.txt" in out


def test_every_image_unusable(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(train={"a.png": "0 2 2 2 2\n", "b.png": "0 2 2 2 2\n"})
    code, out = run(capsys, str(data))
    assert code == 2
    assert f"{data}: train: none of the 2 images is usable; e.g. a.png: coordinates outside [0, 1]" in out


def test_invalid_yaml_names_the_line(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(yaml="path: .\ntrain: images/train\nval: [images/val\nnames: [bud]\n")
    code, out = run(capsys, str(data))
    assert code == 2
    assert f"{data} line 4: not valid YAML" in out


def test_nc_disagrees_with_names(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(yaml="path: .\ntrain: images/train\nval: images/val\nnc: 2\nnames: [bud]\n")
    code, out = run(capsys, str(data))
    assert code == 2
    assert f"{data}: nc is 2 but names lists 1 classes (['bud'])." in out


def test_check_one_split_only(make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(train={"a.png": None, "b.png": None})  # train unusable, val fine
    code, out = run(capsys, str(data), "--split", "val")
    assert code == 0
    assert "│ val │ 1 │ 1 │" in out
    assert "│ train │" not in out


def test_data_without_action_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data"]) == 2
    assert "prunebench data {check,synth}" in " ".join(capsys.readouterr().out.split())


def test_yolo_plugin_refuses_an_unusable_dataset(make_dataset: Callable[..., Path]) -> None:
    import prunebench as pb
    from prunebench.errors import UsageError

    data = make_dataset(val={})
    with pytest.raises(UsageError, match="val: no images found"):
        pb.create_dataset("yolo", path=str(data)).prepare(data.parent)
