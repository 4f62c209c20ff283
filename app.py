"""The huatu studio as a Hugging Face Space (``sdk: gradio``, ``app_file: app.py``).

Spaces run ``python app.py`` and route the Space's URL to port 7860 of the container. This
starts exactly what ``huatu serve`` starts (the studio, the HTTP APIs and ``/outputs`` on
one port), from the same settings (:func:`huatu.config.load_settings`: environment variables
and Space secrets):

* **Backend**: ``HUATU_BACKEND`` (default ``auto``): with a key secret (``HF_API_KEY`` or
  ``HF_TOKEN``) on a CPU Space, images come from Hugging Face's hosted inference; on a GPU
  Space, or without a key, the model runs in the Space (``HUATU_MODEL``, default SD 1.5,
  downloaded from the Hub on first start). ``HUATU_MODEL=tiny`` runs the offline test model.
* **Address**: a Space is recognised by the ``SPACE_ID`` variable the platform sets. There
  the app listens on ``0.0.0.0`` (the platform's proxy must reach it) without asking for
  credentials, because the platform fronts it: a public Space is meant to be public, a
  private one is already gated by Hugging Face. ``HUATU_API_KEY``/``HUATU_AUTH`` still apply
  when set. Anywhere else (no ``SPACE_ID``) it listens on ``127.0.0.1`` only, as ``huatu
  serve`` does; to listen beyond loopback elsewhere use ``huatu serve --host`` and its
  credential rules.
* **Port**: ``GRADIO_SERVER_PORT`` (default 7860, the port Spaces route to).

Images and their history are kept under ``HUATU_OUTPUTS`` (default ``./outputs``); on a
public Space every visitor can see the History tab and ``/outputs``.

The app is built in :func:`main`, not at import, so importing this file loads no model.
"""

from __future__ import annotations

import os
import sys

SPACE_HOST = "0.0.0.0"
LOCAL_HOST = "127.0.0.1"
SPACE_FRAME_ANCESTORS = ("https://huggingface.co",)


def on_space(environ: dict[str, str] | None = None) -> bool:
    """Whether this runs on Hugging Face Spaces (the platform sets ``SPACE_ID``).

    Args:
        environ: the variables to look at. Default ``os.environ``.
    """
    return bool((os.environ if environ is None else environ).get("SPACE_ID", "").strip())


def main() -> int:
    """Load the model, build the app and serve it until stopped; return an exit status."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

    from huatu.config import load_settings
    from huatu.server import Access, build_app, serve
    from huatu.service import ImageService

    try:
        settings = load_settings()
        access = Access.from_settings(settings)
        service = ImageService.start(settings)  # settings.model / settings.backend
    except (ValueError, KeyError) as error:  # bad settings (HuatuErrors are ValueErrors)
        print(f"huatu: {error}", file=sys.stderr)
        return 2
    host = SPACE_HOST if on_space() else LOCAL_HOST
    print(f"huatu: {service.status}", file=sys.stderr)
    # a Space shows the app inside a frame on huggingface.co
    frames = SPACE_FRAME_ANCESTORS if on_space() else ()
    app = build_app(service, access=access, host=host, port=settings.port, frame_ancestors=frames)
    print(f"huatu: serving on http://{host}:{settings.port}", file=sys.stderr, flush=True)
    serve(app, host, settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
