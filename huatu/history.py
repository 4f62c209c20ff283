"""Generation history: one SQLite row per saved image, the PNGs in the outputs folder.

The database (``outputs/history.sqlite3`` by default) is the embedded default store: the
standard library's :mod:`sqlite3` in WAL mode, so the history tab can read while an image is
being saved. Every image is written as a PNG carrying its A1111 ``parameters`` text (see
:mod:`huatu.metadata`), so the folder stays useful without the database.

Crash safety. A save must never leave half a row or an orphan file, whatever stops it
(an exception, a full disk, ``kill -9``, a power cut). Each row has a ``state``:

1. The PNG is written to a hidden temporary file in the target folder
   (``.huatu-<host>-<pid>-<token>.png.part``) and synced to disk.
2. The row is inserted as ``pending`` (naming both the temporary and the final file) and
   committed. From here on, the row owns the file.
3. The temporary file is renamed to its final name (``os.replace``) and the folder synced.
4. The row is marked ``done`` and committed. Only ``done`` rows are ever shown.

:meth:`HistoryStore.recover` (run on every open) finishes or undoes interrupted saves: a
``pending`` row whose final file exists becomes ``done``; one whose temporary file exists is
finished (the file was complete and synced before the row was committed) and becomes
``done``; one with neither file is deleted; a huatu temporary file with no row is deleted.
Deleting works the same way backwards: the row is marked ``trash`` and committed (it vanishes
from the history at once), the file is removed, then the row. Rows and files that belong to
a save still running in another process (same host, process alive) are left alone, so a CLI
run next to a running studio cannot break the studio's saves. Files huatu did not write
(other PNGs, other hidden files) are never touched.

``PRAGMA synchronous=FULL``: each commit is synced to disk before it returns, so after a
power cut a final file never exists without its row (with ``NORMAL`` the last commits of a
WAL database may be lost, which would leave renamed files without rows). It costs two disk
syncs per saved image, nothing next to the seconds a generation takes.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huatu.errors import HuatuError, StorageError
from huatu.metadata import png_bytes
from huatu.request import GenerationRequest

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

DB_NAME = "history.sqlite3"
"""The database's file name inside the outputs folder."""

SCHEMA_VERSION = 1
"""The schema this module writes, stored in ``PRAGMA user_version``."""

STALE_AFTER_S = 600.0
"""An unfinished save older than this (seconds) is treated as interrupted even when its
process cannot be checked (another host, or a system without ``os.kill(pid, 0)``)."""

SEARCHED_EXTRA_KEYS = ("Original prompt", "Original negative prompt")
"""``extra`` items that the history search reads besides the prompt and negative prompt (so
a prompt typed in Chinese and translated before generating is found in Chinese too)."""

_PENDING, _DONE, _TRASH = "pending", "done", "trash"

_HOST_ID = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
_TEMP_RE = re.compile(
    r"\.huatu-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-(?P<token>[0-9a-f]{16})\.png\.part"
)

# Tokens of the saves running in this process right now, across every HistoryStore.
_IN_FLIGHT: set[str] = set()
_IN_FLIGHT_LOCK = threading.Lock()

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

# HistoryEntry's fields, which are also the table's column names.
_ENTRY_FIELDS = (
    "id", "created_at", "path", "prompt", "negative_prompt", "seed", "width", "height",
    "num_inference_steps", "guidance_scale", "scheduler", "model", "backend", "parameters",
    "extra",
)  # fmt: skip
_ENTRY_COLUMNS = ", ".join(_ENTRY_FIELDS)


