"""The results store: one SQLite file per run folder (WAL mode, one writer: the driver), and its reader."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.errors import UsageError
from prunebench.suite.results import CellResult, Results
from prunebench.suite.stages import resolve_path

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.suite.plan import Cell, Plan, Stage

__all__ = ["STORE_NAME", "Store", "load_results"]

STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 1

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
CREATE TABLE IF NOT EXISTS metrics (stage_key TEXT NOT NULL, name TEXT NOT NULL, value REAL,
    PRIMARY KEY (stage_key, name));
CREATE TABLE IF NOT EXISTS metric_info (name TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (stage_key TEXT NOT NULL, epoch INTEGER NOT NULL, row TEXT NOT NULL,
    PRIMARY KEY (stage_key, epoch));
CREATE TABLE IF NOT EXISTS curves (stage_key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prune_records (stage_key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gammas (stage_key TEXT PRIMARY KEY, before TEXT NOT NULL, after TEXT NOT NULL);
"""

#: result keys moved to their own tables (the stage row keeps the small remainder: paths and scalars)
_SPLIT_KEYS = ("history", "curves", "record", "gammas", "metrics", "metric_info")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str)


class Store:
    """Read and write a run folder's ``results.sqlite``. Every write is one transaction."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / STORE_NAME
        self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(_SCHEMA)
        self._tx(lambda c: c.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                     (str(SCHEMA_VERSION),)))

    # -- transactions ------------------------------------------------------------------------------

    def _tx(self, fn: Any) -> Any:
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

    # -- stages ------------------------------------------------------------------------------------

    def cached_results(self, plan: Plan) -> dict[str, dict[str, Any]]:
        """Results of the plan's stages that are done and whose files still exist."""
        out: dict[str, dict[str, Any]] = {}
        keys = list(plan.stages)
        rows = self.conn.execute(
            f"SELECT key, result FROM stages WHERE status='done' AND key IN ({','.join('?' * len(keys))})", keys)
        for row in rows:
            result = json.loads(row["result"] or "{}")
            files = result.get("files", {})
            if all(resolve_path(self.run_dir, p).exists() for p in files.values()):
                out[row["key"]] = result
        # a stage is only reusable when everything upstream of it is too
        for key in keys:
            if key in out and any(d not in out for d in plan.stages[key].deps):
                del out[key]
        return out

    def mark_running(self, stage: Stage, run_id: int) -> None:
        self._tx(lambda c: c.execute("UPDATE stages SET status='running', started=?, run_id=? WHERE key=?",
                                     (time.time(), run_id, stage.key)))

    def finish_stage(self, stage: Stage, result: Mapping[str, Any] | None, error: str | None, run_id: int,
                     traceback: str | None = None) -> None:
        """Store a stage's outcome and everything it produced, in one transaction."""

        def write(c: sqlite3.Connection) -> None:
            if error is not None or result is None:
                c.execute("UPDATE stages SET status='failed', error=?, traceback=?, finished=?, run_id=?, "
                          "computed=computed+1 WHERE key=?", (error, traceback, time.time(), run_id, stage.key))
                return
            k = stage.key
            for table in ("metrics", "history", "curves", "prune_records", "gammas"):
                c.execute(f"DELETE FROM {table} WHERE stage_key=?", (k,))
            for i, row in enumerate(result.get("history") or []):
                epoch = int(row.get("epoch", i)) if isinstance(row, Mapping) else i
                c.execute("INSERT OR REPLACE INTO history VALUES (?, ?, ?)", (k, epoch, _dumps(row)))
            if result.get("curves"):
                c.execute("INSERT INTO curves VALUES (?, ?)", (k, _dumps(result["curves"])))
            if result.get("record") is not None:
                c.execute("INSERT INTO prune_records VALUES (?, ?)", (k, _dumps(result["record"])))
            if result.get("gammas"):
                g = result["gammas"]
                c.execute("INSERT INTO gammas VALUES (?, ?, ?)", (k, _dumps(g["before"]), _dumps(g["after"])))
            for name, value in (result.get("metrics") or {}).items():
                c.execute("INSERT INTO metrics VALUES (?, ?, ?)", (k, name, value))
            for name, info in (result.get("metric_info") or {}).items():
                c.execute("INSERT OR REPLACE INTO metric_info VALUES (?, ?)", (name, _dumps(info)))
            rest = {key: v for key, v in result.items() if key not in _SPLIT_KEYS}
            c.execute("UPDATE stages SET status='done', result=?, error=NULL, traceback=NULL, started=?, "
                      "finished=?, seconds=?, compute_seconds=?, computed=computed+1, run_id=? WHERE key=?",
                      (_dumps(rest), result.get("started"), result.get("finished"), result.get("seconds"),
                       result.get("compute_seconds"), run_id, k))

        self._tx(write)

    def finish_cell(self, cell: Cell, status: str, error: str | None, run_id: int) -> None:
        self._tx(lambda c: c.execute("UPDATE cells SET status=?, error=?, finished=?, run_id=? WHERE key=?",
                                     (status, error, time.time(), run_id, cell.key)))

    # -- reading -----------------------------------------------------------------------------------

    def stage_rows(self) -> dict[str, dict[str, Any]]:
        return {r["key"]: dict(r) for r in self.conn.execute("SELECT * FROM stages")}

    def cell_rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM cells ORDER BY ord")]

    def cell_metrics(self, cell: Cell) -> dict[str, float]:
        rows = self.conn.execute("SELECT name, value FROM metrics WHERE stage_key=?", (cell.stages[-1],))
        return {r["name"]: r["value"] for r in rows}


