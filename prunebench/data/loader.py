"""The YOLO-format torch Dataset, its collate function and a seeded, epoch-aware DataLoader factory."""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from prunebench.data.augment import (
    augment_hsv,
    letterbox,
    load_resized,
    mixup,
    mosaic4,
    random_perspective,
    resized_shape,
    xywhn2xyxy,
    xyxy2xywhn,
)
from prunebench.data.check import SplitIndex, check_split
from prunebench.data.yolo import DataInfo, load_data_yaml
from prunebench.errors import UsageError

__all__ = [
    "DEFAULT_HYP",
    "CacheMode",
    "EpochSampler",
    "YoloDataset",
    "available_memory",
    "collate_fn",
    "create_dataloader",
    "default_workers",
    "resolve_cache",
    "set_epoch",
]

log = logging.getLogger("prunebench.data")

#: augmentation defaults of hyp.scratch-low (used where the given hyp lacks a key)
DEFAULT_HYP: dict[str, float] = {
    "hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4, "degrees": 0.0, "translate": 0.1, "scale": 0.5,
    "shear": 0.0, "perspective": 0.0, "flipud": 0.0, "fliplr": 0.5, "mosaic": 1.0, "mixup": 0.0,
}

#: ``"ram"``: decode every image once into memory (after checking that it fits); ``"off"``: decode per use
CacheMode = Literal["ram", "off"]

#: fraction of the available memory the RAM cache must leave free (YOLOv5 keeps 10%)
RAM_HEADROOM = 0.1

Shapes = tuple[tuple[int, int], tuple[tuple[float, float], tuple[float, float]]]
Key = int | tuple[int, int, bool]  # an index, or (index, epoch, mosaic) from EpochSampler


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def default_workers(cpus: int | None = None) -> int:
    """``workers: auto``: one CPU stays with the training process, the rest load data, at most 8.

    1 CPU: 0 (load in the main process); 2: 1; 4: 3; 8: 7; 16 or more: 8 (YOLOv5's default cap).
    """
    cpus = usable_cpus() if cpus is None else cpus
    return max(0, min(8, cpus - 1))


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (``MemAvailable``), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # pragma: no cover - non-Linux
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return None


def resolve_cache(cache: bool | str | None) -> CacheMode:
    """``True``/``"ram"`` -> ``"ram"``; ``False``/``None``/``"off"`` -> ``"off"``; anything else is an error."""
    if cache is True or cache == "ram":
        return "ram"
    if cache is False or cache is None or cache == "off":
        return "off"
    raise UsageError(f"cache: expected 'ram' or 'off' (or true/false), got {cache!r}.")


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


