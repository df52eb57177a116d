"""The YOLO-format torch Dataset, its collate function and a seeded, epoch-aware DataLoader factory."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from prunebench.data.augment import (
    augment_hsv,
    letterbox,
    load_resized,
    mosaic4,
    random_affine,
    xywhn2xyxy,
    xyxy2xywhn,
)
from prunebench.data.check import SplitIndex, check_split
from prunebench.data.yolo import DataInfo, load_data_yaml
from prunebench.errors import UsageError

__all__ = ["DEFAULT_HYP", "EpochSampler", "YoloDataset", "collate_fn", "create_dataloader", "set_epoch"]

#: augmentation defaults of hyp.scratch-low (used where the given hyp lacks a key)
DEFAULT_HYP: dict[str, float] = {
    "hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4, "degrees": 0.0, "translate": 0.1, "scale": 0.5,
    "shear": 0.0, "perspective": 0.0, "flipud": 0.0, "fliplr": 0.5, "mosaic": 1.0, "mixup": 0.0,
}

Shapes = tuple[tuple[int, int], tuple[tuple[float, float], tuple[float, float]]]


class YoloDataset(Dataset):  # type: ignore[type-arg]
    """Images and labels of one checked split, letterboxed (and augmented when ``augment``).

    Items are ``(image uint8 [3, h, w], labels [n, 6] (0, class, cx, cy, w, h normalised), path, shapes)``
    where ``shapes = ((h0, w0), ((ratio_h, ratio_w), (pad_w, pad_h)))`` undoes the letterbox. Randomness
    comes from a generator seeded by ``(seed, epoch, index)``, so a run is reproducible with any number
    of workers; call :meth:`set_epoch` before each epoch.
    """

    def __init__(self, index: SplitIndex, imgsz: int = 640, *, augment: bool = False,
                 hyp: Mapping[str, float] | None = None, rect: bool = False, batch_size: int = 16,
                 stride: int = 32, pad: float = 0.0, cache: bool = True, seed: int = 0) -> None:
        self.imgsz = int(imgsz)
        self.augment = augment
        self.hyp = {**DEFAULT_HYP, **dict(hyp or {})}
        self.rect = rect
        self.stride = stride
        self.seed = int(seed)
        self.epoch = 0
        self.mosaic = augment and not rect and self.hyp["mosaic"] > 0
        self.files = list(index.files)
        self.labels = [lb.copy() for lb in index.labels]
        self.shapes = np.array(index.shapes, dtype=np.float64).reshape(-1, 2)  # h, w
        self.batch_shapes: np.ndarray | None = None
        if rect:
            self._make_rect(batch_size, pad)
        self._cache: list[tuple[np.ndarray, tuple[int, int], tuple[int, int]] | None] = [None] * len(self.files)
        if cache and self.files:
            with ThreadPoolExecutor(max_workers=4) as pool:
                self._cache = list(pool.map(lambda f: load_resized(str(f), self.imgsz), self.files))

    def _make_rect(self, batch_size: int, pad: float) -> None:
        n = len(self.files)
        ar = self.shapes[:, 0] / self.shapes[:, 1]  # h / w
        order = np.argsort(ar, kind="stable")
        self.files = [self.files[i] for i in order]
        self.labels = [self.labels[i] for i in order]
        self.shapes = self.shapes[order]
        ar = ar[order]
        bi = np.arange(n) // batch_size
        nb = int(bi[-1]) + 1 if n else 0
        shapes = np.ones((nb, 2))
        for b in range(nb):
            ari = ar[bi == b]
            lo, hi = ari.min(), ari.max()
            if hi < 1:
                shapes[b] = [hi, 1]
            elif lo > 1:
                shapes[b] = [1, 1 / lo]
        self.batch_shapes = np.ceil(shapes * self.imgsz / self.stride + pad).astype(int) * self.stride
        self.batch_index = bi

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.files)

    def load_image(self, i: int) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
        """The image resized to a long side of ``imgsz`` (from the RAM cache when filled)."""
        cached = self._cache[i]
        return cached if cached is not None else load_resized(str(self.files[i]), self.imgsz)

    def _rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, i])

    def _load_mosaic(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        def load(k: int) -> tuple[np.ndarray, np.ndarray]:
            return self.load_image(k)[0], self.labels[k]

        return mosaic4(i, len(self), self.imgsz, load, rng, self.hyp)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, str, Shapes | None]:
        rng = self._rng(i)
        hyp = self.hyp
        shapes: Shapes | None = None
        if self.mosaic and rng.random() < hyp["mosaic"]:
            img, labels = self._load_mosaic(i, rng)
            if rng.random() < hyp["mixup"]:
                img2, labels2 = self._load_mosaic(int(rng.integers(0, len(self))), rng)
                r = rng.beta(32.0, 32.0)
                img = (img.astype(np.float32) * r + img2.astype(np.float32) * (1 - r)).astype(np.uint8)
                labels = np.concatenate([labels, labels2], 0)
        else:
            img, (h0, w0), (h, w) = self.load_image(i)
            shape = (tuple(int(v) for v in self.batch_shapes[self.batch_index[i]])
                     if self.batch_shapes is not None else (self.imgsz, self.imgsz))
            img, ratio, pad = letterbox(img, shape, scaleup=self.augment)  # type: ignore[arg-type]
            shapes = ((h0, w0), ((ratio[0] * h / h0, ratio[1] * w / w0), (float(pad[0]), float(pad[1]))))
            labels = self.labels[i].copy()
            if len(labels):
                labels[:, 1:] = xywhn2xyxy(labels[:, 1:], ratio[0] * w, ratio[1] * h, pad[0], pad[1])
            if self.augment:
                img, labels = random_affine(img, labels, rng, degrees=hyp["degrees"], translate=hyp["translate"],
                                            scale=hyp["scale"], shear=hyp["shear"])
        nl = len(labels)
        if nl:
            labels = labels.astype(np.float32)
            labels[:, 1:5] = xyxy2xywhn(labels[:, 1:5], img.shape[1], img.shape[0], clip=True)
        if self.augment:
            img = augment_hsv(img, rng, hyp["hsv_h"], hyp["hsv_s"], hyp["hsv_v"])
            if rng.random() < hyp["flipud"]:
                img = np.flipud(img)
                if nl:
                    labels[:, 2] = 1 - labels[:, 2]
            if rng.random() < hyp["fliplr"]:
                img = np.fliplr(img)
                if nl:
                    labels[:, 1] = 1 - labels[:, 1]
        out = torch.zeros((nl, 6))
        if nl:
            out[:, 1:] = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.float32))
        chw = np.ascontiguousarray(img.transpose(2, 0, 1))
        return torch.from_numpy(chw), out, str(self.files[i]), shapes


def collate_fn(batch: list[Any]) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...], tuple[Any, ...]]:
    """Stack images; concatenate labels with their image index in column 0."""
    imgs, labels, paths, shapes = zip(*batch, strict=True)
    for k, lb in enumerate(labels):
        lb[:, 0] = k
    return torch.stack(imgs, 0), torch.cat(labels, 0), paths, shapes


class EpochSampler(Sampler[int]):
    """Sequential, or a permutation seeded by ``(seed, epoch)`` so that resumed runs see the same order."""

    def __init__(self, n: int, *, shuffle: bool, seed: int = 0) -> None:
        self.n, self.shuffle, self.seed, self.epoch = n, shuffle, int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator()
        g.manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def set_epoch(loader: DataLoader, epoch: int) -> None:  # type: ignore[type-arg]
    """Tell the loader's dataset and sampler which epoch comes next (augmentation and order depend on it)."""
    ds = loader.dataset
    if hasattr(ds, "set_epoch"):
        ds.set_epoch(epoch)
    sampler = loader.sampler
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def create_dataloader(data: DataInfo | str | Path, split: str, imgsz: int, batch_size: int, augment: bool = False,
                      hyp: Mapping[str, float] | None = None, *, rect: bool = False, workers: int = 0,
                      cache: bool = True, shuffle: bool | None = None, seed: int = 0, stride: int = 32,
                      pad: float = 0.0, index: SplitIndex | None = None, drop_last: bool = False,
                      ) -> DataLoader:  # type: ignore[type-arg]
    """A DataLoader over ``split`` of ``data`` (a :class:`DataInfo` or a data.yaml path).

    Its ``.dataset`` is the :class:`YoloDataset`; items are collated by :func:`collate_fn` into
    ``(images uint8 [b, 3, h, w], targets [n, 6], paths, shapes)``.
    ``shuffle`` defaults to ``augment``; ``rect`` batches images of similar aspect ratio (validation) and
    turns shuffle and mosaic off. Worker processes (``workers``) each use one torch thread.
    """
    if imgsz % stride:
        raise UsageError(f"imgsz must be a multiple of {stride} (the model's largest stride), got {imgsz}.")
    info = data if isinstance(data, DataInfo) else load_data_yaml(data)
    index = index or check_split(info, split)
    shuffle = augment if shuffle is None else shuffle
    if rect and shuffle:
        shuffle = False
    dataset = YoloDataset(index, imgsz, augment=augment, hyp=hyp, rect=rect, batch_size=batch_size,
                          stride=stride, pad=pad, cache=cache, seed=seed)
    workers = min(workers, max(0, math.ceil(len(dataset) / max(batch_size, 1))))
    loader = DataLoader(dataset, batch_size=batch_size, sampler=EpochSampler(len(dataset), shuffle=shuffle, seed=seed),
                        num_workers=workers, collate_fn=collate_fn, pin_memory=False, drop_last=drop_last,
                        worker_init_fn=_worker_init if workers else None)
    return loader
