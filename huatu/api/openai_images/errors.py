"""The OpenAI API's errors: its own refusals, and every failure in OpenAI's error shape.

Every error under ``/v1`` is OpenAI's ``{"error": {"message", "type", "param", "code"}}``:
:class:`OpenAIError` carries the status, ``param`` and ``code`` with the huatu error whose
sentence is the message; :class:`OpenAIRoute` answers any failure of a route that way, a
service failure with the status of the one table (:data:`huatu.api.http_errors.FAILURES`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from huatu.api.error_shapes import openai_error_body
from huatu.api.http_errors import failure_of, sentence
from huatu.errors import HuatuError, Secrets
from huatu.messages import Notice, short_repr

log = logging.getLogger(__name__)


class Refusal(HuatuError, ValueError):
    """A request the OpenAI API refuses by a rule of its own (not the validator's).

    Args:
        key: the catalog key of its sentence (:mod:`huatu.catalog.api`).
        **params: the sentence's placeholders; ``value``, the client's value, is shown
            shortened (after :func:`~huatu.errors.explain` masked the secrets in it).
    """

    @property
    def notice(self) -> Notice:
        params = dict(self.params)
        if "value" in params:
            params["value"] = short_repr(params["value"])
        return Notice(self.key, params)


class OpenAIError(Exception):
    """An answer in OpenAI's error shape, raised by this API's code.

    Args:
        status: the HTTP status.
        error: the huatu error whose sentence is the message.
        param: the body field at fault. Default ``None``.
        code: a machine-readable code such as ``"model_not_found"``. Default ``None``.
        headers: extra response headers (``Retry-After``). Default none.
    """

    def __init__(
        self,
        status: int,
        error: HuatuError,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error.key)
        self.status = status
        self.error = error
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    @classmethod
    def failure(cls, error: BaseException) -> OpenAIError:
        """A failure of the service (or of huatu: a bug) answered as the one table says."""
        failure = failure_of(error)
        reason = error if isinstance(error, HuatuError) else Refusal("openai_internal_error")
        return cls(failure.status, reason, code=failure.code, headers=failure.headers)

    def response(self, secrets: Secrets | None) -> JSONResponse:
        """The JSON answer; ``secrets`` (the settings) are kept out of its message."""
        body = openai_error_body(
            sentence(self.error, secrets), status=self.status, code=self.code, param=self.param
        )
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class OpenAIRoute(APIRoute):
    """A route that answers every failure in OpenAI's error shape, never FastAPI's
    ``{"detail": …}`` or a bare 500. Subclasses set :attr:`secrets`."""

    #: The secrets kept out of error messages (the settings). Default: none.
    secrets: ClassVar[Secrets | None] = None

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        secrets = type(self).secrets

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except OpenAIError as error:
                return error.response(secrets)
            except HuatuError as error:
                return OpenAIError.failure(error).response(secrets)
            except Exception as error:  # a bug: logged, never a traceback to the client
                log.exception("%s %s failed", request.method, request.url.path)
                return OpenAIError.failure(error).response(secrets)

        return guarded