def _json_map(conn: sqlite3.Connection, sql: str, keys: Iterable[str]) -> dict[str, Any]:
    keys = list(keys)
    if not keys:
        return {}
    rows = conn.execute(sql.format(qs=",".join("?" * len(keys))), keys)
    return {r[0]: json.loads(r[1]) for r in rows}


def load_results(run_dir: str | Path) -> Results:
    """Read a run folder's ``results.sqlite`` into :class:`~prunebench.suite.results.Results`."""
    run_dir = Path(run_dir)
    path = run_dir / STORE_NAME
    if not path.is_file():
        raise UsageError(f"{str(run_dir)!r} has no results store ({STORE_NAME}).",
                         hint="Give the run folder of `prunebench run` (the spec's `output:`, default runs/<name>).")
    try:
        conn = sqlite3.connect(path, timeout=30.0)
        conn.row_factory = sqlite3.Row
        meta = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
        cell_rows = [dict(r) for r in conn.execute("SELECT * FROM cells ORDER BY ord")]
        stage_rows = {r["key"]: dict(r) for r in conn.execute("SELECT key, kind, result FROM stages")}
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{str(path)!r} is not a readable prunebench results store: {exc}") from exc
    try:
        keys = [k for row in cell_rows for k in json.loads(row["stages"])]
        history: dict[str, list[dict[str, Any]]] = {}
        for r in conn.execute("SELECT stage_key, row FROM history ORDER BY stage_key, epoch"):
            history.setdefault(r[0], []).append(json.loads(r[1]))
        curves = _json_map(conn, "SELECT stage_key, data FROM curves WHERE stage_key IN ({qs})", keys)
        records = _json_map(conn, "SELECT stage_key, record FROM prune_records WHERE stage_key IN ({qs})", keys)
        gammas = {r[0]: {"before": json.loads(r[1]), "after": json.loads(r[2])}
                  for r in conn.execute("SELECT stage_key, before, after FROM gammas")}
        metrics: dict[str, dict[str, float]] = {}
        for r in conn.execute("SELECT stage_key, name, value FROM metrics"):
            metrics.setdefault(r[0], {})[r[1]] = r[2]
        info = {r[0]: json.loads(r[1]) for r in conn.execute("SELECT name, info FROM metric_info")}
    finally:
        conn.close()
    cells: list[CellResult] = []
    for row in cell_rows:
        stage_keys: list[str] = json.loads(row["stages"])
        by_kind = {stage_rows[k]["kind"]: k for k in stage_keys if k in stage_rows}
        cell = CellResult(key=row["key"], model=row["model"], pruner=row["pruner"], level=float(row["level"]),
                          seed=int(row["seed"]), status=row["status"], error=row["error"])
        if row["status"] == "done":
            cell.metrics = dict(metrics.get(by_kind.get("evaluate", ""), {}))
        for kind in ("train", "sparsity", "finetune"):
            if kind in by_kind and by_kind[kind] in history:
                cell.history[kind] = history[by_kind[kind]]
        cell.curves = curves.get(by_kind.get("evaluate", ""), {})
        cell.prune_record = records.get(by_kind.get("prune", ""))
        cell.gammas = gammas.get(by_kind.get("sparsity", ""))
        for name, kind in (("weights", "evaluate"), ("pruned", "prune"), ("baseline", "train"),
                           ("sparse", "sparsity")):
            result = json.loads(stage_rows.get(by_kind.get(kind, ""), {}).get("result") or "{}")
            if result.get("weights"):
                cell.artifacts[name] = result["weights"]
        cells.append(cell)
    return Results(run_dir=run_dir, name=meta.get("name", run_dir.name), spec=json.loads(meta.get("spec", "{}")),
                   spec_text=meta.get("spec_text", ""), environment=json.loads(meta.get("environment", "{}")),
                   cells=cells, metric_info=info)
