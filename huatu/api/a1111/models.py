"""A1111's model listings (``SDModelItem`` of ``/sd-models``) for huatu's models.

A checkpoint of the models folders is listed as A1111 lists it: ``title`` ``name [hash]``
(the hash once it is known: computed when the file was loaded, as A1111 does), ``model_name``
without extension, ``hash`` and ``sha256``. ``filename`` is the name below the models folder,
never the server's path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from huatu.models.folders import CHECKPOINT, EMBEDDING, LORA, library_for
from huatu.models.hashes import hashes_for, short

if TYPE_CHECKING:
    from huatu.config import Settings


def checkpoint(model: str, settings: Settings) -> dict[str, Any]:
    """A1111's ``SDModelItem`` for a huatu model (models-folder name, Hub id, folder or
    ``tiny``)."""
    found = library_for(settings).find(CHECKPOINT, model)
    if found is None:
        name = Path(model.rstrip("/\\")).name or model
        return {
            "title": model,
            "model_name": name,
            "hash": None,
            "sha256": None,
            "filename": model,
            "config": None,
        }
    sha256 = None if found.is_folder else hashes_for(settings.cache_dir).known_full(found.path)
    return {
        "title": f"{found.name} [{short(sha256)}]" if sha256 else found.name,
        "model_name": found.stem,
        "hash": short(sha256) if sha256 else None,
        "sha256": sha256,
        "filename": found.name,
        "config": None,
    }


def matching_model(wanted: str, models: list[str], settings: Settings) -> str | None:
    """The model of ``models`` that an A1111 client means by ``wanted`` (its title, its name
    with or without extension, any case), or ``None``."""
    wanted = wanted.strip().lower()
    for model in models:
        item = checkpoint(model, settings)
        names = (item["title"], item["model_name"], item["filename"], model)
        if wanted in (name.lower() for name in names):
            return model
    return None


def lora_items(settings: Settings) -> list[dict[str, Any]]:
    """A1111's ``/loras`` list: each LoRA of the models folders by the name a prompt writes
    (``<lora:name:weight>``); ``path`` is its name below the folder, never the server's
    path."""
    return [
        {"name": found.name, "alias": found.name, "path": found.path.name, "metadata": {}}
        for found in library_for(settings).files(LORA)
    ]


def embedding_items(settings: Settings, width: int | None) -> dict[str, Any]:
    """A1111's ``/embeddings`` answer: the embeddings whose vectors fit the loaded model's
    text encoder (``width``: its last one's, for SDXL) under ``loaded``, the others under
    ``skipped``; each with its vector count and width (an SDXL file's ``clip_g``), read from
    the file's header."""
    from huatu.errors import ModelLoadError
    from huatu.models.recognise import safetensors_header

    answer: dict[str, dict[str, Any]] = {"loaded": {}, "skipped": {}}
    for found in library_for(settings).files(EMBEDDING):
        try:
            header = safetensors_header(found.path)
        except ModelLoadError:
            header = {}
        shapes = [info.get("shape") for key, info in header.items() if key != "clip_l"]
        shape = next((shape for shape in shapes if shape and len(shape) == 2), None)
        vectors, size = (shape[0], shape[1]) if shape else (None, None)
        item = {
            "step": None,
            "sd_checkpoint": None,
            "sd_checkpoint_name": None,
            "shape": size,
            "vectors": vectors,
        }
        answer["loaded" if size is not None and size == width else "skipped"][found.name] = item
    return answer