@dataclass(frozen=True)
class HistoryEntry:
    """One saved image and the settings it was made with.

    Attributes:
        id: the row id; stable, never reused after a delete.
        created_at: when it was saved, ISO 8601 in UTC (``2024-05-01T08:30:00.123456+00:00``).
        path: the PNG file (absolute).
        prompt: the prompt as generated (after any translation).
        negative_prompt: the negative prompt; ``""`` if none.
        seed: the seed this very image used (never ``-1``).
        width: width in pixels.
        height: height in pixels.
        num_inference_steps: denoising steps.
        guidance_scale: classifier-free guidance scale.
        scheduler: huatu's scheduler id, e.g. ``"dpmpp_2m_karras"``.
        model: the model's name or id.
        backend: ``"local"`` or ``"hosted"`` (whatever the caller passed).
        parameters: the A1111 ``parameters`` text embedded in the PNG.
        extra: further settings, e.g. ``{"Preset": "Quality", "Original prompt": "一只猫"}``.
            Default ``{}``. Not part of the hash, compared by ``==``.
    """

    id: int
    created_at: str
    path: Path
    prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int
    num_inference_steps: int
    guidance_scale: float
    scheduler: str
    model: str
    backend: str
    parameters: str
    extra: dict[str, str] = field(default_factory=dict, hash=False)

    def request_fields(self) -> dict[str, Any]:
        """The entry's settings under :class:`~huatu.request.GenerationRequest` field names.

        ``prompt``, ``negative_prompt``, ``num_inference_steps``, ``guidance_scale``,
        ``width``, ``height``, ``seed`` and ``scheduler``, ready for
        ``GenerationRequest.create(**entry.request_fields())`` or for filling the form.
        """
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "width": self.width,
            "height": self.height,
            "seed": self.seed,
            "scheduler": self.scheduler,
        }


@dataclass(frozen=True)
class Recovery:
    """What :meth:`HistoryStore.recover` did.

    Attributes:
        completed: interrupted saves finished (their rows are now ``done``).
        removed_rows: rows deleted (saves whose file never got written, finished deletes).
        removed_files: huatu's own leftover files deleted (temporary or trashed images).
        skipped: unfinished saves left alone because their process is still running.
    """

    completed: int = 0
    removed_rows: int = 0
    removed_files: int = 0
    skipped: int = 0


