"""The results store: one SQLite file per run folder (WAL mode, one writer: the driver). It owns every query.

A :class:`~prunebench.suite.stage.StageResult` is kept field by field (artifacts with size and SHA-256,
history, curves, prune record, metrics, named diagnostics; the small ``values`` as JSON in the stage row),
so a new kind of stage needs no new table. Opening checks the file (``PRAGMA quick_check``): a damaged
store is reported, never half-read, and :func:`rebuild_store` makes a new one from the stage folders'
``stage.json`` copies.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from prunebench.errors import UsageError
from prunebench.suite.stage import (
    STAGE_JSON,
    Artifact,
    StageResult,
    file_sha256,
    read_stage_json,
    resolve_path,
    write_stage_json,
)

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.suite.plan import Cell, Plan
    from prunebench.suite.stage import Stage

__all__ = ["HASH_ON_REUSE_BYTES", "SCHEMA_VERSION", "STORE_NAME", "RebuildReport", "Reuse", "Store",
           "StoreDamaged", "check_artifact", "rebuild_store"]

STORE_NAME = "results.sqlite"
#: 1: prunebench 0.1. 2: artifacts with size and SHA-256, generic diagnostics (the ``gammas`` table moved
#: there as ``bn_gamma``). A version-1 store is upgraded in place when opened; its stage keys are unchanged.
SCHEMA_VERSION = 2
#: on reuse, artifacts up to this size are hashed as well as sized (``prunebench run --verify``: all)
HASH_ON_REUSE_BYTES = 64 * 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, finished REAL, status TEXT NOT NULL,
    executor TEXT, planned INTEGER, cached INTEGER, failed INTEGER, wall_seconds REAL);
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY, ord INTEGER NOT NULL, model TEXT NOT NULL, pruner TEXT, level REAL NOT NULL,
    seed INTEGER NOT NULL, stages TEXT NOT NULL, status TEXT NOT NULL, error TEXT, finished REAL, run_id INTEGER);
CREATE TABLE IF NOT EXISTS stages (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT, deps TEXT NOT NULL, inputs TEXT NOT NULL,
    status TEXT NOT NULL, result TEXT, error TEXT, traceback TEXT, started REAL, finished REAL,
    seconds REAL, compute_seconds REAL, computed INTEGER NOT NULL DEFAULT 0, run_id INTEGER);
CREATE TABLE IF NOT EXISTS artifacts (stage_key TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
    size INTEGER, sha256 TEXT, PRIMARY KEY (stage_key, name));
CREATE TABLE IF NOT EXISTS metrics (stage_key TEXT NOT NULL, name TEXT NOT NULL, value REAL,
    PRIMARY KEY (stage_key, name));
CREATE TABLE IF NOT EXISTS metric_info (name TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (stage_key TEXT NOT NULL, epoch INTEGER NOT NULL, row TEXT NOT NULL,
    PRIMARY KEY (stage_key, epoch));
CREATE TABLE IF NOT EXISTS curves (stage_key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prune_records (stage_key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS diagnostics (stage_key TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (stage_key, name));
"""

#: the tables that hold one stage's result besides its row in ``stages``
_RESULT_TABLES = ("artifacts", "metrics", "history", "curves", "prune_records", "diagnostics")

T = TypeVar("T")


class StoreDamaged(UsageError):
    """``results.sqlite`` is not a readable SQLite database, or fails SQLite's integrity check."""


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str)


def _damaged(path: Path, detail: str) -> StoreDamaged:
    return StoreDamaged(
        f"{str(path)!r} is damaged: it is not a readable prunebench results store ({detail}).",
        hint="Rebuild it from the stage folders' own records (nothing intact is recomputed; the damaged "
             "file is kept beside it): prunebench run SPEC --out RUN_FOLDER --rebuild-store")


def check_artifact(run_dir: Path, art: Artifact, *, full_hash: bool) -> str | None:
    """Why ``art`` cannot be reused (missing, other size, other SHA-256), or None when it is intact.

    The size is always compared; the SHA-256 when ``full_hash`` or the file is at most
    :data:`HASH_ON_REUSE_BYTES`.
    """
    path = resolve_path(run_dir, art.path)
    if not path.is_file():
        return f"{art.path} is missing"
    size = path.stat().st_size
    if art.size is not None and size != art.size:
        return f"{art.path} has {size} bytes, {art.size} when the stage wrote it"
    if art.sha256 and (full_hash or size <= HASH_ON_REUSE_BYTES) and file_sha256(path) != art.sha256:
        return f"{art.path} changed since the stage wrote it (SHA-256 differs)"
    return None


