"""The history store: save an image with its row, list, search, get and delete entries."""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huatu.errors import HuatuError, StorageError
from huatu.history.database import DB_NAME, DONE, PENDING, TRASH, Database
from huatu.history.entries import (
    ENTRY_COLUMNS,
    ENTRY_FIELDS,
    HistoryEntry,
    as_id,
    search_text,
    search_where,
)
from huatu.history.files import (
    StagedFile,
    clock,
    dated_folder,
    image_names,
    reason,
    save_error,
)
from huatu.history.recovery import Recovery, recover
from huatu.metadata import png_bytes
from huatu.request import GenerationRequest

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)


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
        StorageError: the database cannot be opened or created, is not a huatu history, or
            was written by a newer huatu.
    """

    def __init__(self, outputs_dir: Path | str, *, db_path: Path | str | None = None) -> None:
        self.outputs_dir = Path(os.path.abspath(outputs_dir))
        self.db_path = Path(os.path.abspath(db_path or self.outputs_dir / DB_NAME))
        self._db = Database(self.outputs_dir, self.db_path)
        try:
            self.recover()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the database. Idempotent; any later call on this store raises StorageError."""
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def recover(self) -> Recovery:
        """Finish or undo saves and deletes that were interrupted (crash, kill, power cut).

        Safe to call at any time: saves still running, in this process or another one on
        this host, are left alone (see :mod:`huatu.history.recovery`).

        Raises:
            StorageError: the database cannot be read or written.
        """
        return recover(self._db)

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

        The file is named by :func:`huatu.history.files.image_names` (``HHMMSS-ffffff-<seed>
        .png``, local time, ``-1``, ``-2`` … when taken) and never overwrites a file. Either
        both the file and a ``done`` row exist afterwards, or neither does.

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
            StorageError: the file could not be written (e.g. the disk is full) or the row
                could not be recorded; nothing was kept.
        """
        now = clock()
        target = Path(os.path.abspath(folder or dated_folder(self.outputs_dir, now)))
        extras = {str(key): str(value) for key, value in (extra or {}).items() if value is not None}
        data = png_bytes(image, parameters)
        record = {
            "created_at": now.isoformat(timespec="microseconds"),
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "search_text": search_text(request.prompt, request.negative_prompt, extras),
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
        with StagedFile(target) as staged:
            record.update(token=staged.token, temp_path=self._db.key(staged.temp))
            try:
                self._db.register_folder(target)
                staged.write(data)
                names = image_names(target, int(seed), now)
                entry_id, final = self._insert_pending(record, names)
                staged.publish(final)
                self._mark_done(entry_id)
            except BaseException as exc:
                self._abandon(staged)
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(
                        "history_record_failed", path=str(self.db_path), reason=reason(exc)
                    ) from exc
                if isinstance(exc, OSError) and not isinstance(exc, HuatuError):
                    raise save_error(target, exc) from exc
                raise
        fields = {name: record[name] for name in ENTRY_FIELDS if name in record}
        return HistoryEntry(id=entry_id, path=final, **{**fields, "extra": extras})

    def _insert_pending(self, record: dict[str, Any], names: Iterator[Path]) -> tuple[int, Path]:
        """Insert ``record`` as a pending row under the first free name of ``names`` (an
        iterator of :func:`~huatu.history.files.image_names`); return its id and path."""
        columns = ", ".join(["state", "path", *record])
        marks = ", ".join("?" * (len(record) + 2))
        while True:
            final = next(names)  # raises StorageError when every name is taken
            try:
                with self._db.write() as conn:
                    cursor = conn.execute(
                        f"INSERT INTO entries ({columns}) VALUES ({marks})",
                        (PENDING, self._db.key(final), *record.values()),
                    )
            except sqlite3.IntegrityError:
                continue  # another save took this name a moment ago
            return int(cursor.lastrowid or 0), final

    def _mark_done(self, entry_id: int) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE entries SET state = ?, temp_path = NULL WHERE id = ? AND state = ?",
                (DONE, entry_id, PENDING),
            )

    def _abandon(self, staged: StagedFile) -> None:
        """Undo a failed save as far as possible; :meth:`recover` finishes what is left."""
        with contextlib.suppress(OSError):
            os.unlink(staged.temp)  # safe in every state: a pending row with no file gets dropped
        try:
            with self._db.lock:
                row = (
                    self._db.connection()
                    .execute("SELECT state FROM entries WHERE token = ?", (staged.token,))
                    .fetchone()
                )
                if row is None:
                    return
                if row[0] != PENDING:
                    return  # it got done after all; keep it
                if staged.published is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(staged.published)
                with self._db.write() as conn:
                    conn.execute(
                        "DELETE FROM entries WHERE token = ? AND state = ?",
                        (staged.token, PENDING),
                    )
        except (OSError, sqlite3.Error, HuatuError) as exc:
            log.warning("Could not undo a failed save (%s); the next open will.", exc)

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
            StorageError: the file could not be removed (the entry is kept) or the database
                could not be written.
        """
        entry_id = as_id(entry_id)
        if entry_id is None:
            return False
        db = self._db
        try:
            with db.lock:
                with db.write() as conn:
                    row = conn.execute(
                        "SELECT path FROM entries WHERE id = ? AND state = ?", (entry_id, DONE)
                    ).fetchone()
                    if row is None:
                        return False
                    conn.execute("UPDATE entries SET state = ? WHERE id = ?", (TRASH, entry_id))
                path = db.path(row[0])
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    with db.write() as conn:
                        conn.execute(
                            "UPDATE entries SET state = ? WHERE id = ? AND state = ?",
                            (DONE, entry_id, TRASH),
                        )
                    raise StorageError(
                        "history_delete_file_failed", path=str(path), reason=reason(exc)
                    ) from exc
                with db.write() as conn:
                    conn.execute(
                        "DELETE FROM entries WHERE id = ? AND state = ?", (entry_id, TRASH)
                    )
        except sqlite3.Error as exc:
            raise StorageError(
                "history_delete_failed", id=entry_id, path=str(self.db_path), reason=reason(exc)
            ) from exc
        return True

    # ----------------------------------------------------------------------------------------
    # Reading

    def get(self, entry_id: int) -> HistoryEntry | None:
        """The entry with this id, or ``None`` (no such entry, deleted, or still being saved).

        Args:
            entry_id: the entry's :attr:`HistoryEntry.id`.
        """
        entry_id = as_id(entry_id)
        if entry_id is None:
            return None
        with self._db.reading() as conn:
            row = conn.execute(
                f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ? AND state = ?",
                (entry_id, DONE),
            ).fetchone()
        return None if row is None else self._entry(row)

    def count(self, query: str = "") -> int:
        """How many entries :meth:`list` would return for ``query`` without a limit.

        Args:
            query: the search text, as for :meth:`list`. Default ``""`` (every entry).
        """
        where, params = search_where(query)
        with self._db.reading() as conn:
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
            ValueError: ``limit`` or ``offset`` out of range (a caller's mistake, not a
                person's: no edge passes them through).
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be an integer of 1 or more, but is {limit!r}.")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be an integer of 0 or more, but is {offset!r}.")
        where, params = search_where(query)
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT {ENTRY_COLUMNS} FROM entries {where} "
                "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [self._entry(row) for row in rows]

    def _entry(self, row: tuple[Any, ...]) -> HistoryEntry:
        values = dict(zip(ENTRY_FIELDS, row, strict=True))
        try:
            extra = json.loads(values["extra"])
        except ValueError:
            extra = None
        values["extra"] = (
            {str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {}
        )
        values["path"] = self._db.path(values["path"])
        return HistoryEntry(**values)
