"""The project's exceptions, and the one place an error becomes a sentence for a person.

Every exception huatu raises on purpose derives from :class:`HuatuError` and carries a
message *key* of :mod:`huatu.catalog` and its parameters, never a finished English sentence:
``str(error)`` renders it in English, :meth:`HuatuError.render` in another language. They also
subclass the matching builtin (``ValueError``, ``TimeoutError`` …) so callers can catch them
the usual way. They become ``gr.Error``, HTTP answers or click errors only at the edges, and
every edge turns one into text with :func:`explain`, the boundary where secrets are masked.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any, Protocol

from huatu.messages import (
    DEFAULT_LANGUAGE,
    Clipped,
    Notice,
    Quoted,
    message,
    render,
    validation_notice,
)

log = logging.getLogger(__name__)


class Secrets(Protocol):
    """What :func:`explain` needs to keep secrets out of a sentence
    (:class:`huatu.config.Settings` is one)."""

    def mask(self, value: object) -> object:
        """``value`` with each secret replaced by as many ``*`` (strings only)."""
        ...

    def redact(self, text: str) -> str:
        """``text`` with each secret replaced by ``***``."""
        ...


class HuatuError(Exception):
    """Base class of every error huatu raises for a person to read.

    Args:
        key: the catalog key of its sentence. Default: the class's :attr:`key`.
        **params: the sentence's placeholders (a :class:`~huatu.messages.Notice` value is
            rendered as a sentence of its own, in the same language).
    """

    #: The catalog key of classes whose sentence is always the same.
    key: str = "internal_error"

    def __init__(self, key: str | None = None, /, **params: Any) -> None:
        self.key = key or type(self).key
        self.params: dict[str, Any] = params
        super().__init__(self.key)

    def __str__(self) -> str:
        try:
            return self.render(DEFAULT_LANGUAGE)
        except (KeyError, IndexError, ValueError):  # a key or placeholder missing: a bug
            return f"{self.key} {self.params!r}"

    def __reduce__(self) -> tuple[Any, ...]:  # survives pickling (processes, Ray) whole
        return _rebuild, (type(self), dict(self.__dict__))

    @property
    def notice(self) -> Notice:
        """The error's sentence as a :class:`~huatu.messages.Notice` (to nest it in another)."""
        return Notice(self.key, dict(self.params))

    def render(self, language: str = DEFAULT_LANGUAGE) -> str:
        """The error's sentence in ``language`` (``en`` or ``zh-CN``)."""
        return render(self.notice, language)

    def masked(self, mask: Callable[[object], object]) -> HuatuError:
        """A copy whose text parameters went through ``mask`` (e.g. ``Settings.mask``)."""
        clone = copy.copy(self)
        clone.params = {name: _masked(value, mask) for name, value in self.params.items()}
        return clone


def _rebuild(cls: type[HuatuError], state: dict[str, Any]) -> HuatuError:
    base = cls  # the builtin whose __new__ the class inherits (OSError, MemoryError …)
    while base.__module__ != "builtins":
        base = base.__base__
    error = base.__new__(cls)
    Exception.__init__(error, state.get("key"))
    error.__dict__.update(state)
    return error