@dataclass
class Reuse:
    """What a run may reuse: results per stage key, and why the other finished stages are run again."""

    results: dict[str, StageResult] = field(default_factory=dict)
    #: one sentence per finished stage that is run again because an artifact is missing or changed
    problems: list[str] = field(default_factory=list)
    #: stage key -> the paths of its artifacts that are missing or changed
    changed: dict[str, list[str]] = field(default_factory=dict)


class Store:
    """Read and write a run folder's ``results.sqlite``. Every write is one transaction.

    :param run_dir: the run folder.
    :param readonly: open for reading only; the store must exist (``UsageError`` naming the folder).
    :raises StoreDamaged: the file is not a database or fails ``PRAGMA quick_check``.
    """

    def __init__(self, run_dir: Path, *, readonly: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / STORE_NAME
        self.readonly = readonly
        if readonly and not self.path.is_file():
            raise UsageError(f"{str(self.run_dir)!r} has no results store ({STORE_NAME}).",
                             hint="Give the run folder of `prunebench run` (the spec's `output:`, default "
                                  "runs/<name>).")
        self.conn = self._connect()
        try:
            self._check()
            if not readonly:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self.conn.executescript(_SCHEMA)
            self._upgrade()
        except sqlite3.OperationalError as exc:  # read-only, locked, cannot open: the file itself may be fine
            self.conn.close()
            raise self._cannot_open(exc) from exc
        except sqlite3.DatabaseError as exc:  # not a database, or a malformed page
            self.conn.close()
            raise _damaged(self.path, str(exc)) from exc
        except BaseException:
            self.conn.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                from prunebench.suite.runfolder import sqlite_read_uri  # also in a read-only folder

                conn = sqlite3.connect(sqlite_read_uri(self.path), uri=True, timeout=30.0, isolation_level=None)
            else:
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.OperationalError as exc:
            raise self._cannot_open(exc) from exc
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, str(exc)) from exc
        conn.row_factory = sqlite3.Row
        return conn

    def _cannot_open(self, exc: sqlite3.OperationalError) -> UsageError:
        """An open that failed for a reason other than damage: a read-only folder, a lock, permissions."""
        from prunebench.suite.runfolder import read_only_error, read_only_problem

        if read_only_problem(self.run_dir) is not None or "readonly" in str(exc):
            return read_only_error(self.run_dir, f"prunebench cannot write its results store there ({exc})", exc)
        return UsageError(f"Cannot open the results store {str(self.path)!r}: {exc}.",
                          hint="If another program holds it, wait for it to finish; else check the folder's "
                               "permissions.")

    def _check(self) -> None:
        rows = [r[0] for r in self.conn.execute("PRAGMA quick_check")]
        if rows != ["ok"]:
            raise _damaged(self.path, "quick_check: " + "; ".join(str(r) for r in rows[:3]))

    def _version(self) -> int | None:
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone() is None:
            return None
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row is not None else None

    def _upgrade(self) -> None:
        version = self._version()
        if version is None:
            if self.readonly:
                raise _damaged(self.path, "it has no prunebench tables")
            self._tx(lambda c: c.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                         (str(SCHEMA_VERSION),)))
            return
        if version > SCHEMA_VERSION:
            raise UsageError(f"{str(self.path)!r} was written by a newer prunebench (store schema {version}; "
                             f"this one reads up to {SCHEMA_VERSION}).",
                             hint="Upgrade prunebench (pip install -U prunebench), or give this run another "
                                  "folder with --out.")
        if version == 1:
            if self.readonly:  # upgrade through a writing connection, then read as asked
                from prunebench.suite.runfolder import read_only_error, read_only_problem

                if read_only_problem(self.run_dir) is not None:
                    raise read_only_error(self.run_dir, "its results store was written by prunebench 0.1 (store "
                                          "schema 1) and must be upgraded once in place",
                                          instead="Copy the run folder somewhere writable and read the copy")
                Store(self.run_dir).close()
                return
            self._tx(self._upgrade_from_1)

    def _upgrade_from_1(self, c: sqlite3.Connection) -> None:
        """Schema 1 (prunebench 0.1) -> 2: artifacts get size and SHA-256, ``gammas`` become diagnostics."""
        for row in c.execute("SELECT key, kind, label, deps, inputs, result, started, finished, seconds, "
                             "compute_seconds FROM stages WHERE status='done'").fetchall():
            old = json.loads(row["result"] or "{}")
            values = {k: v for k, v in old.items() if k not in ("files", "weights", "data_yaml", "started",
                                                                "finished", "seconds", "compute_seconds")}
            c.execute("UPDATE stages SET result=? WHERE key=?", (_dumps(values), row["key"]))
            for name, rel in (old.get("files") or {}).items():
                path = resolve_path(self.run_dir, rel)
                size, sha = (path.stat().st_size, file_sha256(path)) if path.is_file() else (None, None)
                c.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?)", (row["key"], name, rel, size, sha))
        if c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='gammas'").fetchone():
            for key, before, after in c.execute("SELECT stage_key, before, after FROM gammas").fetchall():
                value = {"before": json.loads(before), "after": json.loads(after)}
                c.execute("INSERT OR REPLACE INTO diagnostics VALUES (?, 'bn_gamma', ?)", (key, _dumps(value)))
            c.execute("DROP TABLE gammas")
        c.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        c.execute("INSERT OR REPLACE INTO meta VALUES ('upgraded_from', '1')")
        for row in c.execute("SELECT * FROM stages WHERE status='done'").fetchall():  # stage.json for rebuilds
            out_dir = self.run_dir / "stages" / row["key"]
            if out_dir.is_dir() and not (out_dir / STAGE_JSON).exists():
                from prunebench.suite.stage import Stage

                stage = Stage(key=row["key"], kind=row["kind"], deps=tuple(json.loads(row["deps"])),
                              inputs=json.loads(row["inputs"]), label=row["label"] or "")
                write_stage_json(out_dir, stage, self._read_results(c, [row["key"]])[row["key"]])

    # -- transactions ------------------------------------------------------------------------------

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            out = fn(c)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        return out

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- a run -------------------------------------------------------------------------------------

    def start_run(self, *, name: str, spec: Mapping[str, Any], spec_text: str, environment: Mapping[str, Any],
                  plan: Plan, executor: str) -> int:
        """Record the spec, environment and plan; reset unfinished cells to pending. Returns the run id."""

        def write(c: sqlite3.Connection) -> int:
            for k, v in (("name", name), ("spec", _dumps(spec)), ("spec_text", spec_text),
                         ("environment", _dumps(environment))):
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v))
            c.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (str(time.time()),))
            for s in plan.stages.values():
                c.execute("INSERT OR IGNORE INTO stages (key, kind, label, deps, inputs, status) "
                          "VALUES (?, ?, ?, ?, ?, 'pending')",
                          (s.key, s.kind, s.label, _dumps(list(s.deps)), _dumps(s.inputs)))
                c.execute("UPDATE stages SET status='pending' WHERE key=? AND status='running'", (s.key,))
            done = {r[0] for r in c.execute("SELECT key FROM stages WHERE status='done'")}
            old = {r["key"]: r for r in c.execute("SELECT * FROM cells")}
            c.execute("DELETE FROM cells")
            for i, cell in enumerate(plan.cells):
                prev = old.get(cell.key)
                complete = all(k in done for k in cell.stages)
                keep = prev is not None and complete and json.loads(prev["stages"]) == list(cell.stages)
                c.execute("INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                          (cell.key, i, cell.model, cell.pruner, cell.level, cell.seed, _dumps(list(cell.stages)),
                           "done" if complete else "pending",
                           prev["finished"] if keep else None, prev["run_id"] if keep else None))
            cur = c.execute("INSERT INTO runs (started, status, executor, planned) VALUES (?, 'running', ?, ?)",
                            (time.time(), executor, len(plan.stages)))
            return int(cur.lastrowid or 0)

        return self._tx(write)

    def finish_run(self, run_id: int, *, status: str, cached: int, failed: int, wall_seconds: float) -> None:
        self._tx(lambda c: c.execute(
            "UPDATE runs SET finished=?, status=?, cached=?, failed=?, wall_seconds=? WHERE id=?",
            (time.time(), status, cached, failed, wall_seconds, run_id)))

    def run_summary(self, run_id: int | None = None) -> dict[str, Any]:
        """Timings of one run (default: the last): wall time, compute time of its stages and the overhead.

        The overhead is everything but training, pruning and evaluation compute: planning, hashing, the
        store, model loading/saving, hooks, the display and the executor.
        """
        if run_id is None:
            row = self.conn.execute("SELECT id, wall_seconds FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        else:
            row = self.conn.execute("SELECT id, wall_seconds FROM runs WHERE id=?", (run_id,)).fetchone()
        rid, wall = (row[0], row[1] or 0.0) if row else (0, 0.0)
        computed, compute = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(compute_seconds), 0) FROM stages WHERE run_id=? AND status='done'",
            (rid,)).fetchone()
        overhead = max(0.0, wall - compute)
        return {"run_id": rid, "wall_seconds": wall, "compute_seconds": compute, "computed": computed,
                "overhead_seconds": overhead, "overhead_fraction": overhead / wall if wall else 0.0}

    # -- stages ------------------------------------------------------------------------------------

    def reuse(self, plan: Plan, *, verify: bool = False) -> Reuse:
        """The plan's finished stages whose artifacts are intact, and why the others run again.

        Sizes are always checked, SHA-256 sums for files up to :data:`HASH_ON_REUSE_BYTES` (every file
        with ``verify``). A stage is only reusable when everything upstream of it is too.
        """
        out = Reuse()
        done = self.stage_results(list(plan.stages))
        for key, result in done.items():
            checked = [(a.path, check_artifact(self.run_dir, a, full_hash=verify)) for a in result.artifacts.values()]
            bad = [why for _, why in checked if why is not None]
            if bad:
                out.changed[key] = [path for path, why in checked if why is not None]
                stage = plan.stages[key]
                out.problems.append(f"{stage.label or key} ({key}): {'; '.join(bad)}: running it again, "
                                    f"with the stages that depend on it")
            else:
                out.results[key] = result
        for key in plan.stages:  # plan order is topological
            if key in out.results and any(d not in out.results for d in plan.stages[key].deps):
                del out.results[key]
        return out

    def cached_results(self, plan: Plan, *, verify: bool = False) -> dict[str, StageResult]:
        """The reusable results of :meth:`reuse`, by stage key."""
        return self.reuse(plan, verify=verify).results

    def mark_running(self, stage: Stage, run_id: int) -> None:
        self._tx(lambda c: c.execute("UPDATE stages SET status='running', started=?, run_id=? WHERE key=?",
                                     (time.time(), run_id, stage.key)))

    def finish_stage(self, stage: Stage, result: StageResult | None, error: str | None, run_id: int | None,
                     traceback: str | None = None) -> None:
        """Store a stage's outcome and everything it produced, in one transaction."""

        def write(c: sqlite3.Connection) -> None:
            if error is not None or result is None:
                c.execute("UPDATE stages SET status='failed', error=?, traceback=?, finished=?, run_id=?, "
                          "computed=computed+1 WHERE key=?", (error, traceback, time.time(), run_id, stage.key))
                return
            c.execute("INSERT OR IGNORE INTO stages (key, kind, label, deps, inputs, status) "
                      "VALUES (?, ?, ?, ?, ?, 'pending')",
                      (stage.key, stage.kind, stage.label, _dumps(list(stage.deps)), _dumps(stage.inputs)))
            self._write_result(c, stage.key, result)
            c.execute("UPDATE stages SET computed=computed+1, run_id=? WHERE key=?", (run_id, stage.key))

        self._tx(write)

    @staticmethod
    def _write_result(c: sqlite3.Connection, key: str, result: StageResult) -> None:
        for table in _RESULT_TABLES:
            c.execute(f"DELETE FROM {table} WHERE stage_key=?", (key,))
        for name, art in result.artifacts.items():
            c.execute("INSERT INTO artifacts VALUES (?, ?, ?, ?, ?)", (key, name, art.path, art.size, art.sha256))
        for i, row in enumerate(result.history):
            epoch = int(row.get("epoch", i)) if isinstance(row, Mapping) else i
            c.execute("INSERT OR REPLACE INTO history VALUES (?, ?, ?)", (key, epoch, _dumps(row)))
        if result.curves:
            c.execute("INSERT INTO curves VALUES (?, ?)", (key, _dumps(result.curves)))
        if result.record is not None:
            c.execute("INSERT INTO prune_records VALUES (?, ?)", (key, _dumps(result.record)))
        for name, value in result.diagnostics.items():
            c.execute("INSERT INTO diagnostics VALUES (?, ?, ?)", (key, name, _dumps(value)))
        for name, metric in result.metrics.items():
            c.execute("INSERT INTO metrics VALUES (?, ?, ?)", (key, name, metric))
        for name, info in result.metric_info.items():
            c.execute("INSERT OR REPLACE INTO metric_info VALUES (?, ?)", (name, _dumps(info)))
        c.execute("UPDATE stages SET status='done', result=?, error=NULL, traceback=NULL, started=?, finished=?, "
                  "seconds=?, compute_seconds=? WHERE key=?",
                  (_dumps(result.values), result.started, result.finished, result.seconds,
                   result.compute_seconds, key))

    def finish_cell(self, cell: Cell, status: str, error: str | None, run_id: int) -> None:
        self._tx(lambda c: c.execute("UPDATE cells SET status=?, error=?, finished=?, run_id=? WHERE key=?",
                                     (status, error, time.time(), run_id, cell.key)))

    # -- reading -----------------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self.conn.execute("SELECT key, value FROM meta")}

    def stage_rows(self) -> dict[str, dict[str, Any]]:
        return {r["key"]: dict(r) for r in self.conn.execute("SELECT * FROM stages")}

    def stage_status(self) -> dict[str, str]:
        """Stage key -> ``pending``, ``running``, ``done`` or ``failed``."""
        return {r[0]: r[1] for r in self.conn.execute("SELECT key, status FROM stages")}

    def cell_rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM cells ORDER BY ord")]

    def cell_metrics(self, cell: Cell) -> dict[str, float]:
        rows = self.conn.execute("SELECT name, value FROM metrics WHERE stage_key=?", (cell.stages[-1],))
        return {r["name"]: r["value"] for r in rows}

    def metric_info(self) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self.conn.execute("SELECT name, info FROM metric_info")}

    def stage_results(self, keys: Iterable[str] | None = None) -> dict[str, StageResult]:
        """The results of the finished stages (of ``keys``, default all), read back field by field."""
        return self._read_results(self.conn, None if keys is None else list(keys))

    @staticmethod
    def _read_results(c: sqlite3.Connection, keys: list[str] | None) -> dict[str, StageResult]:
        if keys is not None and not keys:
            return {}
        where, args = ("", []) if keys is None else (f" AND key IN ({','.join('?' * len(keys))})", keys)
        rows = c.execute("SELECT key, kind, result, started, finished, seconds, compute_seconds FROM stages "
                         "WHERE status='done'" + where, args).fetchall()
        out = {r["key"]: StageResult(kind=r["kind"], values=json.loads(r["result"] or "{}"), started=r["started"],
                                     finished=r["finished"], seconds=r["seconds"],
                                     compute_seconds=r["compute_seconds"]) for r in rows}
        if not out:
            return out
        qs, done = ",".join("?" * len(out)), list(out)
        for r in c.execute(f"SELECT * FROM artifacts WHERE stage_key IN ({qs})", done):
            out[r["stage_key"]].artifacts[r["name"]] = Artifact(r["path"], r["size"], r["sha256"])
        for r in c.execute(f"SELECT stage_key, row FROM history WHERE stage_key IN ({qs}) ORDER BY stage_key, epoch",
                           done):
            out[r[0]].history.append(json.loads(r[1]))
        for r in c.execute(f"SELECT stage_key, data FROM curves WHERE stage_key IN ({qs})", done):
            out[r[0]].curves = json.loads(r[1])
        for r in c.execute(f"SELECT stage_key, record FROM prune_records WHERE stage_key IN ({qs})", done):
            out[r[0]].record = json.loads(r[1])
        for r in c.execute(f"SELECT stage_key, name, value FROM diagnostics WHERE stage_key IN ({qs})", done):
            out[r[0]].diagnostics[r[1]] = json.loads(r[2])
        info = {r[0]: json.loads(r[1]) for r in c.execute("SELECT name, info FROM metric_info")}
        for r in c.execute(f"SELECT stage_key, name, value FROM metrics WHERE stage_key IN ({qs})", done):
            res = out[r[0]]
            res.metrics[r[1]] = r[2]
            if r[1] in info:
                res.metric_info[r[1]] = info[r[1]]
        return out


