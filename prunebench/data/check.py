"""Check a YOLO-format split once (images decode, labels are valid) and cache the result by sizes and mtimes."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prunebench.data.yolo import IMAGE_FORMATS, DataInfo, img2label_path
from prunebench.errors import UsageError

__all__ = ["CHECK_VERSION", "SplitIndex", "check_split", "split_fingerprint", "summary_table"]

#: bump when the checks change so that old caches are ignored
CHECK_VERSION = "2"  # 2: shapes as decoded (EXIF orientation applied)

_PIL_FORMATS = {"BMP", "JPEG", "PNG", "TIFF", "WEBP", "MPO"}
_EXIF_ORIENTATION = 0x0112


@dataclass
class SplitIndex:
    """The usable images of one split with their labels (``[n, 5]``: class cx cy w h) and sizes."""

    split: str
    files: list[Path] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    shapes: list[tuple[int, int]] = field(default_factory=list)  # (height, width) as decoded (EXIF-upright)
    backgrounds: int = 0
    duplicates: int = 0  #: duplicate label rows dropped
    skipped: list[tuple[Path, str]] = field(default_factory=list)  #: unusable files with the reason
    from_cache: bool = False

    @property
    def images(self) -> int:
        return len(self.files)

    @property
    def instances(self) -> int:
        return int(sum(len(lb) for lb in self.labels))

    def reasons(self) -> Counter[str]:
        """Skipped files counted per reason category (the text before the first colon)."""
        return Counter(r.split(":", 1)[0] for _, r in self.skipped)


def _stat(p: Path) -> tuple[int, int]:
    try:
        st = p.stat()
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def split_fingerprint(files: list[Path], nc: int) -> str:
    """A hash of every image and label file's path, size and mtime (plus ``nc`` and the check version)."""
    h = hashlib.sha1(f"{CHECK_VERSION}|{nc}".encode())
    for f in files:
        lb = img2label_path(f)
        h.update(f"{f}|{_stat(f)}|{lb}|{_stat(lb)}\n".encode())
    return h.hexdigest()


def _check_image(path: Path) -> tuple[tuple[int, int] | None, str | None]:
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() not in IMAGE_FORMATS:
        return None, f"unsupported format: {path.suffix or '(no suffix)'} (allowed: {', '.join(IMAGE_FORMATS)})"
    try:
        with open(path, "rb") as fh, Image.open(fh) as im:
            fmt = im.format or "?"
            if fmt not in _PIL_FORMATS:
                return None, f"unsupported format: file content is {fmt}"
            w, h = im.size
            if im.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8):  # stored rotated: decoders turn it upright
                w, h = h, w
            if fmt in ("JPEG", "MPO"):
                # opening parsed the headers; a cut file lacks the end-of-image marker (YOLOv5's test). A full
                # decode would catch little more at 1-2 ms an image, most of a cold check's time.
                fh.seek(-2, os.SEEK_END)
                if fh.read(2) != b"\xff\xd9":
                    return None, "truncated image: the JPEG end-of-image marker is missing (the file was cut short)"
            else:
                im.load()  # decode to catch truncation
    except FileNotFoundError:
        return None, "missing image: the file does not exist"
    except UnidentifiedImageError:
        return None, "corrupt image: not a readable image file"
    except Image.DecompressionBombError as exc:  # a header claiming billions of pixels: never decoded
        return None, f"image too large to decode: {str(exc).split(',')[0]}"
    except (OSError, SyntaxError, ValueError) as exc:
        msg = str(exc)
        kind = "truncated image" if "truncat" in msg.lower() else "corrupt image"
        return None, f"{kind}: {msg}"
    if w < 10 or h < 10:
        return None, f"image too small: {w}x{h} pixels (need at least 10x10)"
    return (h, w), None


def _check_labels(path: Path, nc: int) -> tuple[np.ndarray | None, int, str | None]:
    """Return (labels [n,5], duplicates dropped, reason) for one label file; missing file -> background."""
    if not path.is_file():
        return np.zeros((0, 5), np.float32), 0, None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, 0, f"unreadable labels: {path}: {exc}"
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 5:
            return None, 0, (f"wrong column count: {path} line {lineno}: {len(parts)} columns, "
                             f"expected 5 (class cx cy w h)")
        try:
            vals = [float(v) for v in parts]
        except ValueError:
            return None, 0, f"not a number: {path} line {lineno}: {line.strip()!r}"
        if not all(np.isfinite(vals)):
            return None, 0, f"not a number: {path} line {lineno}: {line.strip()!r}"
        cls = vals[0]
        if cls < 0 or cls != int(cls):
            return None, 0, f"bad class id: {path} line {lineno}: {parts[0]!r} is not an integer >= 0"
        if cls >= nc:
            return None, 0, (f"class id out of range: {path} line {lineno}: class {int(cls)} but the "
                             f"dataset has nc={nc} (allowed 0..{nc - 1})")
        coords = vals[1:]
        if min(coords) < 0.0 or max(coords) > 1.0:
            return None, 0, (f"coordinates outside [0, 1]: {path} line {lineno}: {' '.join(parts[1:])} "
                             f"(YOLO labels are normalised cx cy w h)")
        rows.append(vals)
    if not rows:
        return np.zeros((0, 5), np.float32), 0, None
    lb = np.asarray(rows, dtype=np.float32) + np.float32(0)  # -0.0 -> 0.0, so equal rows have equal bytes
    seen: set[bytes] = set()
    keep = [k for k, row in enumerate(lb) if not (row.tobytes() in seen or seen.add(row.tobytes()))]
    dups = len(lb) - len(keep)
    if dups:
        lb = lb[keep]  # first occurrences, in file order
    return lb, dups, None


