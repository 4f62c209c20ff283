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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from huatu.models.folders import CHECKPOINT, SUBFOLDERS

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
    index = plain / ".huatu-source"
    if not plain.exists() or (index.is_file() and index.read_text().strip() == model_id):
        return plain
    return base / f"{owner}--{name}"


def pull(model_id: str, settings: Settings, *, half: bool = False) -> Path:
    """Fetch ``model_id`` into the models folder and return its folder.

    Raises:
        ModelLoadError: the Hub does not have it, it is gated, it is not a diffusers
            pipeline, or it could not be downloaded (the sentence says which).
    """
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download
    from huggingface_hub.utils import enable_progress_bars

    from huatu.errors import ModelLoadError
    from huatu.models.loading import load_failure

    token = settings.hf_api_key
    folder = target_folder(model_id, settings)
    try:
        info = HfApi(endpoint=settings.hf_endpoint, token=token).model_info(model_id)
        files = [sibling.rfilename for sibling in info.siblings or []]
        if "model_index.json" not in files:
            raise ModelLoadError("pull_not_diffusers", model=model_id)
        hub = {"token": token, "endpoint": settings.hf_endpoint}
        index_path = hf_hub_download(model_id, "model_index.json", local_dir=folder, **hub)
        index = json.loads(Path(index_path).read_text(encoding="utf-8"))
        components = [name for name, value in index.items() if isinstance(value, list)]
        enable_progress_bars()
        snapshot_download(
            model_id,
            allow_patterns=needed_files(files, components, half=half),
            local_dir=folder,
            **hub,
        )
    except ModelLoadError:
        raise
    except Exception as error:  # the Hub's and the network's errors become one sentence
        raise load_failure(model_id, error) from None
    (folder / ".huatu-source").write_text(model_id + "\n", encoding="utf-8")
    return folder
