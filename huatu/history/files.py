"""Writing PNG files so that no crash leaves half of one: the one atomic writer and the one
naming rule.

Every PNG huatu writes goes through :class:`StagedFile`:

1. the bytes go to a hidden temporary file in the target folder,
   ``.huatu-<host>-<pid>-<token>.png.part``, and are synced to disk;
2. the file is renamed to its final name (:func:`os.replace`) and the folder synced.

While a file is staged its token counts as *in flight*, so a history recovery running at the
same time (in this process, or in another one on this host, found by the pid in the name)
leaves the temporary file alone (:func:`owner_alive`). The history store adds its database
row between the two steps (see :mod:`huatu.history`); :func:`save_png` (a save without
history) and :func:`write_png` (a file at a path the caller names) do the two steps alone.

Names (:func:`image_names`): an image made at 08:30:00.123456 local time with seed 42 is
``083000-123456-42.png`` in the folder ``2024-05-01`` of that day under the outputs folder
(:func:`dated_folder`); when that name is taken, ``-1``, ``-2`` … is appended.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from huatu.errors import HuatuError, StorageError
from huatu.messages import Notice
from huatu.metadata import png_bytes

if TYPE_CHECKING:
    from PIL.Image import Image

STALE_AFTER_S = 600.0
"""An unfinished save older than this (seconds) is treated as interrupted even when its
process cannot be checked (another host, or a system without ``os.kill(pid, 0)``)."""

NAME_TRIES = 10_000
"""How many names :func:`image_names` offers (the plain one, then ``-1`` … ``-9999``)."""

HOST_ID = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
"""This host, as temporary file names carry it."""

TEMP_RE = re.compile(
    r"\.huatu-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-(?P<token>[0-9a-f]{16})\.png\.part"
)
"""The name of a temporary file huatu writes (the only hidden files it ever removes)."""

# Tokens of the files being staged in this process right now.
_IN_FLIGHT: set[str] = set()
_IN_FLIGHT_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------
# Names


def clock() -> datetime:
    """Now, in UTC: the one clock of image names, dated folders and history rows."""
    return datetime.now(timezone.utc)


def dated_folder(outputs_dir: Path, when: datetime) -> Path:
    """The folder images made at ``when`` go to by default: ``outputs_dir / "YYYY-MM-DD"``
    (local date; a naive ``when`` is taken as local time)."""
    return outputs_dir / f"{when.astimezone():%Y-%m-%d}"


def image_names(folder: Path, seed: int, when: datetime) -> Iterator[Path]:
    """The names an image may take in ``folder``, best first, skipping names already taken.

    ``HHMMSS-ffffff-<seed>.png`` (local time of ``when``), then the same with ``-1``, ``-2``
    … before ``.png``, :data:`NAME_TRIES` names in all.

    Args:
        folder: where the image goes.
        seed: the seed this very image used.
        when: when it was made (a naive value is taken as local time).

    Raises:
        StorageError: (on the next name asked for) every name is taken.
    """
    stem = f"{when.astimezone():%H%M%S-%f}-{seed}"
    for number in range(NAME_TRIES):
        path = folder / (f"{stem}-{number}.png" if number else f"{stem}.png")
        if not os.path.lexists(path):
            yield path
    raise StorageError("image_no_free_name", name=f"{stem}.png", folder=str(folder))


# --------------------------------------------------------------------------------------------
# Writing


class StagedFile:
    """One file written atomically: its bytes to a hidden temporary file, then renamed.

    Use it as a context manager: inside, its token counts as in flight (see
    :func:`owner_alive`); on leaving, the temporary file is removed if it is still there
    (nothing was published, or something failed).

    Args:
        folder: the folder the file goes to (created by :meth:`write` when missing).

    Attributes:
        token: 16 random hex digits naming this file while it is staged.
        temp: the temporary file, ``folder / ".huatu-<host>-<pid>-<token>.png.part"``.
        published: the final file once :meth:`publish` renamed it, else ``None``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.token = secrets.token_hex(8)
        self.temp = folder / f".huatu-{HOST_ID}-{os.getpid()}-{self.token}.png.part"
        self.published: Path | None = None

    def __enter__(self) -> StagedFile:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.add(self.token)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            with contextlib.suppress(OSError):
                os.unlink(self.temp)
        finally:
            with _IN_FLIGHT_LOCK:
                _IN_FLIGHT.discard(self.token)

    def write(self, data: bytes) -> None:
        """Write ``data`` to the new temporary file and sync it; on failure remove it again.

        Raises:
            OSError: the folder or the file could not be written (e.g. the disk is full).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        descriptor = os.open(self.temp, flags, 0o666)  # the umask applies, as for any file
        try:
            try:
                write_fully(descriptor, data)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(self.temp)
            raise

    def publish(self, final: Path) -> Path:
        """Rename the temporary file to ``final`` (replacing a file there), sync the folder.

        Returns:
            ``final``.

        Raises:
            OSError: the rename or the sync failed (:attr:`published` says whether the file
                already has its final name).
        """
        os.replace(self.temp, final)
        self.published = final
        sync_folder(final.parent)
        return final


def write_png(image: Image, path: str | Path, parameters: str) -> Path:
    """Save ``image`` as a PNG file at ``path`` with the ``parameters`` text chunk, atomically.

    The PNG is :func:`huatu.metadata.png_bytes`; it is staged next to ``path`` and moved over
    it (see :class:`StagedFile`): on any error an existing file at ``path`` is left as it was
    and no temporary file remains. Missing parent folders are created.

    Args:
        image: the image (any mode Pillow can write as PNG).
        path: where to write; an existing file is replaced.
        parameters: the text to store, usually from :func:`huatu.metadata.format_parameters`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: Pillow cannot encode the image, or the file cannot be written.
    """
    target = Path(path)
    data = png_bytes(image, parameters)
    with StagedFile(target.parent) as staged:
        staged.write(data)
        return staged.publish(target)


def save_png(
    image: Image,
    parameters: str,
    *,
    seed: int,
    outputs_dir: Path,
    folder: Path | None = None,
) -> Path:
    """Save a new image without a history row: named by :func:`image_names`, never replacing
    a file, written as :func:`write_png` writes.

    Args:
        image: the image (any mode Pillow can write as PNG).
        parameters: the A1111 text to embed.
        seed: the seed this very image used (part of its name).
        outputs_dir: the outputs folder, for the default folder.
        folder: where to write. Default :func:`dated_folder` of ``outputs_dir``.

    Returns:
        The new file (absolute).

    Raises:
        StorageError: the file could not be written (e.g. the disk is full).
    """
    when = clock()
    target = Path(os.path.abspath(folder or dated_folder(outputs_dir, when)))
    data = png_bytes(image, parameters)
    with StagedFile(target) as staged:
        try:
            staged.write(data)
            return staged.publish(next(image_names(target, seed, when)))
        except HuatuError:
            raise
        except OSError as exc:
            raise save_error(target, exc) from exc


def write_fully(descriptor: int, data: bytes) -> None:
    """Write all of ``data`` to ``descriptor`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def sync_folder(folder: Path) -> None:
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


def owner_alive(temp_name: str, age_s: float) -> bool:
    """Whether the save that wrote the temporary file ``temp_name`` may still be running.

    Args:
        temp_name: the file's name (a name not matching :data:`TEMP_RE` has no owner).
        age_s: how long ago the save started or the file was written, in seconds.
    """
    match = TEMP_RE.fullmatch(temp_name)
    if match is None:
        return False
    host, pid, token = match["host"], int(match["pid"]), match["token"]
    if host == HOST_ID and pid == os.getpid():
        with _IN_FLIGHT_LOCK:
            return token in _IN_FLIGHT
    if age_s > STALE_AFTER_S:
        return False
    if host != HOST_ID or os.name != "posix":
        return True  # cannot check that process: wait until the save is stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists but belongs to someone else
        return True
    return True


# --------------------------------------------------------------------------------------------
# Failures


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))


def reason(exc: BaseException) -> Notice | str:
    """Why a file or database operation failed, for a sentence's ``reason``: "the disk is
    full" from the catalog, else the system's or SQLite's own words."""
    if is_disk_full(exc):
        return Notice("storage_disk_full")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    text = str(exc).strip().rstrip(".")
    return text or type(exc).__name__


def save_error(folder: Path, exc: OSError) -> StorageError:
    """The error of a save into ``folder`` that failed with ``exc``."""
    if is_disk_full(exc):
        return StorageError("history_disk_full", folder=str(folder))
    return StorageError("history_save_failed", folder=str(folder), reason=reason(exc))