class YoloDataset(Dataset):  # type: ignore[type-arg]
    """Images and labels of one checked split, letterboxed (and augmented when ``augment``).

    Items are ``(image uint8 RGB [3, h, w], labels [n, 6] (0, class, cx, cy, w, h normalised), path, shapes)``
    where ``shapes = ((h0, w0), ((ratio_h, ratio_w), (pad_w, pad_h)))`` undoes the letterbox. Randomness
    comes from a generator seeded by ``(seed, epoch, index)``, so a run is reproducible with any number
    of workers. The epoch (and whether mosaic is on) travels with each index from :class:`EpochSampler`,
    so persistent worker processes follow :func:`set_epoch` too; a plain integer index uses the
    dataset's own ``epoch`` and ``mosaic``.

    ``cache="ram"`` decodes every image once, resized, into memory: the bytes it takes are computed
    from the checked image sizes and compared with the available memory first (``log`` reports both);
    when it would not leave 10% free, the dataset decodes per use instead.
    """

    def __init__(self, index: SplitIndex, imgsz: int = 640, *, augment: bool = False,
                 hyp: Mapping[str, float] | None = None, rect: bool = False, batch_size: int = 16,
                 stride: int = 32, pad: float = 0.0, cache: bool | str | None = "ram", seed: int = 0,
                 workers: int = 0, log: Callable[[str], None] | None = None) -> None:
        self.imgsz = int(imgsz)
        self.augment = augment
        self.hyp = {**DEFAULT_HYP, **dict(hyp or {})}
        self.rect = rect
        self.stride = stride
        self.seed = int(seed)
        self.epoch = 0
        self.mosaic = augment and not rect and self.hyp["mosaic"] > 0
        self.split = index.split
        self.files = list(index.files)
        self.labels = [lb.copy() for lb in index.labels]
        self.shapes = np.array(index.shapes, dtype=np.float64).reshape(-1, 2)  # h, w
        self.batch_shapes: np.ndarray | None = None
        if rect:
            self._make_rect(batch_size, pad)
        self._cache: list[tuple[np.ndarray, tuple[int, int], tuple[int, int]] | None] = [None] * len(self.files)
        self.cache_mode: CacheMode = resolve_cache(cache)
        self.cache_bytes = self.ram_needed()
        self.cached = False
        if self.cache_mode == "ram" and self.files:
            self._fill_cache(workers, log or log_info)

    def ram_needed(self) -> int:
        """Bytes the RAM cache takes: every image at its resized size, 3 bytes a pixel (exact, from the check)."""
        total = 0
        for h0, w0 in self.shapes.astype(int):
            h, w = resized_shape(int(h0), int(w0), self.imgsz)
            total += h * w * 3
        return total

    def _fill_cache(self, workers: int, say: Callable[[str], None]) -> None:
        forked = multiprocessing.get_context().get_start_method() == "fork"
        copies = 1 if workers == 0 or forked else 1 + workers  # spawned workers each unpickle their own copy
        need = self.cache_bytes * copies
        avail = available_memory()
        what = f"{self.split}: RAM cache of {len(self.files)} images at {self.imgsz} px: {_fmt_bytes(need)}"
        if avail is not None and need * (1 + RAM_HEADROOM) > avail:
            say(f"{what} needed, {_fmt_bytes(avail)} available; not caching (images are decoded at every use; "
                "set cache: off to silence this)")
            self.cache_mode = "off"
            return
        say(f"{what} ({_fmt_bytes(avail) + ' available' if avail is not None else 'available memory unknown'})")
        threads = max(1, min(8, usable_cpus()))
        with ThreadPoolExecutor(max_workers=threads) as pool:  # OpenCV releases the GIL while decoding
            self._cache = list(pool.map(lambda f: load_resized(f, self.imgsz, self.augment), self.files))
        self.cached = True

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
        """The BGR image resized to a long side of ``imgsz`` (from the RAM cache when filled)."""
        cached = self._cache[i]
        return cached if cached is not None else load_resized(self.files[i], self.imgsz, self.augment)

    def _load_mosaic(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        def load(k: int) -> tuple[np.ndarray, np.ndarray]:
            return self.load_image(k)[0], self.labels[k]

        return mosaic4(i, len(self), self.imgsz, load, rng, self.hyp)

    def __getitem__(self, key: Key) -> tuple[torch.Tensor, torch.Tensor, str, Shapes | None]:
        i, epoch, mosaic_on = key if isinstance(key, tuple) else (key, self.epoch, self.mosaic)
        rng = np.random.default_rng([self.seed, int(epoch), int(i)])
        hyp = self.hyp
        shapes: Shapes | None = None
        if mosaic_on and self.augment and not self.rect and rng.random() < hyp["mosaic"]:
            img, labels = self._load_mosaic(i, rng)
            if rng.random() < hyp["mixup"]:
                img2, labels2 = self._load_mosaic(int(rng.integers(0, len(self))), rng)
                img, labels = mixup(img, labels, img2, labels2, rng)
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
                img, labels = random_perspective(img, labels, rng, degrees=hyp["degrees"],
                                                 translate=hyp["translate"], scale=hyp["scale"],
                                                 shear=hyp["shear"], perspective=hyp["perspective"])
        nl = len(labels)
        if nl:
            labels = labels.astype(np.float32)
            labels[:, 1:5] = xyxy2xywhn(labels[:, 1:5], img.shape[1], img.shape[0], clip=True)
        if self.augment:
            cached = self._cache[i]
            if cached is not None and img is cached[0]:
                img = img.copy()  # HSV works in place: never change the cached image
            augment_hsv(img, rng, hyp["hsv_h"], hyp["hsv_s"], hyp["hsv_v"])
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
        chw = np.ascontiguousarray(img.transpose(2, 0, 1)[::-1])  # HWC BGR -> CHW RGB, one copy
        return torch.from_numpy(chw), out, str(self.files[i]), shapes


def log_info(msg: str) -> None:
    log.info(msg)


def collate_fn(batch: list[Any]) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...], tuple[Any, ...]]:
    """Stack images; concatenate labels with their image index in column 0."""
    imgs, labels, paths, shapes = zip(*batch, strict=True)
    for k, lb in enumerate(labels):
        lb[:, 0] = k
    return torch.stack(imgs, 0), torch.cat(labels, 0), paths, shapes


