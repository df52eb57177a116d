"""The data pipeline: check cache, letterbox geometry, augmentation bounds, seeded loaders."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from prunebench.data.augment import letterbox, mosaic4, random_affine, xywhn2xyxy
from prunebench.data.check import check_split
from prunebench.data.loader import create_dataloader, set_epoch
from prunebench.data.yolo import img2label_path, load_data_yaml
from prunebench.models.ops import scale_boxes

GOOD = "0 0.5 0.5 0.25 0.25\n"


def test_img2label_path_replaces_last_images_folder() -> None:
    assert img2label_path(Path("/d/images/x/images/train/a.jpg")) == Path("/d/images/x/labels/train/a.txt")


def test_names_as_mapping_and_txt_split(make_dataset: Callable[..., Path], tmp_path: Path) -> None:
    data = make_dataset()
    (data.parent / "train.txt").write_text("images/train/a.png\n./images/train/b.png\n")
    data.write_text("path: .\ntrain: train.txt\nval: images/val\nnames: {0: bud}\n")
    info = load_data_yaml(data)
    assert info.names == ["bud"]
    assert info.nc == 1
    assert [p.name for p in info.train] == ["a.png", "b.png"]


def test_check_is_cached_and_invalidated_by_changes(make_dataset: Callable[..., Path]) -> None:
    data = make_dataset()
    info = load_data_yaml(data)
    first = check_split(info, "train")
    assert not first.from_cache
    assert first.instances == 2
    assert check_split(info, "train").from_cache
    label = data.parent / "labels" / "train" / "a.txt"
    time.sleep(0.01)
    label.write_text(GOOD + "0 0.2 0.2 0.1 0.1\n")
    again = check_split(load_data_yaml(data), "train")
    assert not again.from_cache
    assert again.instances == 3


def test_letterbox_round_trip_matches_native_boxes() -> None:
    img = np.zeros((60, 100, 3), np.uint8)
    out, ratio, pad = letterbox(img, (64, 96))
    assert out.shape == (64, 96, 3)
    native = np.array([[10.0, 5.0, 50.0, 40.0]])
    boxed = native * ratio[0] + np.array([pad[0], pad[1], pad[0], pad[1]])
    back = scale_boxes((64, 96), torch.tensor(boxed), (60, 100), ((ratio[0], ratio[1]), pad))
    assert torch.allclose(back, torch.tensor(native), atol=1e-4)


def test_random_affine_keeps_boxes_inside() -> None:
    rng = np.random.default_rng(0)
    img = np.full((64, 64, 3), 100, np.uint8)
    targets = np.array([[0, 10, 10, 30, 40], [0, 40, 40, 60, 60]], np.float32)
    for _ in range(20):
        out, t = random_affine(img, targets, rng, translate=0.2, scale=0.5, degrees=10)
        assert out.shape == (64, 64, 3)
        assert (t[:, 1:] >= 0).all()
        assert (t[:, [1, 3]] <= 64).all()
        assert (t[:, [2, 4]] <= 64).all()


def test_mosaic_output_size_and_labels() -> None:
    rng = np.random.default_rng(1)
    imgs = [np.full((48, 64, 3), 50 * k, np.uint8) for k in range(4)]
    labels = [np.array([[0, 0.5, 0.5, 0.5, 0.5]], np.float32) for _ in range(4)]
    out, lb = mosaic4(0, 4, 64, lambda i: (imgs[i], labels[i]), rng, {"translate": 0.1, "scale": 0.5})
    assert out.shape == (64, 64, 3)
    assert lb.shape[1] == 5
    assert (lb[:, 1:] >= 0).all()
    assert (lb[:, 1:] <= 64).all()


def test_xywhn2xyxy() -> None:
    box = xywhn2xyxy(np.array([[0.5, 0.5, 0.5, 0.25]]), 100, 80)
    np.testing.assert_allclose(box, [[25, 30, 75, 50]])


def _first_batch(data: Path, seed: int, workers: int, epoch: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    loader = create_dataloader(data, "train", 64, 2, augment=True, workers=workers, seed=seed)
    set_epoch(loader, epoch)
    imgs, targets, _, _ = next(iter(loader))
    return imgs, targets


def test_loader_is_deterministic_per_seed(make_dataset: Callable[..., Path]) -> None:
    data = make_dataset(train={f"{k}.png": GOOD for k in range(4)})
    a, ta = _first_batch(data, 0, 0)
    b, tb = _first_batch(data, 0, 1)  # a worker process gives the same batch
    c, _ = _first_batch(data, 1, 0)
    d, _ = _first_batch(data, 0, 0, epoch=1)
    assert a.dtype == torch.uint8
    assert a.shape == (2, 3, 64, 64)
    assert torch.equal(a, b)
    assert torch.equal(ta, tb)
    assert not torch.equal(a, c)
    assert not torch.equal(a, d)


def test_rect_validation_batches(make_dataset: Callable[..., Path]) -> None:
    data = make_dataset()
    loader = create_dataloader(data, "val", 64, 4, rect=True, pad=0.5)
    imgs, targets, _paths, shapes = next(iter(loader))
    assert imgs.shape[2] % 32 == 0
    assert imgs.shape[3] % 32 == 0
    (h0, w0), ((_rh, _rw), (_pw, _ph)) = shapes[0]
    assert (h0, w0) == (40, 48)
    assert targets.shape == (1, 6)


def test_loader_rejects_bad_imgsz(make_dataset: Callable[..., Path]) -> None:
    from prunebench.errors import UsageError

    with pytest.raises(UsageError, match="multiple of 32"):
        create_dataloader(make_dataset(), "train", 100, 2)
