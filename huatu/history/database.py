"""The history's SQLite file: its schema, opening it, transactions, and paths as rows hold them.

The standard library's :mod:`sqlite3` in WAL mode (the history tab reads while an image is
being saved) with ``PRAGMA synchronous=FULL``: each commit is synced to disk before it
returns, so after a power cut a final file never exists without its row (with ``NORMAL`` the
last commits of a WAL database may be lost, which would leave renamed files without rows). It
costs two disk syncs per saved image, nothing next to the seconds a generation takes.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from huatu.errors import HuatuError, StorageError
from huatu.history.files import reason

log = logging.getLogger(__name__)

DB_NAME = "history.sqlite3"
"""The database's file name inside the outputs folder."""

SCHEMA_VERSION = 1
"""The schema this module writes, stored in ``PRAGMA user_version``."""

PENDING, DONE, TRASH = "pending", "done", "trash"
"""A row's states: being saved, shown, being deleted (see :mod:`huatu.history`)."""

_SCHEMA = """
CREATE TABLE entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a stale id cannot hit a new entry
    token TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'trash')),
    created_at TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    temp_path TEXT,
    prompt TEXT NOT NULL,
    negative_prompt TEXT NOT NULL,
    search_text TEXT NOT NULL,
    seed INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    num_inference_steps INTEGER NOT NULL,
    guidance_scale REAL NOT NULL,
    scheduler TEXT NOT NULL,
    model TEXT NOT NULL,
    backend TEXT NOT NULL,
    parameters TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX entries_by_created_at ON entries (state, created_at DESC, id DESC);
CREATE TABLE folders (path TEXT PRIMARY KEY) WITHOUT ROWID;
"""


class Database:
    """One open history database, shared by threads (one connection behind :attr:`lock`).

    Args:
        outputs_dir: the outputs folder (absolute); paths inside it are stored relative to
            it, so the folder can move.
        db_path: the SQLite file (absolute); created with its folder if missing.

    Raises:
        StorageError: the database cannot be opened or created, is not a huatu history, or
            was written by a newer huatu.
    """

    def __init__(self, outputs_dir: Path, db_path: Path) -> None:
        self.outputs_dir = outputs_dir
        self.db_path = db_path
        self.lock = threading.RLock()
        #: Folders huatu saved into (their keys), where recovery looks for temporary files.
        self.folders: set[str] = set()
        self._conn: sqlite3.Connection | None = None
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                db_path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._setup()
        except BaseException as exc:
            self.close()
            if isinstance(exc, (OSError, sqlite3.Error)) and not isinstance(exc, HuatuError):
                raise StorageError(
                    "history_open_failed", path=str(db_path), reason=reason(exc)
                ) from exc
            raise

    def _setup(self) -> None:
        conn = self.connection()
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a file system without mmap
            log.warning("The history database %s runs in %s journal mode.", self.db_path, mode)
        conn.execute("PRAGMA synchronous=FULL")
        with self.write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    "history_newer_schema",
                    path=str(self.db_path),
                    version=version,
                    known=SCHEMA_VERSION,
                )
            if version == 0:
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name IN ('entries', 'folders')"
                ).fetchone()[0]
                if tables:
                    raise StorageError("history_foreign_tables", path=str(self.db_path))
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.folders = {row[0] for row in conn.execute("SELECT path FROM folders")}

    def close(self) -> None:
        """Close the connection. Idempotent."""
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def connection(self) -> sqlite3.Connection:
        """The open connection (hold :attr:`lock` while using it).

        Raises:
            StorageError: the database was closed.
        """
        if self._conn is None:
            raise StorageError("history_closed", path=str(self.db_path))
        return self._conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) under :attr:`lock`;
        rolled back when the block raises."""
        with self.lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads, under :attr:`lock`.

        Raises:
            StorageError: SQLite failed to read.
        """
        with self.lock:
            conn = self.connection()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise StorageError(
                    "history_read_failed", path=str(self.db_path), reason=reason(exc)
                ) from exc

    def register_folder(self, folder: Path) -> None:
        """Note ``folder`` in the database before huatu writes into it, so recovery looks
        there."""
        key = self.key(folder)
        with self.lock:
            if key in self.folders:
                return
            with self.write() as conn:
                conn.execute("INSERT OR IGNORE INTO folders (path) VALUES (?)", (key,))
            self.folders.add(key)

    def key(self, path: Path) -> str:
        """``path`` as a row stores it: relative to the outputs folder when inside it."""
        try:
            relative = path.relative_to(self.outputs_dir)
        except ValueError:
            return str(path)
        return relative.as_posix()

    def path(self, key: str) -> Path:
        """The absolute path of a stored ``key`` (see :meth:`key`)."""
        path = Path(key)
        return path if path.is_absolute() else self.outputs_dir / path
