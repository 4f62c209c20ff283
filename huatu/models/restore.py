"""The files an image was made with, read back from its A1111 metadata: which of them the
models folders hold (to load them again) and which are missing (to say so).

``Model`` / ``Model hash`` name the checkpoint (found by name, or by a hash already known),
``VAE`` the VAE (none: the model's own; ``TAESD``: the Fast path's, nothing to load), the
prompt's ``<lora:…>`` tags the LoRAs, ``TI hashes`` the embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from huatu.models.folders import CHECKPOINT, EMBEDDING, LORA, VAE, ModelLibrary
from huatu.models.hashes import HashCache, short
from huatu.prompts.syntax import extra_networks

#: The ``VAE`` value of the Fast path's decoder (nothing to load).
TAESD_VAE = "TAESD"


@dataclass
class FilesUsed:
    """What an image used.

    Attributes:
        model: the model to load to make it again (a listed name), or ``None`` when it is
            not here (then named in ``missing``) or not recorded.
        vae: the VAE file to decode with, or ``None``: the model's own (or a missing one).
        vae_missing: it used a VAE file that is not here (the one in use then stays).
        missing: what is not here, each as ``kind name`` (``LoRA watercolor``).
    """

    model: str | None = None
    vae: str | None = None
    vae_missing: bool = False
    missing: list[str] = field(default_factory=list)


def files_used(
    settings: Mapping[str, str],
    prompt: str,
    library: ModelLibrary,
    hashes: HashCache,
    known_models: Sequence[str] = (),
) -> FilesUsed:
    """What the image whose metadata ``settings`` and ``prompt`` are used, and which of it is
    missing.

    Args:
        settings: the parsed ``Key: value`` settings (``Model``, ``Model hash``, ``VAE`` …).
        prompt: its prompt (``<lora:…>`` tags).
        library: the models folders.
        hashes: file hashes (only hashes already known are compared: nothing is read).
        known_models: models that are not files here but can be loaded by name (``tiny``,
            Hub ids, folders given at start). Default none.
    """
    used = FilesUsed()
    model, model_hash = settings.get("Model"), settings.get("Model hash")
    if model or model_hash:
        used.model = _checkpoint(model, model_hash, library, hashes, known_models)
        if used.model is None:
            used.missing.append(
                f"checkpoint {model or ''} {f'[{model_hash}]' if model_hash else ''}".strip()
            )
    vae = settings.get("VAE")
    if vae and vae != TAESD_VAE:
        found = library.find(VAE, vae)
        used.vae = found.name if found is not None else None
        if found is None:
            used.vae_missing = True
            used.missing.append(f"VAE {vae}")
    try:
        _, tags = extra_networks(prompt)
    except ValueError:
        tags = []
    for tag in tags:
        if tag.kind == "lora" and library.find(LORA, tag.name) is None:
            used.missing.append(f"LoRA {tag.name}")
    for item in (settings.get("TI hashes") or "").split(","):
        name = item.split(":")[0].strip()
        if name and library.find(EMBEDDING, name) is None:
            used.missing.append(f"embedding {name}")
    return used


def _checkpoint(
    model: str | None,
    model_hash: str | None,
    library: ModelLibrary,
    hashes: HashCache,
    known_models: Sequence[str],
) -> str | None:
    """The listed checkpoint an image names: by name, else by a hash already known (a file
    renamed since); else a model loadable by name (``known_models``)."""
    found = library.find(CHECKPOINT, model) if model else None
    if found is not None:
        return found.name
    if model_hash:
        for candidate in library.files(CHECKPOINT):
            known = None if candidate.is_folder else hashes.known_full(candidate.path)
            if known is not None and short(known) == model_hash.lower():
                return candidate.name
    if model and model in known_models:
        return model
    return None
