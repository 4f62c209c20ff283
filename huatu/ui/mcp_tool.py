"""The studio's MCP tools: ``generate_image`` (here) and ``edit_image``
(:mod:`huatu.ui.mcp_edit`), which an agent can act on.

Gradio turns every documented API endpoint of an app into an MCP tool, and offers no switch
to keep an endpoint in the Gradio API but out of MCP (gradio-app/gradio#11463: "use
``api_visibility``"). The studio's own endpoints (``/generate`` streaming six UI outputs,
``/translate``, ``/stop``, ``/image_info``) are made for the page and for ``gradio_client``,
not for an agent, so:

* :func:`add_generate_image` wires ``generate_image`` as an *undocumented* Gradio endpoint
  (callable with positional inputs as ``/generate_image``, absent from "Use via API" and
  ``view_api``, so gradio_client has no keywords for it: ``/generate`` is the API), with typed
  inputs, the studio's defaults and a docstring Gradio turns into the tool's description;
* :class:`McpToolsBlocks` is the studio's ``gr.Blocks``: when an MCP server is attached to it
  (``mount_gradio_app(..., mcp_server=True)`` or ``launch(mcp_server=True)``), the server is
  narrowed to :data:`MCP_TOOLS` — ``tools/list``, ``tools/call`` and
  ``/gradio_api/mcp/schema`` alike.

The tool calls the service through :func:`huatu.ui.common.run_generation`, the path every
Gradio edge takes. It is *not* queued: Gradio 6.31 runs a queued tool through an HTTP
loop-back ``gradio_client`` that sends no credentials (so it fails behind huatu's access
control) and, for a client that asks no progress, returns a many-output result as one
stringified tuple. Unqueued, Gradio calls the function directly; like the HTTP APIs it then
waits for the service's generation slot (one run at a time on a local pipeline, whoever asks)
behind an :class:`~huatu.api.gate.ApiGate` that answers "busy" to a flood.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from huatu.api.gate import ApiGate
from huatu.clients import session_client
from huatu.errors import HuatuError
from huatu.fields import FORM, describe
from huatu.messages import message
from huatu.request import (
    DEFAULT_GUIDANCE,
    DEFAULT_SCHEDULER,
    DEFAULT_SIDE,
    DEFAULT_STEPS,
    MAX_IMAGES,
    RANDOM_SEED,
)
from huatu.schedulers import SCHEDULERS
from huatu.service import GenerationResult, ImageService
from huatu.ui.common import error_for_person, request_language, run_generation
from huatu.ui.lines import session_of

#: The tools the studio's MCP server offers (function names = tool names = API names).
MCP_TOOLS = ("generate_image", "edit_image")
#: Tool calls that may wait or run at once; the one over gets "the server is busy".
MCP_LIMIT = 8

#: What the tool does (the MCP tool's description).
SUMMARY = (
    "Generate images from a text prompt with the server's text-to-image model.\n\n"
    "Each image is saved on the server as a PNG whose metadata records every setting, so a "
    "result can be reproduced from its seed. Write the prompt in English (subject, style and "
    "details, comma-separated, works well). A run takes seconds to minutes depending on "
    "steps, size and number of images."
)
#: What the tool returns.
RETURNS = (
    "The generated images (PNG image content, each followed by its URL), then a text with "
    "each image's seed and full generation parameters."
)


#: What an agent should know about a field beyond its limits and default.
HINTS = {
    "prompt": "Write it in English: subject, style and details, comma-separated, work well.",
    "negative_prompt": 'For example "blurry, text, watermark".',
    "num_inference_steps": "More steps are slower and usually more detailed.",
    "guidance_scale": "5 to 9 suits most prompts.",
    "seed": "The same seed and settings give the same image.",
}
#: The ``model`` parameter (not a form field: it switches the server's model).
MODEL_DOC = (
    "model: a model of the server's list (its A1111 API's /sdapi/v1/sd-models, its OpenAI "
    "API's /v1/models), e.g. a checkpoint file name of its models folder. Default empty: the "
    "loaded model. Naming another loads it first, for every user of the server."
)


def parameter_docs() -> dict[str, str]:
    """Each parameter's meaning, range and default (:func:`huatu.fields.describe`, from the
    validator's own limits), with a hint for an agent."""
    return {
        name: f"{describe(field)} {HINTS.get(field, '')}".rstrip()
        for name, field in FORM.names.items()
    }


