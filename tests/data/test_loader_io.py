"""The input path: RGB output, RAM cache sizing and fallback, worker defaults, persistent workers per epoch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from prunebench.data import loader as loader_mod
from prunebench.data.check import check_split
from prunebench.data.loader import create_dataloader, default_workers, resolve_cache, set_epoch
from prunebench.data.yolo import load_data_yaml
from prunebench.errors import UsageError

GOOD = "0 0.5 0.5 0.25 0.25\n"


def test_default_workers_leave_one_cpu_and_cap_at_8() -> None:
    assert [default_workers(c) for c in (1, 2, 4, 8, 16, 64)] == [0, 1, 3, 7, 8, 8]


def test_cache_modes() -> None:
    assert resolve_cache(True) == resolve_cache("ram") == "ram"
    assert resolve_cache(False) == resolve_cache(None) == resolve_cache("off") == "off"
    with pytest.raises(UsageError, match="'ram' or 'off'"):
        resolve_cache("disk")


def test_batches_are_rgb(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "ds"
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 250  # pure red in RGB
    rgb[..., 2] = 10
    Image.fromarray(rgb).save(root / "images" / "val" / "a.png")
    (root / "labels" / "val" / "a.txt").write_text(GOOD)
    (root / "data.yaml").write_text("path: .\ntrain: images/val\nval: images/val\nnames: [bud]\n")
    imgs, *_ = next(iter(create_dataloader(root / "data.yaml", "val", 32, 1)))
    assert imgs.dtype == torch.uint8
    assert (imgs[0, 0] == 250).all()
    assert (imgs[0, 1] == 0).all()
    assert (imgs[0, 2] == 10).all()


def test_ram_cache_size_is_reported_before_filling(make_dataset: Callable[..., Path]) -> None:
    data = make_dataset(train={f"{k}.png": GOOD for k in range(3)})  # 48 x 40 images
    said: list[str] = []
    ld = create_dataloader(data, "train", 64, 2, augment=True, cache="ram", log=said.append)
    ds = ld.dataset
    # long side 48 -> 64: r = 4/3, 40 * 4/3 = 53.3 -> 53; 3 images x 53 x 64 x 3 bytes
    assert ds.cache_bytes == 3 * 53 * 64 * 3
    assert ds.cached
    assert len(said) == 1
    assert "train: RAM cache of 3 images at 64 px: 29.8 KB" in said[0]
    assert "available" in said[0]
    assert ds.load_image(0)[0].shape == (53, 64, 3)


def test_ram_cache_falls_back_when_memory_is_short(make_dataset: Callable[..., Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_dataset(train={f"{k}.png": GOOD for k in range(3)})
    monkeypatch.setattr(loader_mod, "available_memory", lambda: 20_000)  # less than the 30 KB needed
    said: list[str] = []
    ld = create_dataloader(data, "train", 64, 2, augment=True, cache="ram", log=said.append)
    assert not ld.dataset.cached
    assert ld.dataset.cache_mode == "off"
    assert "not caching" in said[0]
    assert "19.5 KB available" in said[0]
    imgs, *_ = next(iter(ld))  # still loads, from disk
    assert imgs.shape == (2, 3, 64, 64)


def test_cache_off_loads_the_same_pixels(make_dataset: Callable[..., Path]) -> None:
    data = make_dataset(train={f"{k}.png": GOOD for k in range(4)})
    a = next(iter(create_dataloader(data, "train", 64, 4, augment=True, cache="ram", seed=3)))
    b = next(iter(create_dataloader(data, "train", 64, 4, augment=True, cache="off", seed=3)))
    assert torch.equal(a[0], b[0])
    assert torch.equal(a[1], b[1])


def _epochs(data: Path, workers: int, mosaic_by_epoch: list[bool]) -> list[torch.Tensor]:
    ld = create_dataloader(data, "train", 64, 2, augment=True, workers=workers, seed=5, persistent=True)
    out = []
    for epoch, mosaic in enumerate(mosaic_by_epoch):
        set_epoch(ld, epoch, mosaic=mosaic)
        out.append(torch.cat([imgs for imgs, *_ in ld]))
    return out


def test_persistent_workers_follow_the_epoch_and_close_mosaic(make_dataset: Callable[..., Path]) -> None:
    data = make_dataset(train={f"{k}.png": GOOD for k in range(4)})
    plan = [True, True, False]  # the last epoch without mosaic (close_mosaic)
    main = _epochs(data, 0, plan)
    workers = _epochs(data, 2, plan)
    for a, b in zip(main, workers, strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(main[0], main[1])  # a new epoch, new draws
    # the last epoch is what a loader without mosaic gives for that epoch: the flag reached the workers
    ld = create_dataloader(data, "train", 64, 2, augment=True, hyp={"mosaic": 0.0}, seed=5)
    set_epoch(ld, 2)
    assert torch.equal(workers[2], torch.cat([imgs for imgs, *_ in ld]))
    assert not torch.equal(workers[1], workers[2])


def test_shapes_are_exif_upright(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "ds"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 60 wide x 30 high, shown rotated 90 degrees: 30 wide x 60 high
    Image.new("RGB", (60, 30), (90, 90, 90)).save(root / "images" / "train" / "a.jpg", exif=exif)
    (root / "labels" / "train" / "a.txt").write_text(GOOD)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [bud]\n")
    index = check_split(load_data_yaml(root / "data.yaml"), "train")
    assert index.shapes == [(60, 30)]
    ld = create_dataloader(root / "data.yaml", "train", 64, 1, index=index, cache="off")
    _, (h0, w0), _ = ld.dataset.load_image(0)
    assert (h0, w0) == (60, 30)  # OpenCV applies the orientation too
