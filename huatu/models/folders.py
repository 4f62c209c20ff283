"""The models folder (AUTOMATIC1111's layout) and other installs' folders: which checkpoints,
LoRAs, VAEs and embeddings are there, and one looked up by name.

Files are used where they are, never copied. A name is looked up among the files found; it is
never joined into a path, so no request can make huatu read a file outside these folders.
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from huatu.errors import UnknownModelError

if TYPE_CHECKING:
    from huatu.config import Settings

CHECKPOINT, LORA, VAE, EMBEDDING = "checkpoint", "lora", "vae", "embedding"
KINDS = (CHECKPOINT, LORA, VAE, EMBEDDING)

#: Each kind's folder names: AUTOMATIC1111 and Forge first, then ComfyUI. Each is looked for
#: in a root and in its ``models/`` folder (A1111 keeps ``embeddings/`` at its top).
SUBFOLDERS: dict[str, tuple[str, ...]] = {
    CHECKPOINT: ("Stable-diffusion", "checkpoints"),
    LORA: ("Lora", "loras"),
    VAE: ("VAE", "vae"),
    EMBEDDING: ("embeddings",),
}
#: Weight files huatu reads without running code.
SAFE_SUFFIXES = (".safetensors",)
#: Pickle formats, read only with ``--allow-pickle`` (loading one can run code in it).
PICKLE_SUFFIXES = (".ckpt", ".pt", ".bin", ".pth")
#: Most close matches an unknown name's error lists.
CLOSE_MATCHES = 5


@dataclass(frozen=True)
class ModelFile:
    """One model found in a folder.

    Attributes:
        kind: ``checkpoint``, ``lora``, ``vae`` or ``embedding``.
        name: how it is named: a checkpoint or VAE by its path below its kind's folder
            (``sub/dream.safetensors``, a diffusers folder ``sdxl-turbo``), a LoRA or an
            embedding by its file name without extension (what a prompt writes).
        path: the file or diffusers folder.
        size: bytes (a folder: its files together).
    """

    kind: str
    name: str
    path: Path
    size: int

    @property
    def stem(self) -> str:
        """The name without the file extension (A1111's ``model_name``)."""
        suffix = self.path.suffix if self.path.is_file() else ""
        return self.name[: -len(suffix)] if suffix and self.name.endswith(suffix) else self.name

    @property
    def is_folder(self) -> bool:
        """Whether it is a diffusers folder rather than one file."""
        return self.path.is_dir()

    @property
    def is_pickle(self) -> bool:
        """Whether it is in a pickle format (``.ckpt``, ``.pt`` …)."""
        return self.path.suffix.lower() in PICKLE_SUFFIXES


#: The file in a fetched folder naming the Hub id it is a complete copy of
#: (:mod:`huatu.models.download`).
SOURCE_MARK = ".huatu-source"


def kind_folders(roots: Iterable[Path], kind: str) -> list[Path]:
    """Every existing folder of ``kind`` under ``roots``, in order, each once."""
    found: list[Path] = []
    for root in roots:
        for sub in SUBFOLDERS[kind]:
            for folder in (root / sub, root / "models" / sub):
                if folder.is_dir() and all(not folder.samefile(seen) for seen in found):
                    found.append(folder)
    return found


class ModelLibrary:
    """The models under the models folder and the extra folders, scanned on first use and
    again on :meth:`refresh`.

    Args:
        roots: the models folder (``HUATU_MODELS_DIR``) then the extra folders
            (``HUATU_EXTRA_MODEL_DIRS``): each an A1111/Forge/ComfyUI install or its
            ``models`` folder.
        allow_pickle: also list pickle-format files. Default off: ``.safetensors`` only.
    """

    def __init__(self, roots: Iterable[Path], *, allow_pickle: bool = False) -> None:
        self.roots = tuple(Path(root).expanduser() for root in roots)
        self.allow_pickle = allow_pickle
        self._lock = threading.Lock()
        self._files: dict[str, list[ModelFile]] | None = None

    def refresh(self) -> None:
        """Scan the folders again (new, renamed and removed files)."""
        scanned = {kind: self._scan(kind) for kind in KINDS}
        with self._lock:
            self._files = scanned

    def files(self, kind: str) -> list[ModelFile]:
        """The models of ``kind``, sorted by name (the first of two with one name wins)."""
        with self._lock:
            files = self._files
        if files is None:
            self.refresh()
            with self._lock:
                files = self._files or {}
        return list(files.get(kind, []))

    def names(self, kind: str) -> list[str]:
        """The names of the models of ``kind``."""
        return [found.name for found in self.files(kind)]

    def find(self, kind: str, name: str) -> ModelFile | None:
        """The model of ``kind`` called ``name``, or ``None``.

        A checkpoint is found by its name, its name without extension, or A1111's title
        (``name [hash]``); a LoRA or embedding by its name; case is ignored when only one
        model matches that way.
        """
        wanted = name.strip()
        if kind == CHECKPOINT and wanted.endswith("]") and " [" in wanted:
            wanted = wanted.rsplit(" [", 1)[0]
        files = self.files(kind)
        for match in (str.__eq__, lambda a, b: a.lower() == b.lower()):
            hits = [
                found
                for found in files
                if match(found.name, wanted) or (kind == CHECKPOINT and match(found.stem, wanted))
            ]
            if len(hits) == 1 or (hits and match is str.__eq__):
                return hits[0]
        return None

    def get(self, kind: str, name: str) -> ModelFile:
        """:meth:`find`, or an error naming ``name`` and the closest names there are.

        Raises:
            UnknownModelError: no model of ``kind`` is called ``name``.
        """
        found = self.find(kind, name)
        if found is None:
            raise UnknownModelError(kind, name, self.close_matches(kind, name))
        return found

    def close_matches(self, kind: str, name: str) -> list[str]:
        """Up to :data:`CLOSE_MATCHES` names of ``kind`` like ``name`` (or the first ones)."""
        names = self.names(kind)
        close = difflib.get_close_matches(name, names, n=CLOSE_MATCHES, cutoff=0.5)
        return close or names[:CLOSE_MATCHES]

    def _scan(self, kind: str) -> list[ModelFile]:
        suffixes = SAFE_SUFFIXES + (PICKLE_SUFFIXES if self.allow_pickle else ())
        by_name: dict[str, ModelFile] = {}
        for folder in kind_folders(self.roots, kind):
            for found in _walk(folder, kind, suffixes):
                by_name.setdefault(found.name, found)
        return sorted(by_name.values(), key=lambda found: found.name.lower())


def _walk(folder: Path, kind: str, suffixes: tuple[str, ...]) -> list[ModelFile]:
    """The models of ``kind`` in ``folder`` and its subfolders (a diffusers folder is one
    model; hidden files and folders are skipped)."""
    found: list[ModelFile] = []
    marker = "model_index.json" if kind == CHECKPOINT else "config.json"
    for here, dirs, files in os.walk(folder):
        base = Path(here)
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        if kind in (CHECKPOINT, VAE) and base != folder and marker in files:
            dirs[:] = []
            if (base / ".cache" / "huggingface").is_dir() and SOURCE_MARK not in files:
                continue  # still being fetched (huatu models pull)
            size = sum(path.stat().st_size for path in base.rglob("*") if path.is_file())
            found.append(ModelFile(kind, base.relative_to(folder).as_posix(), base, size))
            continue
        for name in sorted(files):
            path = base / name
            if name.startswith(".") or path.suffix.lower() not in suffixes:
                continue
            relative = path.relative_to(folder).as_posix()
            label = relative if kind in (CHECKPOINT, VAE) else path.stem
            try:
                size = path.stat().st_size
            except OSError:  # a broken link
                continue
            found.append(ModelFile(kind, label, path, size))
    return found


_libraries: dict[tuple, ModelLibrary] = {}
_libraries_lock = threading.Lock()


def library_for(settings: Settings) -> ModelLibrary:
    """The one :class:`ModelLibrary` of ``settings``' folders in this process (every edge and
    backend sees the same files and the same refresh)."""
    roots = (settings.models_dir, *settings.extra_model_dirs)
    key = (tuple(str(Path(root).expanduser().resolve()) for root in roots), settings.allow_pickle)
    with _libraries_lock:
        if key not in _libraries:
            _libraries[key] = ModelLibrary(roots, allow_pickle=settings.allow_pickle)
        return _libraries[key]


def size_text(size: int) -> str:
    """A file size for people: ``2.1 GB``, ``144 MB``, ``0.3 MB``."""
    if size >= 2**30:
        return f"{size / 2**30:.1f} GB"
    return f"{size / 2**20:.1f} MB" if size < 10 * 2**20 else f"{size / 2**20:.0f} MB"
