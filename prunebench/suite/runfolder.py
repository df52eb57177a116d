"""The run folder: what prunebench owns in it (a marker, the store, its stage folders), its lock, ``--fresh``.

Guarantees (docs/suite.md): ``--fresh`` takes the run lock before deleting anything, and deletes only what
prunebench wrote: ``results.sqlite`` (with its ``-wal``/``-shm``), ``events.jsonl`` and the stage folders
``stages/<key>/`` that the store lists or whose name is a stage key (``train-<16 hex digits>``).
Anything else stays. A folder without the marker and without a prunebench store is refused.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from prunebench.errors import UsageError

__all__ = ["LOCK_NAME", "MARKER_NAME", "check_fresh", "check_run_dir_path", "clear_run_dir", "is_read_only",
           "is_run_dir", "lock_run_dir", "mark_run_dir", "prepare_run_dir", "read_only_error", "read_only_problem",
           "sqlite_read_uri", "write_problem"]

LOCK_NAME = ".prunebench.lock"
MARKER_NAME = ".prunebench-run.json"
STORE_NAME = "results.sqlite"  # the same name as prunebench.suite.store.STORE_NAME (kept import-light here)
#: files at the top of a run folder that ``--fresh`` deletes (the store and the event log)
_OWN_FILES = (STORE_NAME, STORE_NAME + "-wal", STORE_NAME + "-shm", "events.jsonl")
_STAGE_DIR = re.compile(r"^(data|train|sparsity|prune|finetune|evaluate|speed)-[0-9a-f]{16}$")
# stages/<key>.changed-<UTC time>/: a stage folder prunebench set aside when its artifact failed verification
# (named by set_aside_name)
_SET_ASIDE = re.compile(r"^(?P<key>[a-z]+-[0-9a-f]{16})\.changed-\d{8}T\d{6}Z$")
_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


def read_only_error(path: Path, what: str, exc: BaseException | None = None, *,
                    instead: str | None = None) -> UsageError:
    """The message for a folder prunebench must write into but cannot: read-only, and what to do."""
    rofs = getattr(exc, "errno", None) == errno.EROFS
    why = "is on a read-only file system" if rofs else "is read-only"
    fix = "remount it writable" if rofs else f"make it writable (chmod -R u+w {str(path)!r})"
    return UsageError(f"{str(path)!r} {why}: {what}.",
                      hint=f"{instead or 'Copy the run folder somewhere writable and use the copy'}, or {fix}.")


def _parent_problem(path: Path) -> str | None:
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else f"{str(parent)!r} is a file, so {str(path)!r} cannot be a folder"
    return None


def check_run_dir_path(run_dir: Path) -> None:
    """Refuse a run folder that is a file, lies under one, is a broken symbolic link, or cannot be created
    because the folder it would be created in is read-only (nothing is created)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"The run folder {str(run_dir)!r} is a file, not a folder.",
                         hint="Give a folder with --out (or the spec's `output:`); it is created if missing.")
    if run_dir.is_symlink() and not run_dir.exists():
        raise UsageError(f"The run folder {str(run_dir)!r} is a symbolic link to {os.readlink(run_dir)!r}, "
                         f"which does not exist.", hint="Create the folder it points to, or give another folder "
                                                        "with --out (or the spec's `output:`).")
    problem = _parent_problem(run_dir)
    if problem:
        raise UsageError(f"Cannot create the run folder: {problem}.", hint="Give another folder with --out.")
    if not run_dir.exists():
        first = next((p for p in run_dir.parents if p.is_dir()), None)
        blocked = read_only_problem(first) if first is not None else None
        if first is not None and blocked is not None:
            raise read_only_error(first, f"cannot create the run folder {str(run_dir)!r} in it", blocked,
                                  instead="Give a run folder in a writable place with --out (or the spec's "
                                          "`output:`)")


def prepare_run_dir(run_dir: Path) -> None:
    """Check that ``run_dir`` can be a run folder (not a file, writable) and create it."""
    check_run_dir_path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in _READ_ONLY:
            first = next((p for p in (run_dir, *run_dir.parents) if p.exists()), run_dir)
            raise read_only_error(first, f"cannot create the run folder {str(run_dir)!r} in it", exc) from exc
        raise UsageError(f"Cannot create the run folder {str(run_dir)!r}: {exc.strerror or exc}.") from exc
    problem = write_problem(run_dir)
    if problem is not None:
        if problem.errno in _READ_ONLY:
            raise read_only_error(run_dir, "`prunebench run` writes its results store and stage artifacts "
                                           "there", problem)
        raise UsageError(f"Cannot write into the run folder {str(run_dir)!r}: {problem.strerror or problem}.")


def write_problem(folder: Path) -> OSError | None:
    """Why nothing can be written into ``folder`` (an existing folder), or None when a file can be made."""
    probe = folder / f".prunebench-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        return exc
    with suppress(OSError):
        probe.unlink()
    return None


