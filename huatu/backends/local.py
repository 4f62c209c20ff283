"""Local generation with a diffusers ``StableDiffusionPipeline``.

torch and diffusers are imported here, lazily, when a backend is created; never at import time.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from huatu.backends.base import (
    BackendOutput,
    CancelToken,
    Capabilities,
    ProgressCallback,
    ProgressEvent,
)
from huatu.backends.editing import (
    EditingPipelines,
    EditRun,
    common_arguments,
    hires_total,
    run_hires,
    run_img2img,
    run_inpaint,
)
from huatu.backends.fast import TAESD_LABEL, FastPath, fast_sources, lcm_notices
from huatu.config import TINY_MODEL, Settings
from huatu.device import DevicePlan, choose_device
from huatu.errors import DeviceError, GenerationCancelled, ModelLoadError
from huatu.messages import Joined, Notice, message, render
from huatu.presets import quality_presets
from huatu.request import IMG2IMG, INPAINT, MODES, GenerationRequest
from huatu.schedulers import LCM_SCHEDULER, get_scheduler_spec, make_scheduler, scheduler_ids

log = logging.getLogger(__name__)

#: Input channels of an inpainting checkpoint's UNet (latents, mask, masked-picture latents).
INPAINT_UNET_CHANNELS = 9
# CLIP reads 77 tokens including the start and end tokens.
CLIP_CONTENT_TOKENS = 75


class LocalBackend:
    """Runs a Stable Diffusion 1.x pipeline in this process.

    Args:
        model: a Hub id (downloaded into the Hugging Face cache), a local folder holding a
            diffusers model, or ``"tiny"`` for the built-in offline test model.
        settings: huatu settings (cache folder, device/dtype overrides).
        lcm_lora: the Fast path's LCM-LoRA (Hub id, folder or ``.safetensors`` file).
            Default: the settings' ``lcm_lora`` if they have one, else the tiny model's own
            for ``tiny``, else ``latent-consistency/lcm-lora-sdv1-5``.
        taesd: the Fast path's TAESD decoder (Hub id or folder), defaulted the same way;
            ``madebyollin/taesd``.

    Requests with ``scheduler="lcm"`` take the Fast path (:mod:`huatu.backends.fast`): the
    LCM-LoRA is loaded on the first such request and enabled for those requests only, and
    TAESD decodes them. :attr:`fast_available` says, without downloading, whether that works,
    and :attr:`capabilities` offers the LCM Fast preset only then.

    Raises:
        ModelLoadError: the model could not be loaded; the message says what to do.
    """

    id = "local"

    def __init__(
        self,
        model: str,
        settings: Settings,
        *,
        lcm_lora: str | None = None,
        taesd: str | None = None,
    ) -> None:
        self.model = model
        try:
            self.plan: DevicePlan = choose_device(settings.device, settings.dtype)
        except DeviceError as error:  # e.g. HUATU_DEVICE=cuda on a machine without CUDA
            raise ModelLoadError("device_unavailable", problem=error.notice) from None
        self.pipe = _load_pipeline(model, settings, self.plan)
        self._base_scheduler_config = self.pipe.scheduler.config
        self._lock = threading.Lock()
        self.is_test_model = model == TINY_MODEL
        sources = fast_sources(model, settings, lcm_lora=lcm_lora, taesd=taesd)
        self.fast = FastPath(self.pipe, self.plan, sources)
        self.editing = EditingPipelines(self.pipe)
        #: An inpainting checkpoint (its UNet also reads the mask and the masked picture: 9
        #: input channels) runs inpainting only.
        self.inpainting_model = self.pipe.unet.config.in_channels == INPAINT_UNET_CHANNELS
        options = []
        if settings.low_memory:
            options.append(save_memory(self.pipe, self.plan))
        if settings.compile:
            options.append(compile_unet(self.pipe, self.plan, settings.cache_dir))
        label = "tiny (test model: random weights, draws noise)" if self.is_test_model else model
        self.detail = Notice(
            "local_detail",
            {"plan": self.plan.short, "options": Joined(options), "reason": self.plan.reason},
        )
        self.description = f"local · {label} · {render(self.detail)}"

    def token_count(self, text: str) -> int | None:
        """Content tokens CLIP sees for ``text`` (without start/end tokens)."""
        return len(self.pipe.tokenizer(text, add_special_tokens=False).input_ids)

    @property
    def capabilities(self) -> Capabilities:
        """Text to image, image to image and inpainting (an inpainting checkpoint: inpainting
        only) with every scheduler; CLIP's token limit; the LCM Fast preset while its weights
        are at hand (else the DPM++ fallback, and a note saying which are missing);
        ``VAE: TAESD`` in the metadata of Fast images; one run at a time."""
        fast = self.fast.available
        notes = (
            {}
            if fast
            else {"fast": Notice("fast_preset_fallback", {"weights": self.fast.sources.lcm_lora})}
        )
        return Capabilities(
            modes=frozenset({INPAINT} if self.inpainting_model else MODES),
            token_limit=self.pipe.tokenizer.model_max_length - 2,  # without start/end tokens
            schedulers=frozenset(scheduler_ids()),
            presets=quality_presets(fast_available=fast),
            preset_notes=notes,
            metadata_fields=("VAE",),
            concurrency=1,
            test_model=self.is_test_model,
        )

    @property
    def fast_available(self) -> bool:
        """Whether the Fast preset (``lcm``: LCM-LoRA + TAESD) can be offered: its LoRA is
        loaded, or on disk / in the Hub cache / downloadable and not failed before. Never
        downloads; a failed load is remembered for the life of the process."""
        return self.fast.available

    def sampler_label(self, request: GenerationRequest) -> str:
        """The A1111 name of the request's scheduler."""
        return get_scheduler_spec(request.scheduler).label

    def metadata_fields(self, request: GenerationRequest) -> dict[str, str]:
        """Extra A1111 settings for the images of ``request`` (after it ran): ``VAE: TAESD``
        when the Fast path decoded them with TAESD, else nothing."""
        if request.scheduler == LCM_SCHEDULER and self.fast.taesd_loaded:
            return {"VAE": TAESD_LABEL}
        return {}

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        preview_every: int = 0,
    ) -> BackendOutput:
        """Run the pipeline; image *i* uses ``torch.Generator("cpu").manual_seed(seed + i)``.

        Args:
            request: a validated request whose ``seed`` is not -1.
            progress: called once per denoising step with the step number and total.
            cancel: checked after every step; when set, the run stops and
                :class:`GenerationCancelled` is raised.
            preview_every: attach a latent preview to every N-th step's progress event
                (and the last). Default 0: no previews.
        """
        import torch

        seeds = request.seeds
        counted = {"offset": 0, "total": hires_total(request) if request.hires_scale != 1 else 0}

        def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
            if cancel is not None and cancel.cancelled:
                raise GenerationCancelled()
            if progress is not None:
                done = counted["offset"] + step + 1
                total = counted["total"] or pipe.num_timesteps
                preview = None
                if preview_every and (done % preview_every == 0 or done == total):
                    from huatu.preview import latents_to_preview

                    preview = latents_to_preview(tensors["latents"])
                progress(ProgressEvent(step=done, total=total, preview=preview))
            return tensors

        with self._lock:
            if cancel is not None and cancel.cancelled:
                raise GenerationCancelled()
            fast = request.scheduler == LCM_SCHEDULER
            self.fast.use_lora(fast)  # FastPathUnavailable when the LCM-LoRA cannot be had
            self.pipe.scheduler = make_scheduler(request.scheduler, self._base_scheduler_config)
            generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
            run = self._run(request, generators, on_step_end, counted)
            if run.latents is None:  # strength too low for a step: the source itself
                return BackendOutput(images=run.pictures, seeds=seeds, notices=run.notices)
            pixels, notices = self.fast.decode(run.latents) if fast else (None, [])
            if pixels is None:
                pixels, vae_notices = self._decode(run.latents)
                notices += vae_notices
            if fast:
                notices = lcm_notices(request.guidance_scale) + notices
            pixels, flags = self.pipe.run_safety_checker(pixels, self.pipe.device, pixels.dtype)
            images = self.pipe.image_processor.postprocess(pixels.float(), output_type="pil")
            images = [run.finish(image) for image in images]
        flags = flags or [False] * len(images)
        kept = [
            (image, seed)
            for image, seed, flag in zip(images, seeds, flags, strict=True)
            if not flag
        ]
        return BackendOutput(
            images=[image for image, _ in kept],
            seeds=[seed for _, seed in kept],
            flagged=sum(bool(flag) for flag in flags),
            notices=run.notices + notices,
        )

    def _run(
        self, request: GenerationRequest, generators: list, on_step: Any, counted: dict
    ) -> EditRun:
        """The mode's denoising run (:mod:`huatu.backends.editing`), up to its latents."""
        if request.mode == IMG2IMG:
            return run_img2img(self.editing, request, generators, on_step)
        if request.mode == INPAINT:
            return run_inpaint(self.editing, request, generators, on_step)
        latents = self.pipe(
            width=request.width,
            height=request.height,
            **common_arguments(request, generators, on_step),
        ).images
        if request.hires_scale != 1:
            counted["offset"] = request.num_inference_steps
            latents = run_hires(self.editing, request, latents, self._pictures, generators, on_step)
        return EditRun(latents=latents)

    def _pictures(self, latents: Any) -> list[Any]:
        """``latents`` decoded to pictures (no safety check: an intermediate result)."""
        pixels, _ = self._decode(latents)
        return self.pipe.image_processor.postprocess(pixels.float(), output_type="pil")

    def _decode(self, latents: Any) -> tuple[Any, list[Notice]]:
        """Decode latents with the VAE; if half precision overflows to NaN/inf (the "black
        image" of fp16), decode once more with the VAE in fp32 and say so."""
        import torch

        vae = self.pipe.vae
        scale = vae.config.scaling_factor
        with torch.no_grad():
            pixels = vae.decode(latents.to(vae.dtype) / scale, return_dict=False)[0]
            if torch.isfinite(pixels).all() or vae.dtype == torch.float32:
                return pixels, []
            log.warning("VAE decode in %s gave NaN/inf; decoding again in fp32", vae.dtype)
            half = vae.dtype
            vae.to(torch.float32)
            try:
                pixels = vae.decode(latents.float() / scale, return_dict=False)[0]
            finally:
                vae.to(half)
        return pixels, [Notice("vae_fp32_retry", {"dtype": str(half).removeprefix("torch.")})]