def generate_image_doc() -> str:
    """The tool's Google-style docstring, which Gradio parses into the MCP tool's description
    and parameter descriptions (one ``name: text`` line per parameter)."""
    lines = [f"{name}: {text}" for name, text in parameter_docs().items()] + [MODEL_DOC]
    args = "\n".join(f"    {line}" for line in lines)
    return f"{SUMMARY}\n\nArgs:\n{args}\n\nReturns:\n    {RETURNS}\n"


def make_generate_image(service: ImageService, gate: ApiGate) -> Callable[..., tuple]:
    """The ``generate_image`` tool function bound to ``service``.

    Its parameter names are the Gradio API's (``steps``, ``guidance`` …); it returns one value
    per output of :func:`add_generate_image`: :data:`MAX_IMAGES` image paths (``None`` past the
    last image) and the seeds/parameters text. Calls beyond ``gate``'s limit are refused.
    """

    def generate_image(
        prompt: str,
        negative_prompt: str = "",
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        width: int = DEFAULT_SIDE,
        height: int = DEFAULT_SIDE,
        seed: int = RANDOM_SEED,
        num_images: int = 1,
        scheduler: str = DEFAULT_SCHEDULER,
        model: str = "",
        request: gr.Request | None = None,  # filled in by Gradio
    ) -> tuple:
        given = locals()  # the parameters are the form's fields, by their FORM names
        values = {name: given[name] for name in FORM.names}
        language = request_language(request)
        try:
            with gate.enter():
                if model and model != service.choice.model:  # a listed model, or refused
                    service.switch_model(str(model))
                client = session_client(session_of(request))
                result = run_generation(service, values, language=language, client=client)
        except HuatuError as error:  # the gate is full
            raise error_for_person(error, service, language) from None
        images: list[Any] = [str(path) for path in result.paths] or list(result.images)
        images += [None] * (MAX_IMAGES - len(images))
        return (*images, result_text(result, language))

    generate_image.__doc__ = generate_image_doc()
    return generate_image


def result_text(result: GenerationResult, language: str = "en") -> str:
    """What the tool says besides the images, in ``language``: each image's seed and
    parameters, and the run's notices."""
    seeds = ", ".join(str(seed) for seed in result.seeds)
    lines = [message("tool_generated", language, count=len(result.seeds), seeds=seeds)]
    for index, (seed, parameters) in enumerate(
        zip(result.seeds, result.parameters, strict=True), start=1
    ):
        said = message("tool_image_parameters", language, index=index, seed=seed)
        lines += ["", said, parameters]
    for notice in result.notices:
        lines += ["", message("tool_note", language, notice=notice)]
    return "\n".join(lines)


def add_generate_image(service: ImageService, *, gate: ApiGate | None = None) -> gr.Dependency:
    """Wire ``generate_image`` into the current ``gr.Blocks`` (call inside its ``with``).

    Its inputs and outputs are hidden components (the tool has no place on the page); its
    inputs skip Gradio's preprocessing so that the values reach the shared validator as sent
    (no silent rounding or clamping) and a refusal names the field. Unqueued (see the module
    docstring): it waits for the service's generation slot like the HTTP APIs do.

    Args:
        service: the app's service.
        gate: bounds tool calls waiting or running at once. Default: its own gate of
            :data:`MCP_LIMIT`.
    """

    def inputs() -> list[Any]:
        return [
            gr.Textbox(label="prompt"),
            gr.Textbox(label="negative_prompt", value=""),
            gr.Number(label="steps", value=DEFAULT_STEPS, precision=0),
            gr.Number(label="guidance", value=DEFAULT_GUIDANCE),
            gr.Number(label="width", value=DEFAULT_SIDE, precision=0),
            gr.Number(label="height", value=DEFAULT_SIDE, precision=0),
            gr.Number(label="seed", value=RANDOM_SEED, precision=0),
            gr.Number(label="num_images", value=1, precision=0),
            gr.Dropdown(
                label="scheduler",
                choices=[(spec.label, spec.id) for spec in SCHEDULERS.values()],
                value=DEFAULT_SCHEDULER,
            ),
            gr.Textbox(label="model", value=""),
        ]

    tool = make_generate_image(service, gate or ApiGate(MCP_LIMIT))
    return add_tool(tool, inputs, api_name="generate_image", elem_id="mcp-tool")