def _check_one(args: tuple[Path, int]) -> dict[str, Any]:
    path, nc = args
    shape, reason = _check_image(path)
    if reason is not None:
        return {"im": str(path), "reason": reason}
    lb, dups, reason = _check_labels(img2label_path(path), nc)
    if reason is not None or lb is None:
        return {"im": str(path), "reason": reason}
    return {"im": str(path), "shape": list(shape or (0, 0)), "lb": lb.tolist(), "dups": dups}


def _cache_path(files: list[Path], split: str) -> Path:
    parent = img2label_path(files[0]).parent
    name = f"{parent.name}.cache" if parent.name == split else f"{parent.name}.{split}.cache"
    return parent.with_name(name)


def _load_cache(path: Path, key: str) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or data.get("version") != CHECK_VERSION:
        return None
    entries = data.get("entries")
    return entries if isinstance(entries, list) else None


def _save_cache(path: Path, key: str, entries: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"version": CHECK_VERSION, "key": key, "entries": entries}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only dataset is fine: the check simply runs again next time
        tmp.unlink(missing_ok=True)


def check_split(info: DataInfo, split: str, *, cache: bool = True, require_labels: bool | None = None,
                workers: int = 4) -> SplitIndex:
    """Check every image and label file of ``split`` once; reuse the cached result while nothing changed.

    Fixable problems are fixed and counted (duplicate rows dropped, images without a label file kept as
    backgrounds); unusable files are skipped with the reason. Raises :class:`UsageError` when the split
    has no usable image, or (``require_labels``, default for ``train``) no label at all.
    """
    files = info.split(split)
    sources = ", ".join(info.sources.get(split, []))
    if not files:
        bad = info.unsupported.get(split) or []
        extra = f" ({len(bad)} files in unsupported formats, e.g. {bad[0].name})" if bad else ""
        raise UsageError(f"{info.yaml_path}: {split}: no images found in {sources}{extra}.",
                         hint=f"Put images ({', '.join(IMAGE_FORMATS)}) under {info.path / sources.split(', ')[0]} "
                              "or fix the path in the data.yaml.")
    key = split_fingerprint(files, info.nc)
    cpath = _cache_path(files, split)
    entries = _load_cache(cpath, key) if cache else None
    from_cache = entries is not None
    if entries is None:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            entries = list(pool.map(_check_one, [(f, info.nc) for f in files]))
        if cache:
            _save_cache(cpath, key, entries)
    index = SplitIndex(split=split, from_cache=from_cache)
    for e in entries:
        if e.get("reason"):
            index.skipped.append((Path(e["im"]), str(e["reason"])))
            continue
        lb = np.asarray(e["lb"], dtype=np.float32).reshape(-1, 5)
        index.files.append(Path(e["im"]))
        index.labels.append(lb)
        index.shapes.append((int(e["shape"][0]), int(e["shape"][1])))
        index.duplicates += int(e.get("dups", 0))
        index.backgrounds += int(len(lb) == 0)
    for f in info.unsupported.get(split, []):
        index.skipped.append((f, f"unsupported format: {f.suffix or '(no suffix)'} "
                                 f"(allowed: {', '.join(IMAGE_FORMATS)})"))
    if not index.files:
        first = index.skipped[0] if index.skipped else None
        why = f"; e.g. {first[0].name}: {first[1]}" if first else ""
        raise UsageError(f"{info.yaml_path}: {split}: none of the {len(files)} images is usable{why}.",
                         hint=f"Run `prunebench data check {info.yaml_path}` to list every problem.")
    if require_labels is None:
        require_labels = split == "train"
    if require_labels and index.instances == 0:
        example = img2label_path(index.files[0])
        raise UsageError(f"{info.yaml_path}: {split}: no labels at all ({index.images} images, 0 boxes); "
                         f"looked for label files such as {example}.",
                         hint="YOLO labels live in a 'labels' folder beside 'images' (same relative path, "
                              ".txt suffix), one 'class cx cy w h' row per box.")
    return index


def summary_table(indexes: dict[str, SplitIndex], title: str = "dataset check") -> Any:
    """A rich table: images, instances, backgrounds, duplicates dropped and skipped files per reason."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("split", "images", "instances", "backgrounds", "duplicates dropped", "skipped", "skipped by reason"):
        table.add_column(col, justify="right" if col not in ("split", "skipped by reason") else "left")
    for split, idx in indexes.items():
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(idx.reasons().items())) or "-"
        table.add_row(split, str(idx.images), str(idx.instances), str(idx.backgrounds), str(idx.duplicates),
                      str(len(idx.skipped)), reasons)
    return table