class EpochSampler(Sampler[tuple[int, int, bool]]):
    """Sequential, or a permutation seeded by ``(seed, epoch)`` so that resumed runs see the same order.

    Yields ``(index, epoch, mosaic)`` so that the epoch's augmentation settings reach worker processes
    that outlive the epoch (``persistent_workers``).
    """

    def __init__(self, n: int, *, shuffle: bool, seed: int = 0, mosaic: bool = False) -> None:
        self.n, self.shuffle, self.seed, self.epoch, self.mosaic = n, shuffle, int(seed), 0, mosaic

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[tuple[int, int, bool]]:
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = range(self.n)
        epoch, mosaic = self.epoch, self.mosaic
        return iter([(i, epoch, mosaic) for i in order])

    def __len__(self) -> int:
        return self.n


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def set_epoch(loader: DataLoader, epoch: int, *, mosaic: bool | None = None) -> None:  # type: ignore[type-arg]
    """Tell the loader which epoch comes next (augmentation and order depend on it) and, optionally,
    whether mosaic is on in it (``close_mosaic``); works with persistent worker processes."""
    ds = loader.dataset
    if hasattr(ds, "set_epoch"):
        ds.set_epoch(epoch)
    if mosaic is not None and hasattr(ds, "mosaic"):
        ds.mosaic = bool(mosaic and ds.augment and not ds.rect)
    sampler = loader.sampler
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    if hasattr(sampler, "mosaic") and hasattr(ds, "mosaic"):
        sampler.mosaic = ds.mosaic


def create_dataloader(data: DataInfo | str | Path, split: str, imgsz: int, batch_size: int, augment: bool = False,
                      hyp: Mapping[str, float] | None = None, *, rect: bool = False, workers: int | str = 0,
                      cache: bool | str | None = "ram", shuffle: bool | None = None, seed: int = 0, stride: int = 32,
                      pad: float = 0.0, index: SplitIndex | None = None, drop_last: bool = False,
                      pin_memory: bool = False, prefetch: int = 2, persistent: bool = True,
                      log: Callable[[str], None] | None = None) -> DataLoader:  # type: ignore[type-arg]
    """A DataLoader over ``split`` of ``data`` (a :class:`DataInfo` or a data.yaml path).

    Its ``.dataset`` is the :class:`YoloDataset`; items are collated by :func:`collate_fn` into
    ``(images uint8 [b, 3, h, w], targets [n, 6], paths, shapes)``; convert the images to float on the
    device (``imgs.to(dev, non_blocking=True).float() / 255``).
    ``shuffle`` defaults to ``augment``; ``rect`` batches images of similar aspect ratio (validation) and
    turns shuffle and mosaic off. ``workers`` (``"auto"``: :func:`default_workers`, never more than the
    batches of an epoch) are worker processes with one torch thread each, kept alive across epochs
    (``persistent``) and ``prefetch`` batches ahead each; ``pin_memory`` pins batches for asynchronous
    copies to CUDA (ignored without CUDA). ``cache``: ``"ram"`` or ``"off"`` (see :class:`YoloDataset`).
    """
    if imgsz % stride:
        raise UsageError(f"imgsz must be a multiple of {stride} (the model's largest stride), got {imgsz}.")
    if workers == "auto":
        workers = default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise UsageError(f"workers: expected 'auto' or an integer >= 0, got {workers!r}.")
    if prefetch < 1:
        raise UsageError(f"prefetch: expected an integer >= 1 (batches each worker prepares ahead), got {prefetch!r}.")
    info = data if isinstance(data, DataInfo) else load_data_yaml(data)
    index = index or check_split(info, split)
    shuffle = augment if shuffle is None else shuffle
    if rect and shuffle:
        shuffle = False
    workers = min(workers, max(0, math.ceil(len(index.files) / max(batch_size, 1))))
    dataset = YoloDataset(index, imgsz, augment=augment, hyp=hyp, rect=rect, batch_size=batch_size,
                          stride=stride, pad=pad, cache=cache, seed=seed, workers=workers, log=log)
    sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=seed, mosaic=dataset.mosaic)
    extra: dict[str, Any] = {}
    if workers:
        extra = {"worker_init_fn": _worker_init, "persistent_workers": persistent, "prefetch_factor": prefetch}
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, collate_fn=collate_fn,
                      pin_memory=bool(pin_memory and torch.cuda.is_available()), drop_last=drop_last, **extra)