class HistoryStore:
    """The generation history: an SQLite database plus the PNG files it lists.

    Safe to share between threads (one connection behind a lock; PNG encoding and file
    writes run outside it, so saves from several threads overlap) and between processes on
    the same folder (SQLite locking; a save in progress elsewhere is never "recovered").
    Opening runs :meth:`recover`. Use it as a context manager or call :meth:`close`.

    Args:
        outputs_dir: the outputs folder; images go to ``outputs_dir / "YYYY-MM-DD"`` (local
            date) unless :meth:`save` is given a folder. Created if missing.
        db_path: the SQLite file. Default ``outputs_dir / "history.sqlite3"``.

    Raises:
        HuatuError: the database cannot be opened or created, is not a huatu history, or
            was written by a newer huatu.
    """

    def __init__(self, outputs_dir: Path | str, *, db_path: Path | str | None = None) -> None:
        self.outputs_dir = Path(os.path.abspath(outputs_dir))
        self.db_path = Path(os.path.abspath(db_path or self.outputs_dir / DB_NAME))
        self._lock = threading.RLock()
        self._folders: set[str] = set()
        self._conn: sqlite3.Connection | None = None
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.db_path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._setup()
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise HuatuError(
                f"The history database {self.db_path} cannot be opened: {_reason(exc)}."
            ) from exc
        except BaseException:
            self.close()
            raise
        try:
            self.recover()
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------------------------------
    # Opening and closing

    def _setup(self) -> None:
        conn = self._connection()
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a file system without mmap
            log.warning("The history database %s runs in %s journal mode.", self.db_path, mode)
        conn.execute("PRAGMA synchronous=FULL")
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise HuatuError(
                    f"The history database {self.db_path} was written by a newer huatu "
                    f"(schema {version}, this one knows up to {SCHEMA_VERSION}); "
                    "update huatu or point HUATU_OUTPUTS at another folder."
                )
            if version == 0:
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name IN ('entries', 'folders')"
                ).fetchone()[0]
                if tables:
                    raise HuatuError(
                        f"{self.db_path} holds tables huatu did not create; move it away."
                    )
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._folders = {row[0] for row in conn.execute("SELECT path FROM folders")}

    def close(self) -> None:
        """Close the database. Idempotent; any later call on this store raises HuatuError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise HuatuError(f"The history {self.db_path} is closed.")
        return self._conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) under the store's lock."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise HuatuError(
                    f"The history database {self.db_path} cannot be read: {_reason(exc)}."
                ) from exc

    # ----------------------------------------------------------------------------------------
    # Paths: stored relative to the outputs folder when inside it (the folder can move)

    def _key(self, path: Path) -> str:
        try:
            relative = path.relative_to(self.outputs_dir)
        except ValueError:
            return str(path)
        return relative.as_posix()

    def _path(self, key: str) -> Path:
        path = Path(key)
        return path if path.is_absolute() else self.outputs_dir / path

    # ----------------------------------------------------------------------------------------
    # Saving

    def save(
        self,
        image: Image,
        parameters: str,
        *,
        request: GenerationRequest,
        seed: int,
        model: str,
        backend: str,
        extra: Mapping[str, object] | None = None,
        folder: Path | str | None = None,
    ) -> HistoryEntry:
        """Write ``image`` as a PNG with its metadata and add it to the history, atomically.

        The file is named ``HHMMSS-ffffff-<seed>.png`` (local time; ``-1``, ``-2`` … appended
        if that name is taken) and never overwrites a file. Either both the file and a
        ``done`` row exist afterwards, or neither does (see the module docs).

        Args:
            image: the image (any mode Pillow writes as PNG).
            parameters: the A1111 text to embed, usually from
                :func:`huatu.metadata.format_parameters`.
            request: the request the image was made from (prompt, negative prompt, steps,
                guidance, size and scheduler are recorded; its ``seed`` is not, see ``seed``).
            seed: the seed this very image used. Required.
            model: the model's name or id. Required.
            backend: the backend that made it, e.g. ``"local"`` or ``"hosted"``. Required.
            extra: further settings to record, e.g. ``{"Original prompt": "一只猫"}``; values
                are stored as text, ``None`` values are skipped. Default ``None`` (none).
            folder: where to write the PNG. Default ``outputs_dir / "YYYY-MM-DD"``.

        Returns:
            The new entry.

        Raises:
            HuatuError: the file could not be written (e.g. the disk is full) or the row
                could not be recorded; nothing was kept.
        """
        now = datetime.now(timezone.utc)
        local = now.astimezone()
        target = Path(os.path.abspath(folder or self.outputs_dir / f"{local:%Y-%m-%d}"))
        extras = {str(key): str(value) for key, value in (extra or {}).items() if value is not None}
        data = png_bytes(image, parameters)
        token = secrets.token_hex(8)
        temp = target / f".huatu-{_HOST_ID}-{os.getpid()}-{token}.png.part"
        record = {
            "token": token,
            "created_at": now.isoformat(timespec="microseconds"),
            "temp_path": self._key(temp),
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "search_text": _search_text(request.prompt, request.negative_prompt, extras),
            "seed": int(seed),
            "width": int(request.width),
            "height": int(request.height),
            "num_inference_steps": int(request.num_inference_steps),
            "guidance_scale": float(request.guidance_scale),
            "scheduler": request.scheduler,
            "model": str(model),
            "backend": str(backend),
            "parameters": parameters,
            "extra": json.dumps(extras, ensure_ascii=False),
        }
        with _in_flight(token):
            renamed: Path | None = None  # the final file, once the temporary file has its name
            try:
                self._register_folder(target)
                self._write_temp(temp, data, target)
                entry_id, final = self._insert_pending(record, target, f"{local:%H%M%S-%f}-{seed}")
                os.replace(temp, final)
                renamed = final
                _sync_folder(target)
                self._mark_done(entry_id)
            except BaseException as exc:
                self._abandon(token, temp, renamed)
                if isinstance(exc, sqlite3.Error):
                    raise HuatuError(
                        f"Could not record the image in the history {self.db_path}: "
                        f"{_reason(exc)}; it was not kept."
                    ) from exc
                if isinstance(exc, OSError):
                    raise _save_error(target, exc) from exc
                raise
        return HistoryEntry(
            id=entry_id,
            created_at=record["created_at"],
            path=final,
            prompt=record["prompt"],
            negative_prompt=record["negative_prompt"],
            seed=record["seed"],
            width=record["width"],
            height=record["height"],
            num_inference_steps=record["num_inference_steps"],
            guidance_scale=record["guidance_scale"],
            scheduler=record["scheduler"],
            model=record["model"],
            backend=record["backend"],
            parameters=parameters,
            extra=extras,
        )

    def _register_folder(self, folder: Path) -> None:
        """Note ``folder`` in the database before huatu writes into it, so recover() looks there."""
        key = self._key(folder)
        with self._lock:
            if key in self._folders:
                return
            with self._write() as conn:
                conn.execute("INSERT OR IGNORE INTO folders (path) VALUES (?)", (key,))
            self._folders.add(key)

    def _write_temp(self, temp: Path, data: bytes, folder: Path) -> None:
        """Write ``data`` to the new file ``temp`` and sync it; remove it again on failure."""
        folder.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        descriptor = os.open(temp, flags, 0o666)  # the umask applies, as for any file
        try:
            try:
                _write_fully(descriptor, data)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def _insert_pending(self, record: dict[str, Any], folder: Path, stem: str) -> tuple[int, Path]:
        """Insert ``record`` as a pending row under a free final name; return its id and path."""
        columns = ", ".join(["state", "path", *record])
        marks = ", ".join("?" * (len(record) + 2))
        for number in range(10_000):
            final = folder / (f"{stem}-{number}.png" if number else f"{stem}.png")
            if os.path.lexists(final):
                continue
            try:
                with self._write() as conn:
                    cursor = conn.execute(
                        f"INSERT INTO entries ({columns}) VALUES ({marks})",
                        (_PENDING, self._key(final), *record.values()),
                    )
            except sqlite3.IntegrityError:
                continue  # another save took this name a moment ago
            return int(cursor.lastrowid or 0), final
        raise HuatuError(f"Could not find a free file name for {stem}.png in {folder}.")

    def _mark_done(self, entry_id: int) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE entries SET state = ?, temp_path = NULL WHERE id = ? AND state = ?",
                (_DONE, entry_id, _PENDING),
            )

    def _abandon(self, token: str, temp: Path, final: Path | None) -> None:
        """Undo a failed save as far as possible; :meth:`recover` finishes what is left."""
        with contextlib.suppress(OSError):
            os.unlink(temp)  # safe in every state: a pending row with no file gets dropped
        try:
            with self._lock:
                row = (
                    self._connection()
                    .execute("SELECT state FROM entries WHERE token = ?", (token,))
                    .fetchone()
                )
                if row is None:
                    return
                if row[0] != _PENDING:
                    return  # it got done after all; keep it
                if final is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(final)
                with self._write() as conn:
                    conn.execute(
                        "DELETE FROM entries WHERE token = ? AND state = ?", (token, _PENDING)
                    )
        except (OSError, sqlite3.Error, HuatuError) as exc:
            log.warning("Could not undo a failed save (%s); the next open will.", exc)

    # ----------------------------------------------------------------------------------------
    # Recovery

    def recover(self) -> Recovery:
        """Finish or undo saves and deletes that were interrupted (crash, kill, power cut).

        Safe to call at any time: saves still running, in this process or another one on
        this host, are left alone. Only huatu's own temporary files (``.huatu-*.png.part``
        in folders huatu saved into) and files of rows being deleted are ever removed.

        Returns:
            What was done, as a :class:`Recovery`.

        Raises:
            HuatuError: the database cannot be read or written.
        """
        try:
            with self._lock:
                return self._recover()
        except sqlite3.Error as exc:
            raise HuatuError(
                f"The history database {self.db_path} could not be repaired: {_reason(exc)}."
            ) from exc

    def _recover(self) -> Recovery:
        conn = self._connection()
        completed = removed_rows = removed_files = skipped = 0
        now = time.time()

        # One write transaction per row: SQLite's write lock keeps two recoveries (two
        # processes opening at once) from handling the same row, and the row is read again
        # inside it, so a save or delete that finished a moment ago is not touched.
        pending = conn.execute("SELECT id FROM entries WHERE state = ?", (_PENDING,)).fetchall()
        for (entry_id,) in pending:
            with self._write() as write:
                row = write.execute(
                    "SELECT path, temp_path, created_at FROM entries WHERE id = ? AND state = ?",
                    (entry_id, _PENDING),
                ).fetchone()
                if row is None:
                    continue
                path_key, temp_key, created_at = row
                temp = self._path(temp_key) if temp_key else None
                age = now - datetime.fromisoformat(created_at).timestamp()
                if temp is not None and _owner_alive(temp.name, age):
                    skipped += 1
                    continue
                final = self._path(path_key)
                if not os.path.lexists(final) and temp is not None and os.path.exists(temp):
                    try:  # the temporary file was complete and synced before the row existed
                        os.replace(temp, final)
                        _sync_folder(final.parent)
                    except OSError as exc:
                        log.warning("Could not finish the interrupted save of %s: %s", final, exc)
                        continue
                if os.path.lexists(final):
                    if temp is not None:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(temp)
                    write.execute(
                        "UPDATE entries SET state = ?, temp_path = NULL WHERE id = ?",
                        (_DONE, entry_id),
                    )
                    completed += 1
                else:
                    write.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
                    removed_rows += 1

        trash = conn.execute("SELECT id FROM entries WHERE state = ?", (_TRASH,)).fetchall()
        for (entry_id,) in trash:
            with self._write() as write:
                row = write.execute(
                    "SELECT path FROM entries WHERE id = ? AND state = ?", (entry_id, _TRASH)
                ).fetchone()
                if row is None:
                    continue
                try:
                    os.unlink(self._path(row[0]))
                    removed_files += 1
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    log.warning("Could not remove the deleted image %s: %s", row[0], exc)
                    continue
                write.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
                removed_rows += 1

        owned = {
            row[0]
            for row in conn.execute("SELECT temp_path FROM entries WHERE temp_path IS NOT NULL")
        }
        # Other stores (other processes) may have saved into new folders since this one opened.
        self._folders |= {row[0] for row in conn.execute("SELECT path FROM folders")}
        for folder_key in sorted(self._folders):
            folder = self._path(folder_key)
            try:
                with os.scandir(folder) as entries:
                    names = [item.name for item in entries if _TEMP_RE.fullmatch(item.name)]
            except OSError:
                continue  # a folder that is gone (or unreadable) holds nothing to clean
            for name in names:
                temp = folder / name
                if self._key(temp) in owned:
                    continue
                try:
                    age = now - temp.stat().st_mtime
                except FileNotFoundError:
                    continue
                if _owner_alive(name, age):
                    skipped += 1
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
                    removed_files += 1

        result = Recovery(completed, removed_rows, removed_files, skipped)
        if completed or removed_rows or removed_files:
            log.info("History recovery in %s: %s", self.outputs_dir, result)
        return result

    # ----------------------------------------------------------------------------------------
    # Deleting

    def delete(self, entry_id: int) -> bool:
        """Remove an entry: its row and its PNG file.

        The row is first marked deleted (hidden at once) and committed, then the file is
        removed, then the row; :meth:`recover` finishes a delete that was interrupted.

        Args:
            entry_id: the entry's :attr:`HistoryEntry.id`.

        Returns:
            ``True`` if it was deleted, ``False`` if there is no such entry.

        Raises:
            HuatuError: the file could not be removed (the entry is kept) or the database
                could not be written.
        """
        entry_id = _as_id(entry_id)
        if entry_id is None:
            return False
        try:
            with self._lock:
                with self._write() as conn:
                    row = conn.execute(
                        "SELECT path FROM entries WHERE id = ? AND state = ?", (entry_id, _DONE)
                    ).fetchone()
                    if row is None:
                        return False
                    conn.execute("UPDATE entries SET state = ? WHERE id = ?", (_TRASH, entry_id))
                path = self._path(row[0])
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    with self._write() as conn:
                        conn.execute(
                            "UPDATE entries SET state = ? WHERE id = ? AND state = ?",
                            (_DONE, entry_id, _TRASH),
                        )
                    raise HuatuError(f"Could not delete {path}: {_reason(exc)}.") from exc
                with self._write() as conn:
                    conn.execute(
                        "DELETE FROM entries WHERE id = ? AND state = ?", (entry_id, _TRASH)
                    )
        except sqlite3.Error as exc:
            raise HuatuError(
                f"Could not delete entry {entry_id} from the history {self.db_path}: "
                f"{_reason(exc)}."
            ) from exc
        return True

    # ----------------------------------------------------------------------------------------
    # Reading

    def get(self, entry_id: int) -> HistoryEntry | None:
        """The entry with this id, or ``None`` (no such entry, deleted, or still being saved).

        Args:
            entry_id: the entry's :attr:`HistoryEntry.id`.
        """
        entry_id = _as_id(entry_id)
        if entry_id is None:
            return None
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE id = ? AND state = ?",
                (entry_id, _DONE),
            ).fetchone()
        return None if row is None else self._entry(row)

    def count(self, query: str = "") -> int:
        """How many entries :meth:`list` would return for ``query`` without a limit.

        Args:
            query: the search text, as for :meth:`list`. Default ``""`` (every entry).
        """
        where, params = _where(query)
        with self._reading() as conn:
            return int(conn.execute(f"SELECT count(*) FROM entries {where}", params).fetchone()[0])

    def list(
        self, query: str = "", *, limit: int = 50, offset: int = 0
    ) -> builtins.list[HistoryEntry]:
        """Saved entries, newest first, optionally filtered by prompt.

        Args:
            query: text to look for in the prompt, the negative prompt and the original
                (untranslated) prompt: a plain substring, case-insensitive, with full-width
                and half-width forms treated alike (NFKC); ``%`` and ``_`` are literal.
                Leading and trailing spaces are ignored. Default ``""`` (every entry).
            limit: at most this many entries, 1 or more. Default 50.
            offset: skip this many first (for paging), 0 or more. Default 0.

        Raises:
            ValueError: ``limit`` or ``offset`` out of range.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be an integer of 1 or more, but is {limit!r}.")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be an integer of 0 or more, but is {offset!r}.")
        where, params = _where(query)
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries {where} "
                "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [self._entry(row) for row in rows]

    def _entry(self, row: tuple[Any, ...]) -> HistoryEntry:
        values = dict(zip(_ENTRY_FIELDS, row, strict=True))
        try:
            extra = json.loads(values["extra"])
        except ValueError:
            extra = None
        values["extra"] = (
            {str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {}
        )
        values["path"] = self._path(values["path"])
        return HistoryEntry(**values)


# --------------------------------------------------------------------------------------------
# Helpers


def _normalise(text: str) -> str:
    """Text as the search compares it: NFKC (full-width ``ＡＢ`` → ``AB``), then casefolded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _search_text(prompt: str, negative: str, extra: Mapping[str, str]) -> str:
    parts = [prompt, negative, *(extra[key] for key in SEARCHED_EXTRA_KEYS if key in extra)]
    return "\n".join(_normalise(part) for part in parts)


def _where(query: str) -> tuple[str, tuple[Any, ...]]:
    needle = _normalise(query.strip()) if isinstance(query, str) else ""
    if not needle:
        return "WHERE state = ?", (_DONE,)
    # instr() is a plain substring test: '%' and '_' mean themselves.
    return "WHERE state = ? AND instr(search_text, ?) > 0", (_DONE, needle)


def _as_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _write_fully(descriptor: int, data: bytes) -> None:
    """Write all of ``data`` to ``descriptor`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def _sync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (POSIX; elsewhere a no-op)."""
    if os.name != "posix":  # pragma: no cover - Windows cannot open folders
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as exc:  # pragma: no cover - some file systems refuse to sync folders
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _in_flight(token: str) -> Iterator[None]:
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.add(token)
    try:
        yield
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(token)


def _owner_alive(temp_name: str, age_s: float) -> bool:
    """Whether the save that wrote the temporary file ``temp_name`` may still be running."""
    match = _TEMP_RE.fullmatch(temp_name)
    if match is None:
        return False
    host, pid, token = match["host"], int(match["pid"]), match["token"]
    if host == _HOST_ID and pid == os.getpid():
        with _IN_FLIGHT_LOCK:
            return token in _IN_FLIGHT
    if age_s > STALE_AFTER_S:
        return False
    if host != _HOST_ID or os.name != "posix":
        return True  # cannot check that process: wait until the save is stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists but belongs to someone else
        return True
    return True


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the disk is full"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    text = str(exc).strip().rstrip(".")
    return text or type(exc).__name__


def _save_error(folder: Path, exc: OSError) -> StorageError:
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
    return StorageError(
        f"Could not save the image to {folder}: {_reason(exc)}.",
        key="history_disk_full" if full else "history_save_failed",
        folder=str(folder),
        reason=_reason(exc),
    )
