"""Pixel fidelity of the OpenCV pipeline against hand-checked YOLOv5 v7.0 semantics.

Every expected value here is worked out by hand from the definition (block means for INTER_AREA,
sample positions for INTER_LINEAR, HSV of pure colours, an affine map of a constant image), not by
calling the function under test.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from prunebench.data.augment import (
    PAD_VALUE,
    augment_hsv,
    letterbox,
    load_resized,
    mosaic4,
    random_perspective,
    resize_long_side,
    resized_shape,
)


class FixedDraws:
    """A stand-in for ``numpy.random.Generator`` whose ``uniform`` returns ``low + f * (high - low)``
    for preset fractions ``f`` in call order (so a test chooses each random draw)."""

    def __init__(self, *fractions: float) -> None:
        self.fractions = list(fractions)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: int | None = None) -> float | np.ndarray:
        take = 1 if size is None else int(size)
        f = np.array([self.fractions.pop(0) for _ in range(take)])
        out = low + f * (high - low)
        return float(out[0]) if size is None else out


def _blocks(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An image of 3x3 blocks whose mean is ``c`` and whose centre is ``c - 8`` (c per block, 3 channels)."""
    c = rng.integers(20, 230, (n, n, 3)).astype(np.int16)
    pattern = np.array([[1, 1, 1], [1, -8, 1], [1, 1, 1]], np.int16)
    img = np.kron(c, np.ones((3, 3, 1), np.int16)) + np.tile(pattern[:, :, None], (n, n, 3))
    return img.astype(np.uint8), c.astype(np.uint8)


def test_resized_sizes_are_floor_rounded() -> None:
    # r = 64 / 100 = 0.64: 45 * 0.64 = 28.8 -> 28 (YOLOv5 v7.0's int(), not round()), 100 -> 64
    assert resized_shape(45, 100, 64) == (28, 64)
    assert resize_long_side(np.zeros((45, 100, 3), np.uint8), 64, augment=True).shape == (28, 64, 3)
    assert resized_shape(30, 40, 40) == (30, 40)  # r == 1: untouched
    assert resized_shape(10, 20, 60) == (30, 60)  # enlarged: 10 * 3


def test_shrinking_without_augmentation_is_inter_area_and_training_is_inter_linear() -> None:
    img, means = _blocks(12, np.random.default_rng(0))  # 36 x 36 -> 12 x 12 is a factor-3 shrink
    val = resize_long_side(img, 12, augment=False)
    train = resize_long_side(img, 12, augment=True)
    np.testing.assert_array_equal(val, means)  # INTER_AREA: the mean of each 3x3 block
    # INTER_LINEAR at scale 1/3 samples source (3x + 1, 3y + 1): each block's centre pixel exactly
    np.testing.assert_array_equal(train, means - 8)


def test_enlarging_is_inter_linear_even_for_validation() -> None:
    img = np.array([[[0, 0, 0], [100, 100, 100]]], np.uint8).repeat(2, 0)  # 2 x 2: left 0, right 100
    out = resize_long_side(img, 4, augment=False)  # x2: LINEAR gives 0, 25, 75, 100 across
    np.testing.assert_array_equal(out[0, :, 0], [0, 25, 75, 100])


def test_load_resized_decodes_bgr_and_resizes(tmp_path: Path) -> None:
    img, means = _blocks(8, np.random.default_rng(1))
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), img)
    out, hw0, hw = load_resized(path, 8, augment=False)
    assert hw0 == (24, 24)
    assert hw == (8, 8)
    np.testing.assert_array_equal(out, means)


def test_letterbox_pads_with_114_odd_pixel_bottom_right() -> None:
    img = np.full((33, 64, 3), 7, np.uint8)  # r = 1: no resize; 31 rows of padding: 15 top, 16 bottom
    out, ratio, pad = letterbox(img, (64, 64))
    assert out.shape == (64, 64, 3)
    assert ratio == (1.0, 1.0)
    assert pad == (0.0, 15.5)
    assert (out[:15] == PAD_VALUE).all()
    assert (out[15:48] == 7).all()
    assert (out[48:] == PAD_VALUE).all()


def test_letterbox_resizes_linear_with_rounded_size() -> None:
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, 20:] = 200
    out, ratio, pad = letterbox(img, (64, 64))  # r = 1.6: 64 x 32 (round), 16 rows top and bottom
    assert ratio == (1.6, 1.6)
    assert pad == (0.0, 16.0)
    assert (out[:16] == PAD_VALUE).all()
    assert (out[48:] == PAD_VALUE).all()
    band = out[16:48]
    np.testing.assert_array_equal(band, cv2.resize(img, (64, 32), interpolation=cv2.INTER_LINEAR))
    assert band[0, 0, 0] == 0
    assert band[0, 63, 0] == 200
    small, r2, _ = letterbox(np.zeros((20, 40, 3), np.uint8), (64, 64), scaleup=False)
    assert r2 == (1.0, 1.0)
    assert (small[22:42, 12:52] == 0).all()  # 20 x 40 centred: 22 rows and 12 columns of padding
    assert (small[:22] == PAD_VALUE).all()


def _px(bgr: tuple[int, int, int]) -> np.ndarray:
    return np.array(bgr, np.uint8).reshape(1, 1, 3).repeat(2, 0).repeat(2, 1)


