"""HTTP APIs that existing tools already speak, served next to the studio on one port.

Each API builds a FastAPI router over the same :class:`~huatu.service.ImageService` and
validator as the studio, and maps its own field names to the request in one table:
:mod:`huatu.api.a1111` (AUTOMATIC1111's ``/sdapi/v1``) and :mod:`huatu.api.openai_images`
(OpenAI's ``/v1/images``). They share :mod:`~huatu.api.gate` (the bound on API generations in
flight), :mod:`~huatu.api.http_errors` (the one table of failure statuses, and the sentence
of an error), :mod:`~huatu.api.error_shapes` (the error bodies) and :mod:`~huatu.api.outputs`
(saved images over HTTP). :mod:`huatu.server` puts them, the studio and authentication
together.
"""
