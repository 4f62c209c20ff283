"""Finishing or undoing the saves and deletes a crash interrupted (see :mod:`huatu.history`).

A ``pending`` row whose final file exists becomes ``done``; one whose temporary file exists
is finished (the file was complete and synced before the row was committed) and becomes
``done``; one with neither file is deleted. A ``trash`` row loses its file, then itself. A
huatu temporary file with no row is deleted. Whatever belongs to a save still running (in
this process, or in another one on this host whose process is alive) is left alone; files
huatu did not write are never touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime

from huatu.errors import StorageError
from huatu.history.database import DONE, PENDING, TRASH, Database
from huatu.history.files import TEMP_RE, owner_alive, reason, sync_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovery:
    """What a recovery did.

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


def recover(db: Database) -> Recovery:
    """Finish or undo the interrupted saves and deletes of ``db``'s history.

    Safe at any time: saves still running, in this process or another one on this host, are
    left alone. Only huatu's own temporary files (``.huatu-*.png.part`` in folders huatu
    saved into) and files of rows being deleted are ever removed.

    Raises:
        StorageError: the database cannot be read or written.
    """
    try:
        with db.lock:
            now = time.time()
            # One write transaction per row: SQLite's write lock keeps two recoveries (two
            # processes opening at once) from handling the same row, and the row is read
            # again inside it, so a save or delete that finished a moment ago is not touched.
            completed, removed_rows, skipped = _finish_saves(db, now)
            trashed_rows, trashed_files = _finish_deletes(db)
            leftovers, waiting = _remove_leftovers(db, now)
    except sqlite3.Error as exc:
        raise StorageError(
            "history_repair_failed", path=str(db.db_path), reason=reason(exc)
        ) from exc
    result = Recovery(
        completed, removed_rows + trashed_rows, trashed_files + leftovers, skipped + waiting
    )
    if result.completed or result.removed_rows or result.removed_files:
        log.info("History recovery in %s: %s", db.outputs_dir, result)
    return result


def _finish_saves(db: Database, now: float) -> tuple[int, int, int]:
    """Pending rows: finished or removed. Returns (completed, removed rows, skipped)."""
    completed = removed = skipped = 0
    pending = db.connection().execute("SELECT id FROM entries WHERE state = ?", (PENDING,))
    for (entry_id,) in pending.fetchall():
        with db.write() as write:
            row = write.execute(
                "SELECT path, temp_path, created_at FROM entries WHERE id = ? AND state = ?",
                (entry_id, PENDING),
            ).fetchone()
            if row is None:
                continue
            path_key, temp_key, created_at = row
            temp = db.path(temp_key) if temp_key else None
            age = now - datetime.fromisoformat(created_at).timestamp()
            if temp is not None and owner_alive(temp.name, age):
                skipped += 1
                continue
            final = db.path(path_key)
            if not os.path.lexists(final) and temp is not None and os.path.exists(temp):
                try:  # the temporary file was complete and synced before the row existed
                    os.replace(temp, final)
                    sync_folder(final.parent)
                except OSError as exc:
                    log.warning("Could not finish the interrupted save of %s: %s", final, exc)
                    continue
            if os.path.lexists(final):
                if temp is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temp)
                write.execute(
                    "UPDATE entries SET state = ?, temp_path = NULL WHERE id = ?",
                    (DONE, entry_id),
                )
                completed += 1
            else:
                write.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
                removed += 1
    return completed, removed, skipped


def _finish_deletes(db: Database) -> tuple[int, int]:
    """Trashed rows: their file removed, then the row. Returns (removed rows, files)."""
    rows = files = 0
    trash = db.connection().execute("SELECT id FROM entries WHERE state = ?", (TRASH,))
    for (entry_id,) in trash.fetchall():
        with db.write() as write:
            row = write.execute(
                "SELECT path FROM entries WHERE id = ? AND state = ?", (entry_id, TRASH)
            ).fetchone()
            if row is None:
                continue
            try:
                os.unlink(db.path(row[0]))
                files += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("Could not remove the deleted image %s: %s", row[0], exc)
                continue
            write.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
            rows += 1
    return rows, files


def _remove_leftovers(db: Database, now: float) -> tuple[int, int]:
    """huatu's temporary files that no row owns and no running save writes.
    Returns (removed files, skipped)."""
    conn = db.connection()
    removed = skipped = 0
    owned = {
        row[0] for row in conn.execute("SELECT temp_path FROM entries WHERE temp_path IS NOT NULL")
    }
    # Other stores (other processes) may have saved into new folders since this one opened.
    db.folders |= {row[0] for row in conn.execute("SELECT path FROM folders")}
    for folder_key in sorted(db.folders):
        folder = db.path(folder_key)
        try:
            with os.scandir(folder) as entries:
                names = [item.name for item in entries if TEMP_RE.fullmatch(item.name)]
        except OSError:
            continue  # a folder that is gone (or unreadable) holds nothing to clean
        for name in names:
            temp = folder / name
            if db.key(temp) in owned:
                continue
            try:
                age = now - temp.stat().st_mtime
            except FileNotFoundError:
                continue
            if owner_alive(name, age):
                skipped += 1
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
                removed += 1
    return removed, skipped
