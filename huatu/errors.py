"""The project's exceptions.

Every exception huatu raises on purpose derives from :class:`HuatuError` and carries a message
meant for a person: one or two sentences saying what went wrong and what to do. They also
subclass the matching builtin (``ValueError``, ``TimeoutError`` ...) so callers can catch them
the usual way. They are translated to ``gr.Error`` or click errors only at the edges.
"""

from __future__ import annotations

from typing import Any


class HuatuError(Exception):
    """Base class of every error huatu raises for a user to read."""


class ValidationError(HuatuError, ValueError):
    """A request field has a value huatu does not accept.

    Args:
        field: the request field's name, e.g. ``"num_inference_steps"``.
        value: the rejected value (shown shortened in the message).
        reason: a key of :data:`huatu.messages.REASONS`, e.g. ``"integer_range"``.
        **params: the reason's placeholders, e.g. ``low=1, high=100``.

    ``str()`` gives the English sentence; :func:`huatu.messages.render_error` gives it in
    the person's language.
    """

    def __init__(self, field: str, value: Any, reason: str, **params: Any) -> None:
        from huatu.messages import render_validation

        self.field = field
        self.value = value
        self.reason = reason
        self.params = params
        super().__init__(render_validation(self, "en"))


class UnknownNameError(HuatuError, KeyError):
    """A name (backend, scheduler ...) is not one huatu knows; the message lists the known ones."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = known
        super().__init__(f"Unknown {kind} {name!r}. Available: {', '.join(known)}.")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class ModelLoadError(HuatuError, RuntimeError):
    """The chosen model could not be loaded; the message says what to do instead."""


class BackendUnavailableError(HuatuError, RuntimeError):
    """No usable backend: the model failed to load earlier, or the backend was not configured."""


class GenerationCancelled(HuatuError):
    """The user stopped the run before it finished."""

    key = "stopped"


class SafetyCheckerFlagged(HuatuError):
    """Every image of the run was flagged by the model's safety checker and withheld.

    Args:
        count: images flagged. total: images made.
    """

    key = "safety_flagged"

    def __init__(self, count: int, total: int) -> None:
        from huatu.messages import message

        self.params = {"count": count, "total": total}
        super().__init__(message(self.key, "en", **self.params))


class QueueFullError(HuatuError, RuntimeError):
    """Too many requests are already waiting; the client should try again later.

    Args:
        waiting: how many requests wait or run now.
    """

    key = "queue_full"

    def __init__(self, waiting: int) -> None:
        self.params = {"waiting": waiting}
        super().__init__(
            f"The server is busy: {waiting} requests are already waiting. Try again in a minute."
        )


class OutOfMemory(HuatuError, MemoryError):
    """The device ran out of memory while generating (the server keeps running)."""

    key = "out_of_memory"

    def __init__(self) -> None:
        from huatu.messages import message

        self.params: dict[str, Any] = {}
        super().__init__(message(self.key, "en"))


class StorageError(HuatuError, OSError):
    """An image or its history row could not be written (disk full, no permission …).

    Args:
        message: the English sentence.
        key: the :data:`huatu.messages.CATALOG` key that renders it in other languages.
        **params: the key's placeholders.
    """

    def __init__(self, message: str, *, key: str, **params: Any) -> None:
        super().__init__(message)
        self.key = key
        self.params = params

    def __str__(self) -> str:
        return str(self.args[0])


class HostedError(HuatuError, RuntimeError):
    """The Hugging Face hosted service failed; the message says how."""


class HostedAuthError(HostedError, PermissionError):
    """The hosted service rejected the key (401/403) or no key is configured."""


class ModelNotServedError(HostedError, LookupError):
    """The hosted service does not serve the chosen model (404/410)."""


class HostedTimeoutError(HostedError, TimeoutError):
    """The hosted service did not deliver an image before the deadline."""


class HostedResponseError(HostedError):
    """The hosted service answered with something that is not an image."""


def short_repr(value: Any, limit: int = 60) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters, saying how long the original was."""
    if isinstance(value, int) and value.bit_length() > 3000:  # repr refuses > 4,300 digits
        digits = int(value.bit_length() * 0.30103) + 1
        return f"{'-' if value < 0 else ''}<a whole number of about {digits:,} digits>"
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} characters"
    return f"{text[: limit - 1]}… ({size})"