# --------------------------------------------------------------------------------------------------
# Rebuilding a damaged store from the stage folders
# --------------------------------------------------------------------------------------------------


@dataclass
class RebuildReport:
    """What :func:`rebuild_store` did."""

    restored: list[str] = field(default_factory=list)  # stage keys now done in the new store
    skipped: list[str] = field(default_factory=list)  # one sentence per stage folder that was not restored
    kept: list[Path] = field(default_factory=list)  # the damaged files, renamed, never deleted


def _newer_schema(path: Path) -> int | None:
    """The schema version of the store at ``path`` when it is newer than this prunebench reads, else None."""
    from prunebench.suite.runfolder import sqlite_read_uri

    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(sqlite_read_uri(path), uri=True, timeout=5.0)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        finally:
            conn.close()
        version = int(row[0]) if row else 0
    except (sqlite3.Error, ValueError, TypeError):  # damaged: what a rebuild is for
        return None
    return version if version > SCHEMA_VERSION else None


def rebuild_store(run_dir: Path) -> RebuildReport:
    """Make a new ``results.sqlite`` from the ``stages/<key>/stage.json`` records of a run folder.

    The old store files are renamed (``results.sqlite.damaged-<UTC time>``), not deleted. Every stage
    whose record reads and whose artifacts are intact (size and SHA-256 checked) is restored as done, so
    the next ``prunebench run`` recomputes only what is missing. The history of past runs (the ``runs``
    table) is not in the stage folders and starts afresh. The caller holds the run folder's lock.
    """
    run_dir = Path(run_dir)
    newer = _newer_schema(run_dir / STORE_NAME)
    if newer is not None:  # not damaged: a newer prunebench's store, which a rebuild would replace by an older one
        raise UsageError(f"{str(run_dir / STORE_NAME)!r} was written by a newer prunebench (store schema {newer}; "
                         f"this one reads up to {SCHEMA_VERSION}); it is not damaged, so it is not rebuilt.",
                         hint="Upgrade prunebench (pip install -U prunebench), or give this run another folder "
                              "with --out.")
    report = RebuildReport()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for suffix in ("", "-wal", "-shm"):
        path = run_dir / (STORE_NAME + suffix)
        if path.exists():
            kept = path.with_name(f"{STORE_NAME}.damaged-{stamp}{suffix}")
            path.rename(kept)
            report.kept.append(kept)
    records: list[tuple[dict[str, Any], StageResult]] = []
    for stage_json in sorted((run_dir / "stages").glob(f"*/{STAGE_JSON}")):
        try:
            desc, result = read_stage_json(stage_json)
        except ValueError as exc:
            report.skipped.append(str(exc))
            continue
        if stage_json.parent.name != desc["key"]:  # e.g. stages/<key>.changed-<time>/, set aside on a rerun
            report.skipped.append(f"{stage_json.parent.name}: not the folder of stage {desc['key']}")
            continue
        bad = [p for a in result.artifacts.values() if (p := check_artifact(run_dir, a, full_hash=True)) is not None]
        if bad:
            report.skipped.append(f"{desc['key']}: {'; '.join(bad)}")
            continue
        records.append((desc, result))
    with Store(run_dir) as store:

        def write(c: sqlite3.Connection) -> None:
            c.execute("INSERT OR REPLACE INTO meta VALUES ('rebuilt', ?)", (str(time.time()),))
            for desc, result in records:
                c.execute("INSERT OR REPLACE INTO stages (key, kind, label, deps, inputs, status, computed) "
                          "VALUES (?, ?, ?, ?, ?, 'done', 1)",
                          (desc["key"], desc["kind"], desc.get("label") or "", _dumps(list(desc["deps"])),
                           _dumps(desc["inputs"])))
                store._write_result(c, desc["key"], result)
                report.restored.append(desc["key"])

        store._tx(write)
    return report
