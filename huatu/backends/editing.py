"""The local backend's editing runs: image to image, inpainting (and outpainting), hires fix.

The image-to-image and inpainting pipelines are made from the loaded text-to-image pipeline
with diffusers' ``from_pipe``: they share its UNet, VAE and text encoder, so switching modes
loads nothing. Each run here returns latents (decoded, checked and post-processed by
:class:`~huatu.backends.local.LocalBackend` as for text to image) and a ``finish`` step for
the decoded pictures: inpainting puts every pixel outside the blurred mask back from the
source (:func:`huatu.images.keep_outside`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from huatu.images import fit, keep_outside, noise_fill, outpaint_canvas, prepared_mask
from huatu.messages import Notice
from huatu.request import IMG2IMG, INPAINT

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.prompts.encoding import Conditioning
    from huatu.request import GenerationRequest

#: What a step callback looks like (diffusers' ``callback_on_step_end``).
StepCallback = Callable[[Any, int, Any, dict], dict]


@dataclass
class EditRun:
    """What an editing run gives back.

    Attributes:
        latents: the result's latents, or ``None`` when no step ran (strength 0).
        pictures: the result as pictures when no step ran (the fitted source). Default none.
        finish: applied to each decoded picture (e.g. keeping what is outside the mask).
            Default: as it is.
        notices: what the person should know (a resized mask …). Default none.
    """

    latents: Any
    pictures: list[Image] = field(default_factory=list)
    finish: Callable[[Image], Image] = lambda picture: picture
    notices: list[Notice] = field(default_factory=list)


class EditingPipelines:
    """Image-to-image and inpainting pipelines sharing ``pipe``'s weights (``from_pipe``),
    made on first use.

    Args:
        pipe: the loaded ``StableDiffusionPipeline``.
    """

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self._img2img: Any = None
        self._inpaint: Any = None

    @property
    def img2img(self) -> Any:
        """The family's image-to-image pipeline (``StableDiffusionImg2ImgPipeline``, the
        SDXL one …) on the same components."""
        if self._img2img is None:
            from diffusers import AutoPipelineForImage2Image

            self._img2img = _quietly(AutoPipelineForImage2Image.from_pipe, self.pipe)
        self._img2img.scheduler = self.pipe.scheduler
        return self._img2img

    @property
    def inpaint(self) -> Any:
        """The family's inpainting pipeline (``StableDiffusionInpaintPipeline`` …) on the same
        components (a 4-channel UNet blends the source back in at every step; a 9-channel
        inpainting UNet reads the mask)."""
        if self._inpaint is None:
            from diffusers import AutoPipelineForInpainting

            self._inpaint = _quietly(AutoPipelineForInpainting.from_pipe, self.pipe)
        self._inpaint.scheduler = self.pipe.scheduler
        return self._inpaint


def _quietly(make: Callable[[Any], Any], pipe: Any) -> Any:
    """``make(pipe)`` without diffusers' warnings about re-casting shared modules (nothing is
    cast: the components are the same objects), its progress bar off."""
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        made = make(pipe)
    finally:
        diffusers_logging.set_verbosity(level)
    made.set_progress_bar_config(disable=True)
    return made


def denoise_steps(steps: int, strength: float) -> int:
    """The steps an image-to-image run takes: ``int(steps × strength)`` (diffusers' rule)."""
    return min(int(steps * strength), steps)


def common_arguments(
    request: GenerationRequest,
    generators: list,
    on_step: StepCallback,
    conditioning: Conditioning | None = None,
) -> dict:
    """The pipeline arguments every mode shares; the texts as ``conditioning``'s embeddings
    when given (A1111's prompt syntax, :mod:`huatu.prompts.encoding`), else as text."""
    texts = (
        conditioning.arguments()
        if conditioning is not None
        else {"prompt": request.prompt, "negative_prompt": request.negative_prompt or None}
    )
    return {
        **texts,
        "num_inference_steps": request.num_inference_steps,
        "guidance_scale": request.guidance_scale,
        "num_images_per_prompt": request.num_images,
        "generator": generators,
        "callback_on_step_end": on_step,
        "output_type": "latent",
    }


def run_img2img(
    pipes: EditingPipelines,
    request: GenerationRequest,
    generators: list,
    on_step: StepCallback,
    conditioning: Conditioning | None = None,
) -> EditRun:
    """Image to image: the source fitted to the size asked (its resize mode), then denoised
    from ``strength``; strength too low for one step gives the fitted source back, strength 1
    starts from noise alone (the source no longer matters)."""
    assert request.init_image is not None
    source = fit(request.init_image.image, request.width, request.height, request.resize_mode)
    if denoise_steps(request.num_inference_steps, request.strength) < 1:
        return EditRun(latents=None, pictures=[source.copy() for _ in range(request.num_images)])
    if request.strength >= 1:  # all the way: nothing of the source is left to start from
        arguments = common_arguments(request, generators, on_step, conditioning)
        return EditRun(pipes.pipe(width=request.width, height=request.height, **arguments).images)
    arguments = common_arguments(request, generators, on_step, conditioning)
    latents = pipes.img2img(image=source, strength=request.strength, **arguments).images
    return EditRun(latents=latents)


def run_inpaint(
    pipes: EditingPipelines,
    request: GenerationRequest,
    generators: list,
    on_step: StepCallback,
    conditioning: Conditioning | None = None,
) -> EditRun:
    """Inpainting (and outpainting): repaint the mask's white, keep everything else."""
    assert request.init_image is not None
    notices: list[Notice] = []
    given = request.init_image.image
    source = fit(given, request.width, request.height, request.resize_mode)
    hard = soft = None
    if request.mask is not None:
        mask = request.mask.image
        if mask.size != given.size:
            shown = f"{mask.width}×{mask.height}"
            size = f"{given.width}×{given.height}"
            notices.append(Notice("mask_resized", {"mask": shown, "size": size}))
            mask = mask.resize(given.size)
        fitted = fit(mask, request.width, request.height, request.resize_mode)
        hard = prepared_mask(fitted, source.size, invert=request.invert_mask, blur=0)
        soft = prepared_mask(hard, source.size, invert=False, blur=request.mask_blur)
    # the new area of an outpaint is repainted whole; only the person's mask is blurred, so
    # the old pixels outside it stay as they were
    canvas, hard = outpaint_canvas(source, hard, request.outpaint)
    soft = outpaint_canvas(source, soft, request.outpaint)[1]
    start = canvas
    if request.masked_content == "latent_noise":
        start = noise_fill(canvas, hard, request.seed)
    box = None
    if request.inpaint_area == "only_masked":
        box = masked_box(hard, request.inpaint_padding)
    region = start if box is None else start.crop(box).resize(canvas.size)
    region_mask = hard if box is None else hard.crop(box).resize(canvas.size)
    latents = pipes.inpaint(
        image=region,
        mask_image=region_mask,
        strength=request.strength,
        width=canvas.width,
        height=canvas.height,
        **common_arguments(request, generators, on_step, conditioning),
    ).images

    def finish(picture: Image) -> Image:
        if box is not None:
            whole = canvas.copy()
            whole.paste(picture.resize((box[2] - box[0], box[3] - box[1])), box[:2])
            picture = whole
        return keep_outside(picture, canvas, soft)

    return EditRun(latents=latents, finish=finish, notices=notices)


def masked_box(mask: Image, padding: int) -> tuple[int, int, int, int] | None:
    """The masked part's bounding box grown by ``padding`` pixels (within the picture), or
    ``None`` when nothing is masked."""
    found = mask.point(lambda value: 255 if value else 0).getbbox()
    if found is None:
        return None
    left, top, right, bottom = found
    return (
        max(0, left - padding),
        max(0, top - padding),
        min(mask.width, right + padding),
        min(mask.height, bottom + padding),
    )


def run_hires(
    pipes: EditingPipelines,
    request: GenerationRequest,
    latents: Any,
    decode: Callable[[Any], list[Image]],
    generators: list,
    on_step: StepCallback,
    conditioning: Conditioning | None = None,
) -> Any:
    """The hires fix's second pass: the first pass's ``latents`` enlarged (in latent space,
    or decoded and enlarged with Lanczos) to the final size, then refined by image to image
    with its own steps and strength. Returns the final latents."""
    import torch

    width, height = request.output_size
    if request.hires_upscaler == "Latent":
        image: Any = torch.nn.functional.interpolate(
            latents, size=(height // 8, width // 8), mode="bilinear"
        )
    else:
        from PIL import Image as PILImage

        pictures = decode(latents)
        image = [p.resize((width, height), PILImage.Resampling.LANCZOS) for p in pictures]
    steps = request.hires_steps or request.num_inference_steps
    arguments = common_arguments(request, generators, on_step, conditioning)
    count = request.num_images  # one prompt per picture of the batch
    if conditioning is not None:
        arguments.update(conditioning.arguments(batch=count))
    else:
        negative = request.negative_prompt or None
        arguments.update(
            prompt=[request.prompt] * count,
            negative_prompt=None if negative is None else [negative] * count,
        )
    arguments.update(num_inference_steps=steps, num_images_per_prompt=1)
    return pipes.img2img(image=image, strength=request.hires_strength, **arguments).images


def hires_total(request: GenerationRequest) -> int:
    """The steps of both hires-fix passes (what the progress counts to)."""
    second = denoise_steps(
        request.hires_steps or request.num_inference_steps, request.hires_strength
    )
    return request.num_inference_steps + second


def run_mode(
    pipes: EditingPipelines,
    request: GenerationRequest,
    generators: list,
    on_step: StepCallback,
    conditioning: Conditioning | None,
    pictures: Callable[[Any], list[Image]],
    counted: dict,
) -> EditRun:
    """``request``'s mode run up to its latents: image to image, inpainting, or text to
    image with its hires pass (``pictures`` decodes the first pass for it, and
    ``counted["offset"]`` becomes the first pass's steps, for the progress count)."""
    if request.mode == IMG2IMG:
        return run_img2img(pipes, request, generators, on_step, conditioning)
    if request.mode == INPAINT:
        return run_inpaint(pipes, request, generators, on_step, conditioning)
    latents = pipes.pipe(
        width=request.width,
        height=request.height,
        **common_arguments(request, generators, on_step, conditioning),
    ).images
    if request.hires_scale != 1:
        counted["offset"] = request.num_inference_steps
        latents = run_hires(pipes, request, latents, pictures, generators, on_step, conditioning)
    return EditRun(latents=latents)
