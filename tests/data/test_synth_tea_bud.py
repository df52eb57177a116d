"""The synthetic tea-bud set: deterministic per seed, generated once, usable as a dataset plugin."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import prunebench as pb
from prunebench.cli import main
from prunebench.data.check import check_split
from prunebench.data.synth import SynthOptions, generate_tea_bud
from prunebench.data.yolo import load_data_yaml
from prunebench.errors import UsageError


def _digest(root: Path) -> str:
    h = hashlib.sha1()
    for f in sorted((root / "images").rglob("*")) + sorted((root / "labels").rglob("*")):
        if f.is_file():
            h.update(f.relative_to(root).as_posix().encode() + f.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    opts = SynthOptions(train=3, val=2, imgsz=96, seed=5)
    a = generate_tea_bud(tmp_path / "a", opts)
    b = generate_tea_bud(tmp_path / "b", opts)
    c = generate_tea_bud(tmp_path / "c", SynthOptions(train=3, val=2, imgsz=96, seed=6))
    assert _digest(a.parent) == _digest(b.parent) != _digest(c.parent)


def test_generated_once_then_reused(tmp_path: Path) -> None:
    opts = SynthOptions(train=2, val=1, imgsz=96)
    data = generate_tea_bud(tmp_path / "t", opts)
    img = data.parent / "images" / "train" / "train_00000.jpg"
    before = img.stat().st_mtime_ns
    assert generate_tea_bud(tmp_path / "t", opts) == data
    assert img.stat().st_mtime_ns == before
    generate_tea_bud(tmp_path / "t", SynthOptions(train=3, val=1, imgsz=96))  # other options: redrawn
    assert len(list((data.parent / "images" / "train").iterdir())) == 3


def test_refuses_to_overwrite_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        generate_tea_bud(tmp_path / "mine", SynthOptions(train=1, val=1, imgsz=96))


def test_default_val_split_resembles_the_seed_study(tmp_path: Path) -> None:
    data = generate_tea_bud(tmp_path / "v", SynthOptions(train=1, val=40, imgsz=96))
    idx = check_split(load_data_yaml(data), "val")
    assert idx.images == 40
    assert 80 <= idx.instances <= 120
    assert not idx.skipped
    widths = [w for lb in idx.labels for w in lb[:, 3]]
    assert min(widths) > 0.03
    assert max(widths) < 0.5


def test_plugin_prepare_and_fingerprint(tmp_path: Path) -> None:
    ds = pb.create_dataset("tea-bud-synth", train=2, val=1, imgsz=96)
    data = ds.prepare(tmp_path)
    assert data.is_file()
    assert data.parent.parent == tmp_path
    assert ds.fingerprint() == pb.create_dataset("tea-bud-synth", train=2, val=1, imgsz=96).fingerprint()
    assert ds.fingerprint() != pb.create_dataset("tea-bud-synth", train=2, val=1, imgsz=96, seed=1).fingerprint()
    yolo = pb.create_dataset("yolo", path=str(data))
    assert yolo.prepare(tmp_path) == data.resolve()
    before = yolo.fingerprint()
    (data.parent / "labels" / "train" / "train_00000.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    assert yolo.fingerprint() != before


def test_cli_synth(tmp_path: Path) -> None:
    assert main(["data", "synth", "tea-bud", "--out", str(tmp_path / "s"), "--train", "2", "--val", "1",
                 "--imgsz", "96", "--seed", "3"]) == 0
    assert (tmp_path / "s" / "data.yaml").is_file()
    assert main(["data", "synth", "tea-bud", "--out", str(tmp_path / "s"), "--train", "0"]) == 2
