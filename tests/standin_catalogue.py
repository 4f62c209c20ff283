"""What the stand-in Hub says about models, and the answers of providers other than
``hf-inference``, shaped as Hugging Face's Hub API and router answer today.

* ``GET /api/models/{owner}/{name}?expand=inferenceProviderMapping`` -> the model's info with
  its provider mapping as an object keyed by provider (``{"fal-ai": {"status": "live",
  "providerId": "fal-ai/flux/schnell", "task": "text-to-image"}, ...}``), in the order the
  person set their providers; a model the Hub does not have -> 404 with
  ``X-Error-Code: RepoNotFound``;
* ``GET /api/models?pipeline_tag=...&inference_provider=...&sort=likes&limit=N`` -> a list of
  models served for the task (by that provider, or any for ``all``), most liked first;
* ``POST /fal-ai/{provider_id}`` -> fal-ai's JSON, ``{"images": [{"url": ..., ...}], "seed":
  ...}``, whose URL the client then fetches (``GET /files/{name}.png``);
* ``POST /v1/chat/completions`` -> an OpenAI-style chat completion.

:data:`TODAY` is the catalogue as the issue found it: SD 1.5 and opus-mt-zh-en on the Hub but
served by no provider, FLUX.1 [schnell] served by fal-ai and hf-inference.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Mapping:
    """One provider serving a model: ``provider``, its ``provider_id``, the ``task`` and the
    ``status`` (``live``, ``staging`` or ``error``)."""

    provider: str
    provider_id: str
    task: str
    status: str = "live"


@dataclass(frozen=True)
class HubModel:
    """A model on the stand-in Hub: its ``id``, ``pipeline_tag``, ``likes`` and the providers
    serving it, in the person's order."""

    id: str
    pipeline_tag: str
    likes: int
    mappings: tuple[Mapping, ...] = field(default_factory=tuple)

    def info(self) -> dict[str, Any]:
        """The model-info answer with ``inferenceProviderMapping`` expanded."""
        mapping = {
            item.provider: {
                "status": item.status,
                "providerId": item.provider_id,
                "task": item.task,
            }
            for item in self.mappings
        }
        return {"_id": f"id-{self.id}", "id": self.id, "inferenceProviderMapping": mapping}

    def served_for(self, task: str, provider: str) -> bool:
        """Whether a live mapping serves ``task`` (by ``provider``, any for ``all``)."""
        return any(
            item.task == task and item.status == "live" and provider in ("all", item.provider)
            for item in self.mappings
        )


SCHNELL = "black-forest-labs/FLUX.1-schnell"
FLUX_DEV = "black-forest-labs/FLUX.1-dev"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
OPUS = "Helsinki-NLP/opus-mt-zh-en"
QWEN = "Qwen/Qwen2.5-7B-Instruct"
T2I = "text-to-image"

TODAY: tuple[HubModel, ...] = (
    HubModel(
        SCHNELL,
        T2I,
        4500,
        (Mapping("fal-ai", "fal-ai/flux/schnell", T2I), Mapping("hf-inference", SCHNELL, T2I)),
    ),
    HubModel(FLUX_DEV, T2I, 11800, (Mapping("fal-ai", "fal-ai/flux/dev", T2I),)),
    HubModel(SDXL, T2I, 7100, (Mapping("hf-inference", SDXL, T2I),)),
    HubModel("stabilityai/sd-turbo", T2I, 800, (Mapping("hf-inference", "x", T2I, "staging"),)),
    HubModel(SD15, T2I, 900),
    HubModel(OPUS, "translation", 500),
    HubModel(QWEN, "text-generation", 900, (Mapping("together", QWEN, "conversational"),)),
)


def listing(models: tuple[HubModel, ...], query: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The ``/api/models`` answer for ``query`` (pipeline_tag, inference_provider, limit)."""
    task = (query.get("pipeline_tag") or [""])[0]
    provider = (query.get("inference_provider") or ["all"])[0]
    limit = int((query.get("limit") or ["1000"])[0])
    served = [model for model in models if model.pipeline_tag == task]
    served = [model for model in served if model.served_for(task, provider)]
    served.sort(key=lambda model: model.likes, reverse=True)
    return [
        {"_id": f"id-{m.id}", "id": m.id, "likes": m.likes, "pipeline_tag": m.pipeline_tag}
        for m in served[:limit]
    ]


def fal_answer(url: str, width: int, height: int, seed: int | None) -> dict[str, Any]:
    """fal-ai's text-to-image answer: the image as a URL to fetch."""
    return {
        "images": [{"url": url, "width": width, "height": height, "content_type": "image/png"}],
        "timings": {"inference": 0.1},
        "seed": seed,
        "has_nsfw_concepts": [False],
        "prompt": "",
    }


def chat_answer(model: str, content: str) -> dict[str, Any]:
    """An OpenAI-style chat completion holding ``content``."""
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