def is_read_only(folder: Path) -> bool:
    """Whether ``folder`` exists and is read-only (permissions or a read-only file system) for this process."""
    return read_only_problem(folder) is not None


def read_only_problem(folder: Path) -> OSError | None:
    """The error that shows ``folder`` read-only (permissions or a read-only file system), else None."""
    if not folder.is_dir():
        return None
    problem = write_problem(folder)
    return problem if problem is not None and problem.errno in _READ_ONLY else None


def sqlite_read_uri(path: Path) -> str:
    """The URI that opens a store for reading, also in a read-only folder.

    SQLite cannot create the ``-shm`` file a WAL database needs in a read-only folder; there nothing can
    change the file either, so it is opened ``immutable``.
    """
    from urllib.parse import quote

    uri = f"file:{quote(str(path))}?mode=ro"
    if is_read_only(path.parent) and not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    return uri


def mark_run_dir(run_dir: Path) -> None:
    """Write the marker that says prunebench owns this folder's store and stage folders (once)."""
    path = run_dir / MARKER_NAME
    if path.exists():
        return
    from prunebench._version import __version__

    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"prunebench": __version__, "created": time.time(),
                               "owns": [*_OWN_FILES, "stages/<stage key>/"]}, indent=1) + "\n")
    tmp.replace(path)


def _store_stage_keys(run_dir: Path) -> set[str] | None:
    """Stage keys the folder's store lists, or None when there is no readable prunebench store."""
    path = run_dir / STORE_NAME
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(sqlite_read_uri(path), uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        if conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() is None:
            return None
        return {str(r[0]) for r in conn.execute("SELECT key FROM stages")}
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def is_run_dir(run_dir: Path) -> bool:
    """Whether prunebench wrote this folder: it carries the marker or a readable prunebench store."""
    return (run_dir / MARKER_NAME).is_file() or _store_stage_keys(run_dir) is not None


def check_fresh(run_dir: Path) -> None:
    """Refuse ``--fresh`` on a folder prunebench did not write (nothing is touched)."""
    if not run_dir.exists():
        return
    if not run_dir.is_dir():
        raise UsageError(f"The run folder {str(run_dir)!r} is a file, not a folder.")
    foreign = [p.name for p in run_dir.iterdir() if p.name != LOCK_NAME]
    if foreign and not is_run_dir(run_dir):
        raise UsageError(f"Refusing to start fresh in {str(run_dir)!r}: it is not empty and is not a prunebench "
                         f"run folder (no {MARKER_NAME} marker, no readable {STORE_NAME}); --fresh deletes only "
                         f"what prunebench wrote.",
                         hint="Give another folder with --out, or remove its contents yourself.")


def set_aside_name(key: str) -> str:
    """The name under which a stage folder whose artifact changed is kept: ``<key>.changed-<UTC time>``."""
    return f"{key}.changed-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"


def _own_stage_folder(name: str, listed: set[str]) -> bool:
    """Whether ``stages/<name>`` is a folder prunebench writes: a stage's, or one it set aside as changed."""
    aside = _SET_ASIDE.match(name)
    key = aside.group("key") if aside is not None else name
    return key in listed or _STAGE_DIR.match(key) is not None


def clear_run_dir(run_dir: Path) -> list[str]:
    """Delete what prunebench wrote in a run folder (``--fresh``); return the entries of ``stages/`` it left.

    Call it while holding :func:`lock_run_dir`. Refuses a folder prunebench did not write.
    """
    check_fresh(run_dir)
    if not run_dir.exists():
        return []
    listed = _store_stage_keys(run_dir) or set()
    for name in _OWN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    stages = run_dir / "stages"
    left: list[str] = []
    if stages.is_dir():
        import shutil

        for entry in sorted(stages.iterdir()):
            ours = entry.is_dir() and not entry.is_symlink() and _own_stage_folder(entry.name, listed)
            if ours:
                shutil.rmtree(entry)
            else:
                left.append(f"stages/{entry.name}")
        if not left:
            stages.rmdir()
    return left


@contextmanager
def lock_run_dir(run_dir: Path) -> Iterator[None]:
    """One ``prunebench run`` per run folder at a time (released by the OS even after ``kill -9``)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, run unguarded
        yield
        return
    path = run_dir / LOCK_NAME
    try:
        f = path.open("a+")
    except OSError as exc:
        if exc.errno in _READ_ONLY:
            raise read_only_error(run_dir, "`prunebench run` writes its results store and stage artifacts "
                                           "there", exc) from exc
        raise
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            f.seek(0)
            raise UsageError(f"Another prunebench run is using {str(run_dir)!r} (pid {f.read().strip() or '?'}).",
                             hint="Wait for it to finish, or give this run another folder with --out.") from exc
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
