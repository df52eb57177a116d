"""Reading and writing the user's files with messages that say what is wrong (missing, a folder, not UTF-8)."""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path

from prunebench.errors import UsageError

__all__ = ["output_file_problem", "read_text_file", "write_text_atomic"]

_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
         (codecs.BOM_UTF16_BE, "UTF-16"))


def read_text_file(path: Path, what: str = "file") -> str:
    """The text of a UTF-8 file (a UTF-8 byte-order mark is allowed); a :class:`UsageError` naming the file
    and the problem otherwise: missing, a folder, unreadable, UTF-16/32 or other bytes that are not UTF-8."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"The {what} {str(path)!r} does not exist.")
    if path.is_dir():
        raise UsageError(f"The {what} {str(path)!r} is a folder, not a file.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read the {what} {str(path)!r}: {exc.strerror or exc}.") from exc
    for bom, name in _BOMS:
        if raw.startswith(bom):
            raise UsageError(f"The {what} {str(path)!r} is {name} text; prunebench reads UTF-8.",
                             hint=f"Save it as UTF-8 (e.g. iconv -f {name} -t UTF-8 {str(path)!r} > new.yaml).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(f"The {what} {str(path)!r} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line "
                         f"{line} cannot be decoded.", hint="Save it as UTF-8.") from exc


def output_file_problem(path: Path, what: str = "output file") -> str | None:
    """Why ``path`` cannot be written as a file (it is a folder, a parent is a file), or None."""
    path = Path(path)
    if str(path) in ("", "."):
        return f"the {what} is empty: give a file name"
    if path.is_dir():
        return f"the {what} {str(path)!r} is a folder; give a file name (e.g. {str(path / 'out')!r})"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{str(parent)!r} is a file, so {str(path)!r} cannot be written inside it"
            break
    return None


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
