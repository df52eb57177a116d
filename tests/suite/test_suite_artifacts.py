"""Nothing corrupt is reused, nothing intact is lost: artifact checks on reuse, a damaged store, an old store."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import prunebench as pb
from prunebench.cli import main
from prunebench.suite.results import load_results
from prunebench.suite.stage import STAGE_JSON, Artifact, file_sha256
from prunebench.suite.store import HASH_ON_REUSE_BYTES, STORE_NAME, Store, StoreDamaged, check_artifact

pytestmark = pytest.mark.slow


def _rows(run_dir: Path) -> dict[str, dict[str, Any]]:
    conn = sqlite3.connect(run_dir / STORE_NAME)
    conn.row_factory = sqlite3.Row
    try:
        return {r["key"]: dict(r) for r in conn.execute("SELECT * FROM stages")}
    finally:
        conn.close()


def _run(spec: Path, **kw: Any) -> tuple[Any, str]:
    buf = io.StringIO()
    res = pb.run(spec, progress=False, console=Console(file=buf, width=1000), **kw)
    return res, buf.getvalue()


@pytest.fixture
def baseline_spec(write_spec: Any) -> Path:
    """The tiny spec without pruners: data -> train -> evaluate."""
    return write_spec(pruners=[])


def test_check_artifact_sizes_always_and_hashes_small_files(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    path.write_bytes(b"0123456789")
    art = Artifact("w.pt", 10, file_sha256(path))
    assert check_artifact(tmp_path, art, full_hash=False) is None
    path.write_bytes(b"0123456780")  # same size, other content
    assert "SHA-256 differs" in (check_artifact(tmp_path, art, full_hash=False) or "")
    path.write_bytes(b"01234")
    assert "has 5 bytes, 10 when the stage wrote it" in (check_artifact(tmp_path, art, full_hash=False) or "")
    path.unlink()
    assert "w.pt is missing" in (check_artifact(tmp_path, art, full_hash=False) or "")
    assert HASH_ON_REUSE_BYTES == 64 * 1024 * 1024


def test_a_truncated_artifact_reruns_its_stage_and_dependents(baseline_spec: Path, tmp_path: Path,
                                                              stable_metrics: Any,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    first, _ = _run(baseline_spec)
    before = _rows(run_dir)
    train = next(k for k, r in before.items() if r["kind"] == "train")
    weights = run_dir / first.stages[train].path("weights")
    assert first.stages[train].artifacts["weights"].size == weights.stat().st_size
    assert (run_dir / "stages" / train / STAGE_JSON).is_file()
    truncated = weights.read_bytes()[: weights.stat().st_size // 2]
    weights.write_bytes(truncated)  # truncated after the stage finished

    capsys.readouterr()
    assert main(["validate", str(baseline_spec), "--stages"]) == 0  # validate decides as run will
    said = " ".join(capsys.readouterr().out.split())
    assert f"to rerun (artifact changed: {first.stages[train].path('weights')})" in said
    assert said.count("to rerun (") == 2  # and the evaluate stage that reads (and records) those weights
    assert "1 of 3 cached" in said  # only the data stage is reused
    assert "running it again" in said  # the sentence run prints, word for word

    again, out = _run(baseline_spec)
    after = _rows(run_dir)
    assert first.stages[train].path("weights") in out  # the message names the artifact
    assert "running it again" in out
    kinds = {r["kind"]: r["computed"] for r in after.values()}
    assert kinds == {"data": 1, "train": 2, "evaluate": 2}  # the stage and its dependents, nothing else
    assert stable_metrics(again) == stable_metrics(first)  # recomputed the same (same spec, same seed)
    assert weights.stat().st_size == again.stages[train].artifacts["weights"].size
    kept = list((run_dir / "stages").glob(f"{train}.changed-*"))  # the changed files are kept, not deleted
    assert len(kept) == 1
    assert (kept[0] / "weights" / weights.name).read_bytes() == truncated


def test_a_damaged_store_exits_2_and_a_rebuild_recomputes_nothing(baseline_spec: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 stable_metrics: Any) -> None:
    run_dir = tmp_path / "run"
    first, _ = _run(baseline_spec)
    before = _rows(run_dir)
    store = run_dir / STORE_NAME
    for suffix in ("-wal", "-shm"):
        (run_dir / (STORE_NAME + suffix)).unlink(missing_ok=True)
    data = bytearray(store.read_bytes())
    data[:100] = b"\x00" * 100  # the SQLite header is gone
    store.write_bytes(bytes(data))

    assert main(["run", str(baseline_spec), "--no-progress"]) == 2
    err = capsys.readouterr()
    text = " ".join((err.out + err.err).split())
    assert "is damaged" in text
    assert "--rebuild-store" in text
    assert main(["validate", str(baseline_spec)]) == 2  # validate says so too, instead of "0 cached"
    assert "is damaged" in " ".join("".join(capsys.readouterr()).split())

    assert main(["run", str(baseline_spec), "--no-progress", "--rebuild-store"]) == 0
    out = " ".join("".join(capsys.readouterr()).split())
    assert f"rebuilt the results store from {len(before)} stage folders" in out
    after = _rows(run_dir)
    assert set(after) == set(before)
    for key, row in before.items():  # restored from stage.json: nothing was computed again
        assert after[key]["computed"] == 1
        assert after[key]["finished"] == row["finished"]
    kept = list(run_dir.glob(f"{STORE_NAME}.damaged-*"))
    assert kept, "the damaged store must be kept"
    assert stable_metrics(load_results(run_dir)) == stable_metrics(first)


def test_a_malformed_page_is_found_by_quick_check(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.conn.execute("CREATE TABLE filler (x TEXT)")
        for _ in range(200):
            store.conn.execute("INSERT INTO filler VALUES (?)", ("y" * 500,))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = tmp_path / STORE_NAME
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[6 * page: 7 * page] = b"\xff" * page
    path.write_bytes(bytes(data))
    with pytest.raises(StoreDamaged, match="is damaged"):
        Store(tmp_path)
    with pytest.raises(StoreDamaged, match="is damaged"):
        Store(tmp_path, readonly=True)


_SCHEMA_0_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, finished REAL, status TEXT NOT NULL,
    executor TEXT, planned INTEGER, cached INTEGER, failed INTEGER, wall_seconds REAL);
CREATE TABLE cells (key TEXT PRIMARY KEY, ord INTEGER NOT NULL, model TEXT NOT NULL, pruner TEXT, level REAL NOT NULL,
    seed INTEGER NOT NULL, stages TEXT NOT NULL, status TEXT NOT NULL, error TEXT, finished REAL, run_id INTEGER);
CREATE TABLE stages (key TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT, deps TEXT NOT NULL, inputs TEXT NOT NULL,
    status TEXT NOT NULL, result TEXT, error TEXT, traceback TEXT, started REAL, finished REAL,
    seconds REAL, compute_seconds REAL, computed INTEGER NOT NULL DEFAULT 0, run_id INTEGER);
CREATE TABLE metrics (stage_key TEXT NOT NULL, name TEXT NOT NULL, value REAL, PRIMARY KEY (stage_key, name));
CREATE TABLE metric_info (name TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE history (stage_key TEXT NOT NULL, epoch INTEGER NOT NULL, row TEXT NOT NULL,
    PRIMARY KEY (stage_key, epoch));
CREATE TABLE curves (stage_key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE prune_records (stage_key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE gammas (stage_key TEXT PRIMARY KEY, before TEXT NOT NULL, after TEXT NOT NULL);
"""