def _load_pipeline(model: str, settings: Settings, plan: DevicePlan) -> Any:
    """Load ``model`` as a ``StableDiffusionPipeline`` on ``plan``'s device and dtype."""
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    source: str | Path = model
    if model == TINY_MODEL:
        from huatu.backends.tiny import ensure_tiny_model

        source = ensure_tiny_model(settings.cache_dir)
    elif Path(model).expanduser().exists():
        source = Path(model).expanduser()
        if not (source / "model_index.json").is_file():
            raise ModelLoadError("model_not_diffusers_folder", model=model)
    if settings.allow_pickle:
        log.warning(message("pickle_warning"))
    try:
        pipe = StableDiffusionPipeline.from_pretrained(
            source,
            dtype=getattr(torch, plan.dtype),
            use_safetensors=None if settings.allow_pickle else True,
        )
    except Exception as error:  # an edge: many libraries' errors become one sentence
        log.info("loading %s failed", model, exc_info=True)
        if not settings.allow_pickle and "safetensors" in str(error):
            raise ModelLoadError("model_pickle_refused", model=model) from None
        raise load_failure(model, error) from None
    if not (settings.low_memory and plan.device == "cuda"):  # offload places it itself
        pipe = pipe.to(plan.device)
    pipe.set_progress_bar_config(disable=True)
    tune_layout(pipe, plan)
    return pipe


