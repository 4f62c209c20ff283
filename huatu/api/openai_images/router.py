"""The ``/v1`` routes (see :mod:`huatu.api.openai_images` for what they serve)."""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from huatu.api.openai_images.edits import form_body, parse_edit
from huatu.api.openai_images.errors import OpenAIError, OpenAIRoute, Refusal
from huatu.api.openai_images.parsing import (
    GENERATION_SCHEMA,
    ImagesCall,
    accepts_model,
    json_body,
    parse_generation,
    refused,
)
from huatu.api.outputs import output_url
from huatu.backends.base import CancelToken
from huatu.clients import http_client
from huatu.errors import ValidationError
from huatu.runs import finish_unless_disconnected
from huatu.slots import ANONYMOUS

if TYPE_CHECKING:
    from huatu.api.gate import ApiGate
    from huatu.service import ImageService

ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def create_router(service: ImageService, gate: ApiGate) -> APIRouter:
    """The OpenAI-compatible routes under ``/v1``.

    Args:
        service: the service that generates (its current model is the one served).
        gate: bounds API generations in flight; a request over it gets a 503 with
            ``Retry-After``.
    """

    class Route(OpenAIRoute):
        secrets = service.settings

    router = APIRouter(route_class=Route, tags=["OpenAI"])
    started = int(time.time())

    def model_object(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": started, "owned_by": "huatu"}

    @router.post("/v1/images/generations", openapi_extra=GENERATION_SCHEMA)
    async def images_generations(request: Request) -> JSONResponse:
        """Generate images from a prompt (OpenAI's ``images.generate``)."""
        call = parse_generation(await json_body(request), served_models())
        base_url = str(request.base_url)
        cancel = CancelToken()  # a client that goes away stops its run within a step
        client = http_client(request)
        work = run_in_threadpool(generate, service, gate, call, base_url, cancel, client)
        answer = await finish_unless_disconnected(work, request.is_disconnected, cancel.cancel)
        return JSONResponse(answer)

    @router.post("/v1/images/edits")
    async def images_edits(request: Request) -> JSONResponse:
        """Edit a picture (OpenAI's ``images.edit``): its transparent pixels (or the
        ``mask``'s) repainted from the prompt, the rest kept; without transparency, the
        picture varied by the prompt."""
        return await edit_or_vary(request, variation=False)

    @router.post("/v1/images/variations")
    async def images_variations(request: Request) -> JSONResponse:
        """Variations of a picture (OpenAI's ``images.create_variation``)."""
        return await edit_or_vary(request, variation=True)

    async def edit_or_vary(request: Request, *, variation: bool) -> JSONResponse:
        fields, files = await form_body(request)
        call = await run_in_threadpool(
            parse_edit, fields, files, served_models(), variation=variation
        )
        base_url = str(request.base_url)
        cancel = CancelToken()
        client = http_client(request)
        work = run_in_threadpool(generate, service, gate, call, base_url, cancel, client)
        answer = await finish_unless_disconnected(work, request.is_disconnected, cancel.cancel)
        return JSONResponse(answer)

    def served_models() -> list[str]:
        """The served model first, then every model a request may switch to."""
        return list(dict.fromkeys([service.choice.model, *service.known_models()]))

    @router.get("/v1/models")
    def list_models() -> dict[str, Any]:
        """The served model, then the checkpoints of the models folders and the other models
        a request's ``model`` may name (OpenAI's ``models.list``)."""
        return {"object": "list", "data": [model_object(model) for model in served_models()]}

    @router.get("/v1/models/{model_id:path}")
    def retrieve_model(model_id: str) -> dict[str, Any]:
        """One model by id: a listed one or an OpenAI name for the served one
        (``models.retrieve``)."""
        served = service.choice.model
        if not accepts_model(model_id, served_models()):
            error = Refusal("openai_model_not_found", value=model_id, served=served)
            raise OpenAIError(404, error, param="model", code="model_not_found")
        return model_object(model_id)

    def unknown_endpoint(request: Request) -> None:
        """Anything else under ``/v1``: OpenAI's 404 "Invalid URL"."""
        error = Refusal("openai_unknown_url", method=request.method, path=request.url.path)
        raise OpenAIError(404, error)

    for path in ("/v1", "/v1/{path:path}"):
        router.add_api_route(
            path, unknown_endpoint, methods=list(ANY_METHOD), include_in_schema=False
        )

    return router


def generate(
    service: ImageService,
    gate: ApiGate,
    call: ImagesCall,
    base_url: str,
    cancel: CancelToken | None = None,
    client: str = ANONYMOUS,
) -> dict[str, Any]:
    """Generate and save (blocking; runs in the thread pool) and build the
    ``ImagesResponse``; ``cancel`` stops the run (the client went away); ``client`` is who
    asks (:mod:`huatu.clients`, default anonymous), for the fair slots.

    Raises:
        OpenAIError: the service refused a field (400).
        HuatuError: the gate is full, or generating failed (answered by :class:`OpenAIRoute`
            with the status of the one table).
    """
    try:
        with gate.enter():
            if call.model is not None:  # another listed model: every edge uses it from now on
                service.switch_model(call.model)
            result = service.generate(call.request, cancel=cancel, client=client)
    except ValidationError as error:
        raise refused(error) from None
    outputs_dir = service.settings.outputs_dir
    if call.response_format == "url":
        data = [{"url": output_url(base_url, outputs_dir, path)} for path in result.paths]
    else:
        data = [{"b64_json": base64.b64encode(path.read_bytes()).decode()} for path in result.paths]
    request = result.request
    return {
        "created": int(time.time()),
        "data": data,
        "size": "x".join(str(side) for side in request.output_size),
        "output_format": "png",
    }
