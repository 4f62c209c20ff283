"""Generation history: one SQLite row per saved image, the PNGs in the outputs folder.

The database (``outputs/history.sqlite3`` by default, :mod:`huatu.history.database`) is the
embedded default store. Every image is written as a PNG carrying its A1111 ``parameters``
text (see :mod:`huatu.metadata`), so the folder stays useful without the database.

Crash safety. A save must never leave half a row or an orphan file, whatever stops it
(an exception, a full disk, ``kill -9``, a power cut). Each row has a ``state``:

1. The PNG is written to a hidden temporary file in the target folder
   (``.huatu-<host>-<pid>-<token>.png.part``) and synced to disk
   (:class:`~huatu.history.files.StagedFile`, the one atomic writer).
2. The row is inserted as ``pending`` (naming both the temporary and the final file) and
   committed. From here on, the row owns the file.
3. The temporary file is renamed to its final name (``os.replace``) and the folder synced.
4. The row is marked ``done`` and committed. Only ``done`` rows are ever shown.

:meth:`HistoryStore.recover` (run on every open, :mod:`huatu.history.recovery`) finishes or
undoes interrupted saves. Deleting works the same way backwards: the row is marked ``trash``
and committed (it vanishes from the history at once), the file is removed, then the row. Rows
and files that belong to a save still running in another process (same host, process alive)
are left alone, so a CLI run next to a running studio cannot break the studio's saves. Files
huatu did not write (other PNGs, other hidden files) are never touched.

Modules: :mod:`~huatu.history.files` (atomic PNG writing, the naming rule),
:mod:`~huatu.history.database` (schema, connection), :mod:`~huatu.history.entries` (a row,
the search), :mod:`~huatu.history.recovery`, :mod:`~huatu.history.store` (:class:`HistoryStore`).
"""

from __future__ import annotations

from huatu.history.database import DB_NAME, SCHEMA_VERSION
from huatu.history.entries import SEARCHED_EXTRA_KEYS, HistoryEntry
from huatu.history.files import (
    STALE_AFTER_S,
    dated_folder,
    image_names,
    save_png,
    write_png,
)
from huatu.history.recovery import Recovery
from huatu.history.store import HistoryStore

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "SEARCHED_EXTRA_KEYS",
    "STALE_AFTER_S",
    "HistoryEntry",
    "HistoryStore",
    "Recovery",
    "dated_folder",
    "image_names",
    "save_png",
    "write_png",
]