def tune_layout(pipe: Any, plan: DevicePlan) -> None:
    """Put the VAE in ``channels_last`` for bf16 on the CPU: its convolutions then take
    oneDNN's fast path (``make bench``: decode 5.14 → 3.67 s on 2 AVX512-BF16 cores). The
    UNet stays as it is: channels_last gained only 1.07× there and raised peak memory."""
    import torch

    if plan.device == "cpu" and plan.dtype == "bfloat16":
        pipe.vae.to(memory_format=torch.channels_last)


def save_memory(pipe: Any, plan: DevicePlan) -> Notice:
    """``--low-memory``: on CUDA, keep each model on the CPU until the pipeline needs it
    (model CPU offload); everywhere, decode images larger than 512×512 tile by tile.

    Returns what to add to the status line.
    """
    if plan.device == "cuda":
        pipe.enable_model_cpu_offload()
    pipe.vae.enable_tiling()
    return Notice(
        "local_option_low_memory_cuda" if plan.device == "cuda" else "local_option_low_memory"
    )


#: Size of the warm-up run that compiles the UNet at load (the studio's default size).
COMPILE_WARMUP_SIDE = 512


def compile_unet(
    pipe: Any, plan: DevicePlan, cache_dir: Path, side: int = COMPILE_WARMUP_SIDE
) -> Notice:
    """``--compile``: ``torch.compile`` the UNet and compile it now, at load, with one
    denoising step at ``side``×``side`` with guidance (other sizes compile on first use).

    Compiled kernels go to ``cache_dir/inductor`` (unless ``TORCHINDUCTOR_CACHE_DIR`` is set),
    so the next start with the same model, size and torch finds them there.

    Args:
        pipe: the loaded pipeline (its UNet is replaced by the compiled one).
        plan: device and dtype.
        cache_dir: huatu's cache folder.
        side: image side of the warm-up run. Default 512.

    Returns what to add to the status line.
    """
    import os
    import time

    import torch
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    # torch writes its default into the environment once used: only a user's choice stays
    chosen = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if chosen is None or os.path.abspath(chosen) == os.path.abspath(default_cache_dir()):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir / "inductor")
    started = time.monotonic()
    if plan.device == "cpu":
        import torch._inductor.config as inductor_config

        # weights become constants, folded and pre-packed for oneDNN: 1.27x per UNet step on
        # 2 AVX512-BF16 cores (3.42 vs 4.38 s) against 1.10x without; a start with the cache
        # warm still takes ~52 s then (11 s without freezing), hence opt-in
        inductor_config.freezing = True
    pipe.unet = torch.compile(pipe.unet)
    pipe(
        "",
        num_inference_steps=1,
        guidance_scale=7.0,
        width=side,
        height=side,
        output_type="latent",
    )
    seconds = time.monotonic() - started
    log.info("compiled the UNet on %s in %.0f s", plan.short, seconds)
    return Notice("local_option_compiled", {"seconds": f"{seconds:.0f}"})


def load_failure(model: str, error: Exception) -> ModelLoadError:
    """Why ``model`` did not load, and what to do instead."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    remedy = Notice("model_remedy")
    if isinstance(error, GatedRepoError):
        return ModelLoadError("model_gated", model=model, remedy=remedy)
    if isinstance(error, RepositoryNotFoundError):
        return ModelLoadError("model_not_on_hub", model=model, remedy=remedy)
    if isinstance(error, (LocalEntryNotFoundError, OSError, ConnectionError)):
        return ModelLoadError("model_not_downloaded", model=model, remedy=remedy)
    kind = type(error).__name__
    return ModelLoadError("model_load_failed", model=model, kind=kind, remedy=remedy)
