"""A model, named as a person names it, found and loaded as a diffusers pipeline.

A model is the built-in ``tiny``, a checkpoint of the models folder (a single ``.safetensors``
file or a diffusers folder, by name), a folder given on the command line, or a Hugging Face
Hub id. Its family (:mod:`huatu.models.recognise`) picks the pipeline class; single files go
through ``from_single_file``, folders and Hub ids through ``from_pretrained``.

torch and diffusers are imported when a model is loaded, never at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huatu.config import TINY_MODEL
from huatu.errors import ModelLoadError
from huatu.models.download import load_failure, pulled_folder
from huatu.models.folders import CHECKPOINT, ModelFile, ModelLibrary
from huatu.models.recognise import (
    Recognised,
    recognise_file,
    recognise_folder,
    recognise_pipeline,
)

if TYPE_CHECKING:
    from huatu.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights are, and what it is when that is known before loading.

    Attributes:
        model: the model as named (``tiny``, a models-folder name, a folder, a Hub id).
        location: what diffusers loads: a file, a folder or a Hub id.
        file: the models-folder entry, when the model is one (for its hash and size).
        recognised: its family, known from its files (``None`` for a Hub id not loaded yet).
    """

    model: str
    location: str | Path
    file: ModelFile | None = None
    recognised: Recognised | None = None

    @property
    def single_file(self) -> bool:
        """Whether it is one checkpoint file (loaded with ``from_single_file``)."""
        return isinstance(self.location, Path) and self.location.is_file()


def find_model(model: str, settings: Settings, library: ModelLibrary) -> ModelSource:
    """Where ``model`` is: the tiny model, a checkpoint of ``library`` (by name), a path on
    this machine (only ever from the command line or settings), a Hub id's copy fetched into
    the models folder, else a Hub id.

    Raises:
        ModelLoadError: the file or folder is not a model huatu can run, or a pickle file
            without ``--allow-pickle``.
    """
    if model == TINY_MODEL:
        from huatu.backends.tiny import ensure_tiny_model

        return ModelSource(model, ensure_tiny_model(settings.cache_dir), None, Recognised("tiny"))
    found = library.find(CHECKPOINT, model)
    path = found.path if found is not None else Path(model).expanduser()
    if found is None and not path.exists():
        pulled = pulled_folder(model, settings)  # fetched into the models folder before
        if pulled is None:
            return ModelSource(model, model)
        return ModelSource(model, pulled, None, recognise_folder(pulled))
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ModelLoadError("model_not_diffusers_folder", model=model)
        return ModelSource(model, path, found, recognise_folder(path))
    if path.suffix.lower() != ".safetensors" and not settings.allow_pickle:
        raise ModelLoadError("model_pickle_refused", model=model)
    return ModelSource(model, path, found, recognise_file(path))


def check_model(model: str, settings: Settings) -> None:
    """Refuse ``model`` when its files show it cannot be run (:func:`find_model`'s checks),
    without loading it.

    Raises:
        ModelLoadError: the sentence names the file and why.
    """
    from huatu.models.folders import library_for

    find_model(model, settings, library_for(settings))


def load_pipeline(source: ModelSource, settings: Settings, dtype: Any) -> tuple[Any, Recognised]:
    """Load ``source`` as its family's text-to-image pipeline, in ``dtype`` (on the CPU).

    Returns the pipeline and what it is.

    Raises:
        ModelLoadError: it could not be loaded (the sentence names it and what to do).
    """
    import diffusers
    from diffusers.utils import logging as diffusers_logging

    from huatu.models.families import family

    diffusers_logging.disable_progress_bar()
    safe = None if settings.allow_pickle else True
    recognised = source.recognised
    try:
        if recognised is None:  # a Hub id: its classes say what it is once downloaded
            pipe = diffusers.AutoPipelineForText2Image.from_pretrained(
                source.location, dtype=dtype, use_safetensors=safe
            )
            recognised = recognise_pipeline(source.model, pipe)
        else:
            pipeline_class = getattr(diffusers, family(recognised.family).pipeline)
            if source.single_file:
                pipe = pipeline_class.from_single_file(
                    str(source.location),
                    dtype=dtype,
                    **_single_file_options(pipeline_class, recognised, settings),
                )
            else:
                pipe = pipeline_class.from_pretrained(
                    source.location, dtype=dtype, use_safetensors=safe
                )
    except ModelLoadError:
        raise
    except Exception as error:  # an edge: many libraries' errors become one sentence
        log.info("loading %s failed", source.model, exc_info=True)
        damaged = damaged_weights(error, source.location)
        if damaged is not None:
            raise ModelLoadError(
                "model_weights_damaged", model=source.model, file=damaged
            ) from None
        if not settings.allow_pickle and "safetensors" in str(error):
            raise ModelLoadError("model_pickle_refused", model=source.model) from None
        raise load_failure(source.model, error) from None
    pipe.set_progress_bar_config(disable=True)
    return pipe, recognised


def damaged_weights(error: Exception, location: str | Path) -> str | None:
    """The weights file that ``error`` says could not be read (diffusers' "Unable to load
    weights from checkpoint file …"), relative to the model's ``location`` where it lies
    inside it; ``None`` for any other error."""
    import re

    said = str(error)
    if "Unable to load weights from checkpoint file" not in said:
        return None
    named = re.search(r"'([^']+\.(?:safetensors|bin|ckpt|pt))'", said)
    if named is None:
        return "?"
    path = Path(named.group(1))
    try:
        return str(path.resolve().relative_to(Path(location).resolve()))
    except (ValueError, OSError):
        return path.name


def _single_file_options(
    pipeline_class: Any, recognised: Recognised, settings: Settings
) -> dict[str, Any]:
    """``from_single_file`` options: the tiny model's layout comes from its own folder (no
    download); a real family's configs come from its original repository on the Hub (a few
    kilobytes, cached). No safety checker is loaded for a single file, as in A1111: the person
    chose the file, and the checker would be a 1.2 GB download of its own."""
    import inspect

    options: dict[str, Any] = {}
    if recognised.family == "tiny":
        from huatu.backends.tiny import ensure_tiny_model

        options.update(config=str(ensure_tiny_model(settings.cache_dir)), local_files_only=True)
    if "safety_checker" in inspect.signature(pipeline_class.__init__).parameters:
        options.update(safety_checker=None, requires_safety_checker=False)
    return options
