"""Models fetched from the Hugging Face Hub by id into the models folder (``huatu models
pull``): only what the pipeline needs — ``model_index.json``, each component's configs and
tokenizer files, and one set of ``.safetensors`` weights per component in one precision — never
the repository's other copies (single-file checkpoints, ``.bin``/``.ckpt``, ONNX, Flax, the
other precision). huggingface_hub downloads them with its progress bars (bytes, speed, time
left) and resumes an interrupted file where it stopped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from huatu.config import is_hub_id
from huatu.errors import ModelLoadError
from huatu.models.folders import CHECKPOINT, SOURCE_MARK, SUBFOLDERS

if TYPE_CHECKING:
    from huatu.config import Settings

#: Files of a component folder that are configs or tokenizer data.
CONFIG_SUFFIXES = (".json", ".txt", ".model")
#: Files of the repository's top that travel with the model (its licence and card).
TOP_FILES = ("model_index.json", "README.md", "LICENSE", "LICENSE.md", "LICENSE.txt")
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.safetensors$")


@dataclass(frozen=True)
class Recommendation:
    """A model worth having, with its licence as its model card states it.

    Attributes:
        id: its Hub id. family: its family id. licence: its licence. why: one line.
    """

    id: str
    family: str
    licence: str
    why: str


RECOMMENDED: tuple[Recommendation, ...] = (
    Recommendation(
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        "sd1",
        "CreativeML OpenRAIL-M",
        "the default: 512×512, every LoRA and embedding made for SD 1.5",
    ),
    Recommendation(
        "SimianLuo/LCM_Dreamshaper_v7",
        "lcm",
        "MIT",
        "an SD 1.5 distilled for 4 steps: seconds on a CPU",
    ),
    Recommendation(
        "IDKiro/sdxs-512-0.9",
        "sdxs",
        "OpenRAIL++",
        "one step and a tiny decoder at 512×512: the Fast preset in seconds on any CPU",
    ),
    Recommendation(
        "stabilityai/sd-turbo",
        "sd-turbo",
        "Stability AI Community License (commercial use: stability.ai/license)",
        "one step at 512×512",
    ),
    Recommendation(
        "stabilityai/stable-diffusion-xl-base-1.0",
        "sdxl",
        "CreativeML OpenRAIL++-M",
        "1024×1024 and SDXL's LoRAs; wants a GPU",
    ),
    Recommendation(
        "IDEA-CCNL/Taiyi-Stable-Diffusion-1B-Chinese-v0.1",
        "taiyi",
        "CreativeML OpenRAIL-M",
        "reads Chinese prompts as written",
    ),
)


def needed_files(files: list[str], components: list[str], *, half: bool = False) -> list[str]:
    """The files of a diffusers repository a pipeline needs.

    Args:
        files: every file of the repository (``unet/config.json`` …).
        components: the components its ``model_index.json`` names (``unet``, ``vae`` …).
        half: fetch the fp16 weights where the repository has them (for a GPU). Default
            off: full precision, falling back to fp16 where that is all there is.
    """
    wanted = [name for name in files if name in TOP_FILES]
    for component in components:
        inside = [name for name in files if name.startswith(f"{component}/")]
        wanted += [
            name
            for name in inside
            if name.endswith(CONFIG_SUFFIXES) and ".safetensors.index" not in name
        ]
        weights = [name for name in inside if name.endswith(".safetensors")]
        full = [name for name in weights if ".fp16" not in name]
        half_weights = [name for name in weights if ".fp16" in name]
        chosen = (half_weights or full) if half else (full or half_weights)
        wanted += chosen
        if any(_SHARD.search(name) for name in chosen):  # the index of the chosen shards
            variant = ".fp16" if chosen and ".fp16" in chosen[0] else ""
            wanted += [
                name
                for name in inside
                if name.endswith(f"{variant}.safetensors.index.json")
                and (variant or ".fp16" not in name)
            ]
    return sorted(dict.fromkeys(wanted))


def target_folder(model_id: str, settings: Settings) -> Path:
    """Where ``model_id`` goes: ``Stable-diffusion/<name>`` of the models folder, its owner
    added (``owner--name``) when another model already has that name."""
    base = settings.models_dir / SUBFOLDERS[CHECKPOINT][0]
    owner, _, name = model_id.rpartition("/")
    plain = base / name
    index = plain / SOURCE_MARK
    if not plain.exists() or (index.is_file() and index.read_text().strip() == model_id):
        return plain
    return base / f"{owner}--{name}"


@dataclass(frozen=True)
class PullPlan:
    """What fetching a model means: where it goes, which files, and how big they are.

    Attributes:
        model_id: its Hub id. folder: where it goes (:func:`target_folder`).
        files: the files to fetch (:func:`needed_files`).
        sizes: each file's size in bytes, where the Hub gives it.
    """

    model_id: str
    folder: Path
    files: tuple[str, ...]
    sizes: Mapping[str, int]

    @property
    def total(self) -> int:
        """Bytes to fetch, as far as the Hub says (0 when it gives no sizes)."""
        return sum(self.sizes.get(name, 0) for name in self.files)


def plan_pull(model_id: str, settings: Settings, *, half: bool = False) -> PullPlan:
    """Ask the Hub what ``model_id`` has, fetch its ``model_index.json`` and say what else
    :func:`fetch` will fetch.

    Args:
        model_id: a Hub id. settings: the models folder, endpoint and token.
        half: the fp16 weights where there are some (for a GPU). Default full precision.

    Raises:
        ModelLoadError: the Hub does not have it, it is gated, it is not a diffusers
            pipeline, or it could not be reached (the sentence says which).
    """
    from huggingface_hub import HfApi, hf_hub_download

    folder = target_folder(model_id, settings)
    with _hub_errors(model_id):
        api = HfApi(endpoint=settings.hf_endpoint, token=settings.hf_api_key)
        info = api.model_info(model_id, files_metadata=True)
        siblings = {sibling.rfilename: sibling.size for sibling in info.siblings or []}
        if "model_index.json" not in siblings:
            raise ModelLoadError("pull_not_diffusers", model=model_id)
        index_path = hf_hub_download(
            model_id,
            "model_index.json",
            local_dir=folder,
            token=settings.hf_api_key,
            endpoint=settings.hf_endpoint,
        )
        index = json.loads(Path(index_path).read_text(encoding="utf-8"))
    components = [name for name, value in index.items() if isinstance(value, list)]
    files = needed_files(list(siblings), components, half=half)
    sizes = {name: size for name, size in siblings.items() if size is not None}
    return PullPlan(model_id, folder, tuple(files), sizes)


def fetch(plan: PullPlan, settings: Settings) -> Path:
    """Fetch ``plan``'s files into its folder (with huggingface_hub's progress bars; a file
    left half-way is resumed) and mark the folder as ``plan.model_id``'s copy.

    Raises:
        ModelLoadError: the download failed (the sentence says why).
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import enable_progress_bars

    enable_progress_bars()
    with _hub_errors(plan.model_id):
        snapshot_download(
            plan.model_id,
            allow_patterns=list(plan.files),
            local_dir=plan.folder,
            token=settings.hf_api_key,
            endpoint=settings.hf_endpoint,
        )
    (plan.folder / SOURCE_MARK).write_text(plan.model_id + "\n", encoding="utf-8")
    return plan.folder