def _as_0_1(run_dir: Path) -> None:
    """Rewrite a run folder's store as prunebench 0.1 wrote it (schema 1: no artifacts, a gammas table)."""
    new = sqlite3.connect(run_dir / STORE_NAME)
    new.row_factory = sqlite3.Row
    tables = {t: [dict(r) for r in new.execute(f"SELECT * FROM {t}")]
              for t in ("meta", "runs", "cells", "stages", "metrics", "metric_info", "history", "curves",
                        "prune_records", "artifacts")}
    new.close()
    for suffix in ("", "-wal", "-shm"):
        (run_dir / (STORE_NAME + suffix)).unlink(missing_ok=True)
    old = sqlite3.connect(run_dir / STORE_NAME)
    old.executescript(_SCHEMA_0_1)
    files: dict[str, dict[str, str]] = {}
    for a in tables.pop("artifacts"):
        files.setdefault(a["stage_key"], {})[a["name"]] = a["path"]
    for row in tables["stages"]:
        values = json.loads(row["result"] or "{}")
        f = files.get(row["key"], {})
        result = {**values, **f, "files": f, "started": row["started"], "finished": row["finished"],
                  "seconds": row["seconds"], "compute_seconds": row["compute_seconds"]}
        row["result"] = json.dumps(result)
        (run_dir / "stages" / row["key"] / STAGE_JSON).unlink()  # 0.1 wrote no stage.json
    for table, rows in tables.items():
        for row in rows:
            if table == "meta" and row["key"] == "schema_version":
                row["value"] = "1"
            cols = ", ".join(row)
            old.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    train = next(r["key"] for r in tables["stages"] if r["kind"] == "train")
    old.execute("INSERT INTO gammas VALUES (?, ?, ?)", (train, "[1.0, 0.5]", "[0.25, 0.0]"))
    old.commit()
    old.close()


def test_a_0_1_run_folder_resumes_with_the_same_keys(baseline_spec: Path, tmp_path: Path,
                                                     stable_metrics: Any) -> None:
    run_dir = tmp_path / "run"
    first, _ = _run(baseline_spec)
    before = _rows(run_dir)
    _as_0_1(run_dir)

    again, out = _run(baseline_spec)
    assert f"({len(before)} cached, 0 to run)" in out  # same keys: everything reused
    after = _rows(run_dir)
    assert all(after[k]["computed"] == 1 for k in before)
    assert stable_metrics(again) == stable_metrics(first)
    train = next(k for k, r in before.items() if r["kind"] == "train")
    assert again.stages[train].artifacts["weights"].sha256 == first.stages[train].artifacts["weights"].sha256
    assert again.stages[train].diagnostics["bn_gamma"] == {"before": [1.0, 0.5], "after": [0.25, 0.0]}
    with Store(run_dir, readonly=True) as store:
        assert store.meta()["schema_version"] == "2"
    assert all((run_dir / "stages" / k / STAGE_JSON).is_file() for k in before)  # a rebuild is possible now


def test_a_store_from_a_newer_prunebench_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(pb.UsageError, match="newer prunebench"):
        Store(tmp_path)
