"""The file hashes AUTOMATIC1111 writes into image metadata, so model sites and A1111 match
an image to its files: ``Model hash`` and ``VAE hash`` (the first 10 hex digits of the file's
sha256), ``TI hashes`` (12 digits), ``Lora hashes`` (12 digits of kohya's "addnet" hash: the
sha256 of a ``.safetensors`` file's tensor data, after its header, so editing the metadata
keeps the hash).

Hashing a checkpoint reads gigabytes, so each hash is computed once per version of a file
(path, size, modification time) and kept in a JSON file in huatu's cache folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

#: Hex digits of ``Model hash`` and ``VAE hash`` (A1111's short hash).
MODEL_HASH_DIGITS = 10
#: Hex digits of the ``Lora hashes`` and ``TI hashes`` entries.
ADAPTER_HASH_DIGITS = 12
_CHUNK = 1024 * 1024


def sha256_of(path: Path, *, after_header: bool = False) -> str:
    """The sha256 of the file at ``path`` (hex). ``after_header``: of what follows a
    ``.safetensors`` header only (kohya's addnet hash). Default: the whole file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if after_header:
            handle.seek(8 + int.from_bytes(handle.read(8), "little"))
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class HashCache:
    """sha256 hashes of files, computed once per file version and kept in ``store``.

    Args:
        store: the JSON file that keeps them (created on first write).
    """

    def __init__(self, store: Path) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._known: dict[str, dict] | None = None

    def full(self, path: Path) -> str:
        """The sha256 of the whole file (``Model hash``, ``VAE hash``, ``TI hashes``)."""
        return self._hash(path, after_header=False)

    def addnet(self, path: Path) -> str:
        """kohya's addnet hash of a ``.safetensors`` LoRA (``Lora hashes``); the whole
        file's sha256 for another format."""
        return self._hash(path, after_header=path.suffix.lower() == ".safetensors")

    def known_full(self, path: Path) -> str | None:
        """The whole file's sha256 if it was computed for this version of the file (a listing
        shows it without reading gigabytes), else ``None``."""
        try:
            stat = path.stat()
        except OSError:
            return None
        with self._lock:
            entry = self._load().get(f"sha256:{path.resolve()}")
        if (
            entry
            and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns
        ):
            return entry["sha256"]
        return None

    def _hash(self, path: Path, *, after_header: bool) -> str:
        version = _version(path.stat())
        key = f"{'addnet' if after_header else 'sha256'}:{path.resolve()}"
        with self._lock:
            known = self._known_hash(key, version)
        if known is not None:
            return known
        value = sha256_of(path, after_header=after_header)  # outside the lock: slow
        with self._lock:
            self._load()[key] = {**version, "sha256": value}
            self._save()
        return value

    def _known_hash(self, key: str, version: dict[str, int]) -> str | None:
        """The kept hash of ``key`` if it was computed for this ``version`` (under the lock)."""
        entry = self._load().get(key)
        if isinstance(entry, dict) and all(entry.get(k) == v for k, v in version.items()):
            return entry.get("sha256")
        return None

    def _load(self) -> dict[str, dict]:
        if self._known is None:
            try:
                found = json.loads(self.store.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                found = {}
            self._known = found if isinstance(found, dict) else {}
        return self._known

    def _save(self) -> None:
        """Write the hashes atomically (a temporary file renamed over the store)."""
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=self.store.parent, prefix=".hashes-")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(self._known, out)
            os.replace(name, self.store)
        except OSError:  # a read-only cache: hashes are recomputed next time
            log.warning("could not keep file hashes in %s", self.store, exc_info=True)


def _version(stat: os.stat_result) -> dict[str, int]:
    """What identifies one version of a file: its size and modification time."""
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def short(value: str, digits: int = MODEL_HASH_DIGITS) -> str:
    """The first ``digits`` hex digits of a hash (A1111's short form)."""
    return value[:digits]


_caches: dict[Path, HashCache] = {}
_caches_lock = threading.Lock()


def hashes_for(cache_dir: Path) -> HashCache:
    """The one :class:`HashCache` of huatu's cache folder ``cache_dir`` in this process."""
    store = Path(cache_dir).expanduser().resolve() / "hashes.json"
    with _caches_lock:
        return _caches.setdefault(store, HashCache(store))