@pytest.mark.parametrize(("bgr", "gains", "draws", "expected"), [
    # hue x1.5 (draw 0.75 of [-1, 1] = 0.5, gain 1): green H=60 -> 90 = cyan
    ((0, 255, 0), (1.0, 0.0, 0.0), (0.75, 0.5, 0.5), (255, 255, 0)),
    # hue wraps modulo 180 (OpenCV's scale): blue H=120 -> 180 % 180 = 0 = red
    ((255, 0, 0), (1.0, 0.0, 0.0), (0.75, 0.5, 0.5), (0, 0, 255)),
    # value x0.5: red V=255 -> 127 (truncated)
    ((0, 0, 255), (0.0, 0.0, 1.0), (0.5, 0.5, 0.25), (0, 0, 127)),
    # saturation x0.5: red S=255 -> 127: min channel = V - S*V/255 = 128
    ((0, 0, 255), (0.0, 1.0, 0.0), (0.5, 0.25, 0.5), (128, 128, 255)),
])
def test_hsv_gains_on_pure_colours(bgr: tuple[int, int, int], gains: tuple[float, float, float],
                                   draws: tuple[float, float, float], expected: tuple[int, int, int]) -> None:
    img = _px(bgr)
    out = augment_hsv(img, FixedDraws(*draws), *gains)  # type: ignore[arg-type]
    assert out is img  # in place, as YOLOv5
    assert (out.reshape(-1, 3) == expected).all(), out[0, 0]


def test_hsv_without_gains_is_untouched() -> None:
    img = np.random.default_rng(0).integers(0, 255, (4, 4, 3), dtype=np.uint8)
    before = img.copy()
    augment_hsv(img, np.random.default_rng(0), 0.0, 0.0, 0.0)
    np.testing.assert_array_equal(img, before)


def test_affine_scale_about_centre_fills_border_with_114_and_maps_boxes() -> None:
    img = np.full((64, 64, 3), 200, np.uint8)
    targets = np.array([[0, 8, 8, 40, 24], [0, 0, 0, 3, 3]], np.float32)
    # draws: perspective x2, angle, scale (fraction 0 of [0.5, 1.5] = 0.5), shear x2, translate x2 (centre)
    draws = FixedDraws(0.5, 0.5, 0.5, 0.0, 0.5, 0.5, 0.5, 0.5)
    out, t = random_perspective(img, targets, draws, scale=0.5, translate=0.0)  # type: ignore[arg-type]
    assert out.shape == (64, 64, 3)
    # x' = (x - 32) * 0.5 + 32: the image shrinks to [16, 48); outside it the border is grey 114
    assert (out[17:47, 17:47] == 200).all()
    assert (out[:15] == PAD_VALUE).all()
    assert (out[:, 49:] == PAD_VALUE).all()
    # box (8, 8, 40, 24) -> (20, 20, 36, 28); the 3x3 box becomes 1.5 px wide and is dropped (<= 2 px)
    np.testing.assert_allclose(t, [[0, 20, 20, 36, 28]], atol=1e-5)


def test_affine_translation_clips_boxes_and_drops_those_mostly_outside() -> None:
    img = np.full((64, 64, 3), 50, np.uint8)
    targets = np.array([[1, 4, 10, 24, 30], [2, 40, 40, 60, 60]], np.float32)
    # translate x by (0.5 - 0.25) * 64 - 32 = -16 px: box 1 keeps 8 of 20 columns (40% > 10%): clipped
    draws = FixedDraws(0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.5)
    out, t = random_perspective(img, targets, draws, scale=0.0, translate=0.25)  # type: ignore[arg-type]
    assert (out[:, 48:] == PAD_VALUE).all()  # the right 16 columns came from outside the image
    assert (out[:, :48] == 50).all()
    np.testing.assert_allclose(t, [[1, 0, 10, 8, 30], [2, 24, 40, 44, 60]], atol=1e-5)
    draws = FixedDraws(0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.5)
    narrow = np.array([[0, 14, 10, 17, 30]], np.float32)  # 3 px wide, 1 px left after the shift: dropped
    _, t2 = random_perspective(img, narrow, draws, scale=0.0, translate=0.25)  # type: ignore[arg-type]
    assert len(t2) == 0


def test_perspective_warp_border_is_114() -> None:
    img = np.full((32, 32, 3), 10, np.uint8)
    draws = FixedDraws(1.0, 1.0, 0.5, 0.0, 0.5, 0.5, 0.5, 0.5)
    out, _ = random_perspective(img, np.zeros((0, 5), np.float32), draws,  # type: ignore[arg-type]
                                scale=0.5, perspective=0.001)
    assert out.shape == (32, 32, 3)
    assert (out[0, 0] == PAD_VALUE).all()
    assert (out[16, 16] == 10).all()


def _mosaic_order(seed: int, index: int = 0) -> tuple[list[int], np.ndarray, np.ndarray]:
    order: list[int] = []
    imgs = [np.full((64, 64, 3), 40 * k + 10, np.uint8) for k in range(6)]
    labels = [np.array([[k, 0.5, 0.5, 0.5, 0.5]], np.float32) for k in range(6)]

    def load(i: int) -> tuple[np.ndarray, np.ndarray]:
        order.append(i)
        return imgs[i], labels[i]

    out, lb = mosaic4(index, 6, 64, load, np.random.default_rng(seed), {"translate": 0.1, "scale": 0.5})
    return order, out, lb


def test_mosaic_tiles_are_shuffled_but_seeded() -> None:
    first = _mosaic_order(3, index=2)
    again = _mosaic_order(3, index=2)
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_array_equal(first[2], again[2])
    top_left = []
    for seed in range(40):
        order, out, _ = _mosaic_order(seed, index=2)
        assert len(order) == 4
        assert 2 in order  # the indexed image is always one of the four tiles
        top_left.append(order[0])
        assert out.shape == (64, 64, 3)
    # shuffled: the indexed image lands in every quadrant, not always top left (YOLOv5 v7.0's shuffle)
    positions = {_mosaic_order(s, index=2)[0].index(2) for s in range(40)}
    assert positions == {0, 1, 2, 3}
    assert set(top_left) != {2}
