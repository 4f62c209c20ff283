"""Saved images over HTTP: the ``/outputs`` route and the URL of a saved image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huatu.messages import message

#: Where saved images are served (OpenAI ``url`` answers point here).
OUTPUTS_ROUTE = "/outputs"


def create_router(outputs_dir: Path) -> Any:
    """A router serving PNGs from ``outputs_dir`` only (no path tricks, no other files) under
    :data:`OUTPUTS_ROUTE`; anything else is a 404."""
    from fastapi import APIRouter, HTTPException
    from fastapi.responses import FileResponse

    root = outputs_dir.resolve()
    router = APIRouter()

    @router.get(OUTPUTS_ROUTE + "/{path:path}", include_in_schema=False)
    def saved_image(path: str) -> FileResponse:
        target = (root / path).resolve()
        inside = target.is_relative_to(root) and target != root
        if not inside or target.suffix.lower() != ".png" or not target.is_file():
            raise HTTPException(status_code=404, detail=message("api_no_such_image"))
        return FileResponse(target, media_type="image/png")

    return router


def output_url(base_url: str, outputs_dir: Path, path: Path) -> str:
    """The URL under :data:`OUTPUTS_ROUTE` at which a saved image ``path`` is served."""
    from urllib.parse import quote

    relative = path.resolve().relative_to(outputs_dir.resolve()).as_posix()
    return f"{base_url.rstrip('/')}{OUTPUTS_ROUTE}/{quote(relative)}"