def add_tool(
    fn: Callable[..., tuple], make_inputs: Callable[[], list[Any]], *, api_name: str, elem_id: str
) -> gr.Dependency:
    """Wire the tool function ``fn`` as an undocumented, unqueued endpoint ``api_name`` of the
    current ``gr.Blocks``: its inputs (``make_inputs()``) and outputs (:data:`MAX_IMAGES`
    images and a text) are hidden components in a column ``elem_id`` (never shown), with no
    preprocessing, so the values reach the shared validator as sent."""
    with gr.Column(visible=False, elem_id=elem_id):  # API-only: never shown
        inputs = make_inputs()
        images = [
            gr.Image(label=f"image {index}", format="png", type="filepath")
            for index in range(1, MAX_IMAGES + 1)
        ]
        details = gr.Textbox(label="seeds and parameters")
    return gr.on(
        triggers=[],
        fn=fn,
        inputs=inputs,
        outputs=[*images, details],
        api_name=api_name,
        api_visibility="undocumented",
        preprocess=False,
        show_progress="hidden",
        queue=False,
    )


def offer_only(server: Any, blocks: gr.Blocks, tools: Sequence[str]) -> None:
    """Narrow Gradio's MCP ``server`` (a ``gradio.mcp.GradioMCPServer``) to ``tools``.

    Gradio builds its tool list from the documented endpoints; here it is rebuilt from the
    endpoints named in ``tools`` (documented or not) and nothing else, with Gradio's own
    ``get_api_info`` and ``get_tool_to_endpoint``; see the module docstring for why. Outputs a
    call left empty (``None``: fewer images than image outputs) are left out of its answer.

    Raises:
        ValueError: a tool without an API endpoint (Gradio then starts without MCP and says so).
    """
    named = blocks.get_api_info(all_endpoints=True)["named_endpoints"]
    missing = [name for name in tools if f"/{name}" not in named]
    if missing:
        raise ValueError(f"MCP tools without an API endpoint: {', '.join(missing)}")
    server.api_info = {
        "named_endpoints": {f"/{name}": named[f"/{name}"] for name in tools},
        "unnamed_endpoints": {},
    }
    server.tool_to_endpoint = server.get_tool_to_endpoint()
    postprocess = server.postprocess_output_data

    def without_empty_outputs(data: Any, root_url: str) -> Any:
        # an image output a run did not fill would be answered as the text "None"
        return postprocess([value for value in data if value is not None], root_url)

    server.postprocess_output_data = without_empty_outputs


class McpToolsBlocks(gr.Blocks):
    """A ``gr.Blocks`` whose MCP server, when one is attached, offers only ``mcp_tools``.

    Gradio attaches its MCP server by setting ``blocks.mcp_server_obj`` (when the app is
    mounted or launched with ``mcp_server=True``); the setter narrows it first. Without an MCP
    server nothing changes.

    Args:
        mcp_tools: the API names to offer as MCP tools. Default :data:`MCP_TOOLS`.
        **options: passed to ``gr.Blocks``.
    """

    def __init__(self, *, mcp_tools: Sequence[str] = MCP_TOOLS, **options: Any) -> None:
        self.mcp_tools = tuple(mcp_tools)
        super().__init__(**options)

    @property
    def mcp_server_obj(self) -> Any:
        return self.__dict__.get("_huatu_mcp_server")

    @mcp_server_obj.setter
    def mcp_server_obj(self, server: Any) -> None:
        if server is not None:
            offer_only(server, self, self.mcp_tools)
        self.__dict__["_huatu_mcp_server"] = server