class _Shown:
    """A value whose ``repr`` is ``text``: bytes, a list or an object a client sent, with its
    secrets masked in its text form."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _masked(value: object, mask: Callable[[object], object]) -> object:
    """``value`` with secrets masked: text by ``mask``, a nested Notice's parameters, and
    anything else (bytes, a list, an object) by its ``repr``, so shortening it never leaves
    part of a secret."""
    if isinstance(value, Notice):
        return Notice(value.key, {name: _masked(v, mask) for name, v in value.params.items()})
    if isinstance(value, Quoted):
        return Quoted(_masked(value.value, mask))
    if isinstance(value, Clipped):
        return Clipped(str(mask(value.text)), value.limit)
    if isinstance(value, str) or value is None or isinstance(value, (bool, int, float)):
        return mask(value)
    try:  # bytes, a list or an object a client sent: masked in its text form
        text = repr(value)
    except ValueError:  # it holds a whole number too long to write out
        return value
    clean = mask(text)
    return value if clean == text else _Shown(str(clean))


def explain(
    error: BaseException, language: str = DEFAULT_LANGUAGE, secrets: Secrets | None = None
) -> str:
    """The one sentence a person sees for ``error``, in ``language``.

    huatu's errors say what went wrong in the person's language; any other exception is an
    internal error (the edge logs its details). Secrets are masked in the error's values
    *before* they are shortened for the sentence (so no part of one is left) and removed from
    the finished sentence.

    Args:
        error: what was raised.
        language: ``en`` or ``zh-CN``. Default ``en``.
        secrets: the keys and passwords to keep out (``Settings``). Default: none.
    """
    if not isinstance(error, HuatuError):
        return message("internal_error", language)
    if secrets is not None:
        error = error.masked(secrets.mask)
    try:
        text = error.render(language)
    except (KeyError, IndexError, ValueError):  # a key or placeholder missing: a bug
        log.error("cannot say %s in %s", error.key, language, exc_info=True)
        return message("internal_error", language)
    return secrets.redact(text) if secrets is not None else text


class ValidationError(HuatuError, ValueError):
    """A request field has a value huatu does not accept.

    Args:
        field: the field's name as the edge names it, e.g. ``"num_inference_steps"``.
        value: the rejected value (shown shortened in the message).
        reason: a reason id; its text is the catalog key ``reason_<reason>``, e.g.
            ``"integer_range"``.
        **params: the reason's placeholders, e.g. ``low=1, high=100``.
    """

    key = "invalid_value"

    def __init__(self, field: str, value: Any, reason: str, **params: Any) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(self.key, **params)

    @property
    def notice(self) -> Notice:
        return validation_notice(self.field, self.value, self.reason, self.params)

    def masked(self, mask: Callable[[object], object]) -> ValidationError:
        clone = super().masked(mask)
        assert isinstance(clone, ValidationError)
        clone.value = _masked(self.value, mask)
        return clone

    def renamed(self, field: str) -> ValidationError:
        """The same refusal naming the field ``field`` (as another edge names it)."""
        return ValidationError(field, self.value, self.reason, **self.params)


class UnknownNameError(HuatuError, KeyError):
    """A name (backend, scheduler …) is not one huatu knows; the message lists the known ones.

    Args:
        kind: what was named: ``backend``, ``scheduler``, ``preset`` or ``mode``.
        name: the unknown name.
        known: the names huatu knows.
    """

    key = "unknown_name"

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = list(known)
        super().__init__(
            self.key, kind=Notice(f"kind_{kind}"), name=name, known=", ".join(self.known)
        )


class UnknownModelError(UnknownNameError):
    """No checkpoint, LoRA, VAE or embedding of the models folders has that name; the message
    lists the closest names found (``kind``: ``checkpoint``, ``lora``, ``vae``,
    ``embedding``)."""

    key = "unknown_model"

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        super().__init__(kind, name, known)
        if not self.known:
            self.key = "unknown_model_none"


class ModelLoadError(HuatuError, RuntimeError):
    """The chosen model could not be loaded; the sentence says what to do instead.

    Args:
        key: the catalog key of the sentence.
        alternatives: models that could be used instead (e.g. hosted models a provider
            serves), offered where a person chooses a model. Default none.
        **params: the sentence's placeholders.
    """

    def __init__(
        self, key: str | None = None, /, *, alternatives: tuple[str, ...] = (), **params: Any
    ) -> None:
        super().__init__(key, **params)
        self.alternatives = tuple(alternatives)


class SettingsError(HuatuError, ValueError):
    """A setting (environment, ``.env`` or command-line value) cannot be used; the sentence
    names it and its value."""


class DeviceError(HuatuError, ValueError):
    """The device or dtype asked for (``HUATU_DEVICE``, ``HUATU_DTYPE``) cannot be used."""


class BackendUnavailableError(HuatuError, RuntimeError):
    """No usable backend: the model failed to load earlier, or the backend was not configured."""

    key = "no_model_loaded"


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
        super().__init__(self.key, count=count, total=total)


class QueueFullError(HuatuError, RuntimeError):
    """Too many requests are already waiting; the client should try again later.

    Args:
        waiting: how many requests wait or run now.
    """

    key = "queue_full"

    def __init__(self, waiting: int) -> None:
        super().__init__(self.key, waiting=waiting)


class OutOfMemory(HuatuError, MemoryError):
    """The device ran out of memory while generating (the server keeps running)."""

    key = "out_of_memory"


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is running out of memory: Python's ``MemoryError`` or torch's
    ``OutOfMemoryError`` (CUDA's; matched by name, torch is not imported here)."""
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"


class StorageError(HuatuError, OSError):
    """An image, its history row or another file could not be written or read (disk full,
    no permission …)."""


class HostedError(HuatuError, RuntimeError):
    """The Hugging Face hosted service failed; the sentence says how."""


class HostedAuthError(HostedError, PermissionError):
    """The hosted service rejected the key (401/403) or no key is configured."""


class ModelNotServedError(HostedError, LookupError):
    """The hosted service does not serve the chosen model (404/410)."""


class HostedTimeoutError(HostedError, TimeoutError):
    """The hosted service did not deliver an image before the deadline."""


class HostedResponseError(HostedError):
    """The hosted service answered with something that is not an image."""


__all__ = [
    "BackendUnavailableError",
    "DeviceError",
    "GenerationCancelled",
    "HostedAuthError",
    "HostedError",
    "HostedResponseError",
    "HostedTimeoutError",
    "HuatuError",
    "ModelLoadError",
    "ModelNotServedError",
    "OutOfMemory",
    "QueueFullError",
    "SafetyCheckerFlagged",
    "Secrets",
    "SettingsError",
    "StorageError",
    "UnknownNameError",
    "ValidationError",
    "explain",
]
