"""huatu's generator as a Ray Serve deployment: each replica loads the model once and runs the
local backend; the front process (the studio, every API, validation, metadata, history) stays
in ``huatu serve --backend ray``, which deploys it (:mod:`huatu.backends.ray`).

For an existing cluster or KubeRay: ``serve run huatu.ray_app:app`` (the model from
``HUATU_MODEL``) or ``serve deploy deploy/ray-serve.yaml``, then point ``huatu serve --backend
ray --ray-address …`` at the cluster.

A run streams its progress back (``run``: an async generator of events, so a cancelled
response — Stop, A1111 ``interrupt``, a client gone — stops the pipeline within about a step),
and its images travel as PNG bytes with their seeds; only the front writes files.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import queue
import threading
from dataclasses import fields, is_dataclass, replace
from types import MappingProxyType
from typing import Any

from ray import serve

from huatu.backends.base import CancelToken, ProgressEvent
from huatu.errors import HuatuError

log = logging.getLogger(__name__)

#: The deployment's name in Ray Serve, and the application's.
DEPLOYMENT = "HuatuGenerator"
APPLICATION = "huatu"


def png_bytes(image: Any) -> bytes:
    """A PIL image as PNG bytes (what crosses between a replica and the front)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def portable(value: Any) -> Any:
    """``value`` with its read-only mappings as plain dicts, so that it pickles (a backend's
    :class:`~huatu.backends.base.Capabilities` holds ``MappingProxyType`` fields)."""
    if isinstance(value, MappingProxyType):
        return {key: portable(item) for key, item in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: portable(getattr(value, f.name)) for f in fields(value)})
    return value


# A new model replaces every replica at once (``rolling_update_percentage``): the front holds
# every slot while it switches, so nothing runs meanwhile and a rolling update is only slower.
@serve.deployment(
    name=DEPLOYMENT,
    max_ongoing_requests=1,
    ray_actor_options={"num_cpus": 1},
    rolling_update_percentage=1.0,
)
class HuatuGenerator:
    """One replica: huatu's local backend on the model it was deployed with.

    Args:
        model: the model to load (Hub id, folder, models-folder name or ``tiny``).
        settings: the front's settings (models folders, device, options).
    """

    def __init__(self, model: str, settings: Any) -> None:
        from huatu.backends.local import LocalBackend

        self.replica = f"{os.uname().nodename}:{os.getpid()}"
        # one request at a time per replica (``max_ongoing_requests``): nothing to batch
        self.backend = LocalBackend(model, replace(settings, batch_images=1))

    def info(self) -> dict[str, Any]:
        """Which replica, the model, how it runs (a notice, rendered in the front in each
        person's language) and what it can do."""
        return {
            "replica": self.replica,
            "model": self.backend.model,
            "model_hash": self.backend.model_hash,
            "detail": self.backend.detail,
            "capabilities": portable(self.backend.capabilities),
        }

    def token_count(self, text: str) -> int | None:
        return self.backend.token_count(text)

    def sampler_label(self, request: Any) -> str:
        return self.backend.sampler_label(request)

    def metadata_fields(self, request: Any) -> dict[str, str]:
        return self.backend.metadata_fields(request)

    async def run(self, request: Any, preview_every: int = 0):
        """The run of ``request`` as events: ``("progress", step, total, preview PNG or
        None)`` per step, then ``("done", result)`` or ``("error", huatu error)``. The
        pipeline runs in a thread; cancelling the response stops it at its next step."""
        events: queue.Queue = queue.Queue()
        cancel = CancelToken()

        def progress(event: ProgressEvent) -> None:
            preview = None if event.preview is None else png_bytes(event.preview)
            events.put(("progress", event.step, event.total, preview))

        def work() -> None:
            try:
                output = self.backend.generate(
                    request, progress=progress, cancel=cancel, preview_every=preview_every
                )
                events.put(("done", self._result(output)))
            except HuatuError as error:  # validation, cancelled, model errors: as they are
                events.put(("error", error))
            except Exception as error:  # anything else: only its kind crosses to the front,
                log.exception("a run failed on replica %s", self.replica)  # the rest is logged
                events.put(("failed", type(error).__name__))

        threading.Thread(target=work, name="huatu-replica-run", daemon=True).start()
        try:
            while True:
                try:
                    event = events.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(0.02)
                    continue
                yield event
                if event[0] != "progress":
                    return
        finally:  # the response was cancelled or finished: a running pipeline stops
            cancel.cancel()

    def _result(self, output: Any) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "model": self.backend.model,
            "images": [png_bytes(image) for image in output.images],
            "seeds": list(output.seeds),
            "flagged": output.flagged,
            "notices": list(output.notices),
            "sent": output.sent,
            "unused": frozenset(output.unused),
        }


def build_app(args: dict[str, str] | None = None) -> Any:
    """The application ``serve run huatu.ray_app:app`` starts: the model of ``HUATU_MODEL``
    (or ``args["model"]``) with the settings of the environment."""
    from huatu.config import load_settings

    settings = load_settings()
    model = (args or {}).get("model") or settings.model
    return HuatuGenerator.bind(model, settings)


app = build_app
