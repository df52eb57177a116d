"""A split whose list names images that are missing or corrupt: checking it warns how many will be skipped."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from prunebench.default_plugins.datasets import DataWarning, YoloData


def test_missing_and_corrupt_images_are_counted_in_a_warning(make_dataset: Callable[..., Path]) -> None:
    data = make_dataset()
    root = data.parent
    (root / "images" / "train" / "broken.png").write_bytes(b"not a png")
    (root / "train.txt").write_text("images/train/a.png\nimages/train/b.png\nimages/train/broken.png\n"
                                    "images/train/gone.png\n")
    data.write_text("path: .\ntrain: train.txt\nval: images/val\nnames: [bud]\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert YoloData({"path": str(data)}).check() == 1
    said = [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, DataWarning)]
    assert len(said) == 1, said
    assert "train (train.txt): 2 of 4 images will be skipped" in said[0]
    assert "prunebench data check" in said[0]
    with warnings.catch_warnings(record=True) as clean:
        warnings.simplefilter("always")
        make_dataset(root=root.parent / "clean")
        YoloData({"path": str(root.parent / "clean" / "data.yaml")}).check()
    assert not [w for w in clean if issubclass(w.category, DataWarning)]
