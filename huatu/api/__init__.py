"""HTTP APIs that existing tools already speak, served next to the studio on one port.

Each module builds a FastAPI router over the same :class:`~huatu.service.ImageService` and
validator as the studio: :mod:`huatu.api.a1111` (AUTOMATIC1111's ``/sdapi/v1``) and
:mod:`huatu.api.openai_images` (OpenAI's ``/v1/images``). :mod:`huatu.server` puts them,
the studio and authentication together.
"""
