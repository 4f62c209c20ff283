"""OpenAI-compatible images API: ``POST /v1/images/generations``, ``/v1/images/edits``,
``/v1/images/variations``, ``GET /v1/models``.

Any OpenAI client (the official ``openai`` package, Open WebUI, LangChain …) pointed at
``http://HOST:PORT/v1`` generates with the model huatu has loaded, through the same
:class:`~huatu.service.ImageService` and validator as the studio. Every image is saved with
its A1111 ``parameters`` text chunk, and the PNG handed back is that saved file.

``POST /v1/images/generations`` takes OpenAI's JSON body:

* ``prompt`` (required): 1–1,000 characters (OpenAI allows more; huatu's limit holds).
* ``n``: images to make, 1–4 (OpenAI allows 10). Default 1.
* ``size``: ``"WIDTHxHEIGHT"``, each side 64–1024 and a multiple of 8, or ``"auto"``.
  Default (and ``"auto"``): 512x512, Stable Diffusion 1.5's native size (OpenAI's default
  1024x1024 is accepted too, only slower).
* ``response_format``: ``"b64_json"`` (the PNG, base64-encoded) or ``"url"`` (where the
  saved PNG is served, under ``/outputs``; behind authentication the URL needs the same
  credentials). Default ``"b64_json"`` — what OpenAI's current GPT image models always
  return — except for a ``model`` naming DALL·E (``dall-e-2``, ``dall-e-3``), whose default
  was ``"url"``.
* ``model``: the loaded model's id (listed first by ``GET /v1/models``, e.g. ``tiny``), or any
  OpenAI image model name (``dall-e-*``, ``gpt-image-*``, ``chatgpt-image-*``), which all
  mean the loaded model; or another model ``GET /v1/models`` lists (the checkpoints of the
  models folders …), which is loaded first and stays loaded for every edge, as A1111's
  ``options`` switch does. Default: the loaded model. Any other name is an error naming it.
* ``stream``: streaming is not supported; ``true`` is an error.
* Accepted and ignored: ``quality``, ``style``, ``user``, ``safety_identifier``,
  ``background``, ``moderation``, ``output_format`` and ``output_compression`` (the answer is
  always PNG) and any field OpenAI does not have either.
* ``POST /v1/images/edits`` (multipart: ``image``, optional ``mask``, ``prompt``, ``n``,
  ``size``, ``response_format``, ``model``): OpenAI's convention, the fully transparent
  pixels of the mask (or of the image, without a mask) are repainted and every other pixel
  kept; an image without transparency is varied by the prompt (image to image). ``size``
  defaults to the picture's own (within the limits). ``POST /v1/images/variations``
  (``image``, ``n``, ``size``, ``response_format``): image to image at strength 0.6 with the
  picture's own prompt from its metadata, else a neutral one. Pictures are checked as every
  upload is (:func:`huatu.images.read_image`); a refusal names ``image`` or ``mask``.
* huatu extensions (send them with the ``openai`` client's ``extra_body``):
  ``negative_prompt``, ``seed`` (-1 random; image *i* uses ``seed + i``), ``steps``,
  ``guidance_scale``, ``scheduler``; defaults as in the studio (:mod:`huatu.request`).

The answer is OpenAI's ``ImagesResponse``: ``{"created": <unix seconds>, "data": [{"b64_json":
…} | {"url": …}], "size": "WxH", "output_format": "png"}`` (no ``revised_prompt``: huatu does
not rewrite prompts). Every error under ``/v1`` is OpenAI's ``{"error": {"message", "type",
"param", "code"}}`` with ``param`` the body field at fault: 400 for a bad field, a body that
is not JSON or not sent as ``application/json``; 404 for an unknown ``/v1`` URL or model.
Failures have the status of :data:`huatu.api.http_errors.FAILURES` (the A1111 API's too):
503 with ``Retry-After`` when too many API generations are already in (the gate is shared by
every client: the server is briefly overloaded), 503 when no model is loaded or the model ran
out of memory; 5xx when generating fails. Messages name the field and the value, and never
carry a secret.

Modules: :mod:`~huatu.api.openai_images.parsing` (the body, its mapping to the request),
:mod:`~huatu.api.openai_images.errors` (OpenAI's error shape for every failure),
:mod:`~huatu.api.openai_images.router` (the routes).
"""

from __future__ import annotations

from huatu.api.openai_images.router import create_router

__all__ = ["create_router"]
