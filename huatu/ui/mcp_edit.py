"""The studio's second MCP tool: ``edit_image``, next to ``generate_image``.

An agent hands a picture (the URL of an image huatu made, as ``generate_image`` answers it,
or a base64 PNG) and a prompt; with a mask (white repaints) the masked part is repainted and
everything else kept, without one the picture is varied. Pictures named by URL are read only
from huatu's outputs folder or Gradio's copy of them (PNGs; nothing is fetched from
elsewhere); every picture is checked as
any upload is (:func:`huatu.images.read_image`). Wired like ``generate_image``
(:mod:`huatu.ui.mcp_tool`): undocumented, unqueued, behind its own gate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import gradio as gr

from huatu.api.gate import ApiGate
from huatu.api.outputs import OUTPUTS_ROUTE
from huatu.edit_fields import DEFAULT_STRENGTH
from huatu.errors import HuatuError, ValidationError
from huatu.fields import describe
from huatu.images import natural_size, read_image
from huatu.request import DEFAULT_GUIDANCE, DEFAULT_STEPS, MAX_IMAGES, RANDOM_SEED
from huatu.service import ImageService
from huatu.ui.common import error_for_person, request_language, run_generation, user_error
from huatu.ui.mcp_tool import MCP_LIMIT, add_tool, parameter_docs, result_text

SUMMARY = (
    "Edit a picture with the server's image model: with a mask, repaint the mask's white part "
    "from the prompt and keep every other pixel; without one, vary the whole picture as much "
    "as strength says.\n\n"
    "Give the picture as the URL of an image this server made (generate_image answers one) "
    "or as base64 PNG text; the mask the same way, same size (white repaints, black keeps). "
    "The result has the picture's size and is saved with its settings."
)
#: The tool's own parameters (the rest are generate_image's).
EDIT_DOCS = {
    "image": "The picture to edit: the URL of an image this server made, or base64 PNG text.",
    "mask": "Optional: what to repaint, white on black, as a URL or base64 PNG. Default none.",
    "strength": describe("strength"),
}


def edit_image_doc() -> str:
    """The tool's docstring (its MCP description and parameter descriptions)."""
    shared = parameter_docs()
    docs = {
        "prompt": shared["prompt"],
        **EDIT_DOCS,
        **{name: shared[name] for name in ("negative_prompt", "steps", "guidance", "seed")},
        "num_images": shared["num_images"],
    }
    args = "\n".join(f"    {name}: {text}" for name, text in docs.items())
    returns = "The edited images and their URLs, then each image's seed and parameters."
    return f"{SUMMARY}\n\nArgs:\n{args}\n\nReturns:\n    {returns}\n"


def picture_source(field: str, value: str, outputs_dir: Path) -> Any:
    """What :func:`~huatu.images.read_image` reads for ``value``: a saved image's path when
    ``value`` is a URL of one (``/outputs/…`` or Gradio's ``file=`` URL inside the outputs
    folder), else ``value`` itself (base64).

    Raises:
        ValidationError: a URL that is not one of this server's saved images.
    """
    text = value.strip()
    if not text.startswith(("http://", "https://", "/")):
        return text
    parts = urlsplit(text)
    path = unquote(parts.path)
    root = outputs_dir.resolve()
    if f"{OUTPUTS_ROUTE}/" in path:
        candidate, roots = root / path.split(f"{OUTPUTS_ROUTE}/", 1)[1], (root,)
    elif "file=" in path:  # Gradio serves its own copy of the saved image from its cache
        from gradio.utils import get_upload_folder

        cache = Path(get_upload_folder()).resolve()
        candidate, roots = Path(path.split("file=", 1)[1]), (root, cache)
    else:
        raise ValidationError(field, text[:200], "mcp_picture_url")
    target = candidate.resolve()
    inside = any(target.is_relative_to(allowed) for allowed in roots)
    if not inside or target.suffix.lower() != ".png" or not target.is_file():
        raise ValidationError(field, text[:200], "mcp_picture_url")
    return target


def make_edit_image(service: ImageService, gate: ApiGate) -> Callable[..., tuple]:
    """The ``edit_image`` tool function bound to ``service``."""

    def edit_image(
        prompt: str,
        image: str,
        mask: str = "",
        strength: float = DEFAULT_STRENGTH,
        negative_prompt: str = "",
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        seed: int = RANDOM_SEED,
        num_images: int = 1,
        request: gr.Request | None = None,  # filled in by Gradio
    ) -> tuple:
        language = request_language(request)
        outputs = service.settings.outputs_dir
        try:
            if not isinstance(image, str) or not image.strip():
                raise ValidationError("image", image, "required")
            source, _ = read_image("image", picture_source("image", image, outputs))
            values: dict[str, Any] = {
                "prompt": prompt,
                "init_image": source,
                "strength": strength,
                "negative_prompt": negative_prompt,
                "steps": steps,
                "guidance": guidance,
                "seed": seed,
                "num_images": num_images,
            }
            values["width"], values["height"] = natural_size(source.size)
            if isinstance(mask, str) and mask.strip():
                checked, _ = read_image("mask", picture_source("mask", mask, outputs), mask=True)
                values["mask"] = checked
            with gate.enter():
                result = run_generation(service, values, language=language)
        except ValidationError as error:
            raise user_error(error.render(language)) from None
        except HuatuError as error:
            raise error_for_person(error, service, language) from None
        images: list[Any] = [str(path) for path in result.paths] or list(result.images)
        images += [None] * (MAX_IMAGES - len(images))
        return (*images, result_text(result, language))

    edit_image.__doc__ = edit_image_doc()
    return edit_image


def add_edit_image(service: ImageService, *, gate: ApiGate | None = None) -> gr.Dependency:
    """Wire ``edit_image`` into the current ``gr.Blocks`` (as :func:`add_generate_image`
    wires ``generate_image``: hidden components, no preprocessing, unqueued)."""

    def inputs() -> list[Any]:
        return [
            gr.Textbox(label="prompt"),
            gr.Textbox(label="image"),
            gr.Textbox(label="mask", value=""),
            gr.Number(label="strength", value=DEFAULT_STRENGTH),
            gr.Textbox(label="negative_prompt", value=""),
            gr.Number(label="steps", value=DEFAULT_STEPS, precision=0),
            gr.Number(label="guidance", value=DEFAULT_GUIDANCE),
            gr.Number(label="seed", value=RANDOM_SEED, precision=0),
            gr.Number(label="num_images", value=1, precision=0),
        ]

    tool = make_edit_image(service, gate or ApiGate(MCP_LIMIT))
    return add_tool(tool, inputs, api_name="edit_image", elem_id="mcp-edit-tool")
