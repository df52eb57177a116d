"""Fixtures for the data tests: tiny YOLO-format datasets written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

GOOD_LABEL = "0 0.5 0.5 0.25 0.25\n"


def write_image(path: Path, size: tuple[int, int] = (48, 40), seed: int = 0, fmt: str | None = None) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path, format=fmt)
    return path


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """``make_dataset(train={name: label_text|None}, val={...}, yaml=...)`` -> the data.yaml path.

    ``None`` as label text writes no label file (a background image).
    """

    def make(train: dict[str, str | None] | None = None, val: dict[str, str | None] | None = None,
             yaml: str | None = None, root: Path | None = None) -> Path:
        root = root or tmp_path / "ds"
        train = {"a.png": GOOD_LABEL, "b.png": GOOD_LABEL} if train is None else train
        val = {"c.png": GOOD_LABEL} if val is None else val
        for split, files in (("train", train), ("val", val)):
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            for k, (name, label) in enumerate(files.items()):
                write_image(root / "images" / split / name, seed=k)
                if label is not None:
                    lb = root / "labels" / split / Path(name).with_suffix(".txt")
                    lb.parent.mkdir(parents=True, exist_ok=True)
                    lb.write_text(label)
        data = root / "data.yaml"
        data.write_text(yaml if yaml is not None else "path: .\ntrain: images/train\nval: images/val\nnames: [bud]\n")
        return data

    return make