def pull(model_id: str, settings: Settings, *, half: bool = False) -> Path:
    """Fetch ``model_id`` into the models folder and return its folder (:func:`plan_pull`
    then :func:`fetch`; raises as they do)."""
    return fetch(plan_pull(model_id, settings, half=half), settings)


def pulled_folder(model_id: str, settings: Settings) -> Path | None:
    """The models folder's complete copy of ``model_id``, fetched by :func:`pull`, if any."""
    folder = target_folder(model_id, settings)
    mark = folder / SOURCE_MARK
    if mark.is_file() and mark.read_text(encoding="utf-8").strip() == model_id:
        return folder
    return None


def needs_download(model_id: str, settings: Settings) -> bool:
    """Whether ``model_id`` is a Hub id that is neither in the models folder (pulled) nor in
    huggingface_hub's cache, so loading it would first download gigabytes (never when
    huggingface_hub is told to stay offline, ``HF_HUB_OFFLINE``)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or not is_hub_id(model_id) or Path(model_id).expanduser().exists():
        return False
    if pulled_folder(model_id, settings) is not None:
        return False
    return not in_hub_cache(model_id)


def in_hub_cache(model_id: str) -> bool:
    """Whether the Hub model ``model_id`` is in huggingface_hub's cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    return is_hub_id(model_id) and isinstance(
        try_to_load_from_cache(model_id, "model_index.json"), str
    )


@contextmanager
def _hub_errors(model_id: str) -> Iterator[None]:
    """The Hub's and the network's errors as one sentence (:func:`load_failure`)."""
    try:
        yield
    except ModelLoadError:
        raise
    except Exception as error:
        raise load_failure(model_id, error) from None


def load_failure(model: str, error: Exception) -> ModelLoadError:
    """Why ``model`` did not load, and what to do instead."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    from huatu.messages import Notice

    remedy = Notice("model_remedy")
    if isinstance(error, GatedRepoError):
        return ModelLoadError("model_gated", model=model, remedy=remedy)
    if isinstance(error, RepositoryNotFoundError):
        return ModelLoadError("model_not_on_hub", model=model, remedy=remedy)
    if isinstance(error, (LocalEntryNotFoundError, OSError, ConnectionError)):
        return ModelLoadError("model_not_downloaded", model=model, remedy=remedy)
    kind = type(error).__name__
    return ModelLoadError("model_load_failed", model=model, kind=kind, remedy=remedy)
