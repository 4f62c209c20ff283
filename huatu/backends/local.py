"""Local generation with a diffusers ``StableDiffusionPipeline``.

torch and diffusers are imported here, lazily, when a backend is created; never at import time.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from huatu.backends import faster
from huatu.backends.base import (
    BackendOutput,
    CancelToken,
    Capabilities,
    ProgressCallback,
    ProgressEvent,
)
from huatu.backends.batching import Batcher, Job, batch_images_for
from huatu.backends.editing import EditingPipelines, hires_total, run_mode
from huatu.backends.fast import TAESD_LABEL, FastPath, fast_sources, lcm_notices
from huatu.backends.local_batch import batch_key, kept_output, run_together
from huatu.backends.local_options import compile_unet, load_on_device, save_memory
from huatu.backends.networks import LoraAdapters, PromptNetworks, embedding_width
from huatu.backends.vae import VaeChoice, decode
from huatu.config import Settings
from huatu.device import DevicePlan, choose_device
from huatu.errors import DeviceError, GenerationCancelled, ModelLoadError
from huatu.messages import Joined, Notice, render
from huatu.models.families import family
from huatu.models.folders import VAE, library_for
from huatu.models.hashes import hashes_for, short
from huatu.models.loading import find_model
from huatu.presets import quality_presets
from huatu.prompts.encoding import PromptEncoder
from huatu.request import INPAINT, MODES, GenerationRequest
from huatu.schedulers import LCM_SCHEDULER, get_scheduler_spec, make_scheduler, scheduler_ids

if TYPE_CHECKING:
    from PIL.Image import Image

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
        self.library = library_for(settings)
        self.source = find_model(model, settings, self.library)
        self.pipe, recognised = load_on_device(self.source, settings, self.plan)
        self.family = family(recognised.family)
        #: A1111's ``Model hash`` of a checkpoint file (its sha256's first 10 hex digits).
        self.model_hash = (
            short(hashes_for(settings.cache_dir).full(self.source.location))
            if self.source.single_file
            else None
        )
        self._base_scheduler_config = self.pipe.scheduler.config
        self._lock = threading.Lock()
        self.is_test_model = self.family.id == "tiny"
        sources = fast_sources(model, settings, family=self.family, lcm_lora=lcm_lora, taesd=taesd)
        adapters = LoraAdapters(self.pipe)  # the Fast path's LCM-LoRA and the prompt's LoRAs
        self.fast = FastPath(self.pipe, self.plan, sources, adapters)
        #: A1111's prompt syntax (weights, BREAK, 75-token chunks) where the model reads CLIP.
        self.prompts = PromptEncoder(self.pipe) if PromptEncoder.suits(self.pipe) else None
        self.networks = PromptNetworks(
            self.pipe,
            adapters,
            self.library,
            hashes_for(settings.cache_dir),
            tokenizer_lock=self.prompts.tokenizer_lock if self.prompts else None,
        )
        self.editing = EditingPipelines(self.pipe)
        self.vae = VaeChoice(self.pipe, hashes_for(settings.cache_dir))
        #: An inpainting checkpoint (its UNet also reads the mask and the masked picture: 9
        #: input channels) runs inpainting only.
        self.inpainting_model = self.pipe.unet.config.in_channels == INPAINT_UNET_CHANNELS
        #: "Faster" here: step caching, and token merging with it where that pays.
        self.can_cache, self.merges_tokens = faster.abilities(
            self.pipe.unet, self.plan, settings.compile
        )
        #: Compatible requests waiting together run as one batch (on CUDA, by default).
        self.batch_images = batch_images_for(self.plan, settings.batch_images)
        self.batcher = Batcher(self._run_jobs, self.batch_images) if self.batch_images > 1 else None
        options = []
        if self.batcher is not None:
            options.append(Notice("local_option_batching", {"images": self.batch_images}))
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

    @property
    def vae_name(self) -> str | None:
        """The VAE file it decodes with, or ``None``: the model's own."""
        return self.vae.file.name if self.vae.file is not None else None

    def use_vae(self, name: str | None) -> None:
        """Decode with the VAE ``name`` of the models folders' ``VAE/`` from the next
        generation on, or with the model's own (``None``).

        Raises:
            UnknownModelError: no VAE of that name (the closest names are listed).
            ModelLoadError: not a VAE for this model; the one in use stays.
        """
        found = None if name is None else self.library.get(VAE, name)
        with self._lock:
            if self.vae.use(found):  # the editing pipelines are made again with it
                self.editing = EditingPipelines(self.pipe)

    def token_count(self, text: str) -> int | None:
        """Content tokens CLIP sees for ``text`` as A1111 counts them (weights and
        ``<lora:…>`` tags left out; every chunk but the last counted as a full 75)."""
        if self.prompts is not None:
            return self.prompts.chunked(text).token_count
        with self.networks.tokenizer_lock:
            return len(self.pipe.tokenizer(text, add_special_tokens=False).input_ids)

    @property
    def capabilities(self) -> Capabilities:
        """Text to image, image to image and inpainting (an inpainting checkpoint: inpainting
        only) with every scheduler; CLIP's 75-token chunks (a longer prompt is more chunks,
        nothing ignored); the LCM Fast preset while its weights are at hand (else the DPM++
        fallback, and a note saying which are missing); ``VAE: TAESD`` in the metadata of Fast
        images, the hashes of the LoRAs and embeddings a prompt used; one run at a time."""
        fast = self.fast.available
        notes = (
            {}
            if fast
            else {"fast": Notice("fast_preset_fallback", {"weights": self.fast.sources.lcm_lora})}
        )
        return Capabilities(
            modes=frozenset({INPAINT} if self.inpainting_model else MODES),
            token_limit=self.pipe.tokenizer.model_max_length - 2,  # without start/end tokens
            prompt_chunks=self.prompts is not None,
            schedulers=frozenset(scheduler_ids()),
            presets=quality_presets(fast_available=fast, family=self.family),
            preset_notes=notes,
            metadata_fields=("VAE hash", "VAE", "Lora hashes", "TI hashes", *faster.FIELDS),
            concurrency=self.batch_images,  # they reach the batcher together
            test_model=self.is_test_model,
            family=self.family,
            embedding_width=embedding_width(self.pipe),
            extra_networks=True,
            vae_override=True,
            in_process_weights=True,
            step_cache=self.can_cache,
            fast_decode=bool(self.fast.sources.taesd),
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
        when TAESD decoded them (the Fast path, or ``fast_decode``), else ``VAE hash`` and
        ``VAE`` of a chosen VAE file; ``Lora hashes`` and ``TI hashes`` of the LoRAs and
        embeddings its prompts used; ``Cache`` when step caching ran, with ``Token merging
        ratio`` where it merged tokens too."""
        fields = self.networks.metadata(self.networks.find(request))
        if self.taesd_decodes(request) and self.fast.taesd_loaded:
            fields["VAE"] = TAESD_LABEL
        else:
            fields.update(self.vae.metadata())
        if self.caches(request):
            fields.update(faster.metadata(self.merges_tokens))
        return fields

    def taesd_decodes(self, request: GenerationRequest) -> bool:
        """Whether ``request``'s images are decoded with TAESD: the Fast path, or asked."""
        return self.fast_path(request) or request.fast_decode

    def caches(self, request: GenerationRequest) -> bool:
        """Whether ``request`` runs with step caching: asked, possible here, and a many-step
        run (the Fast path's and a few-step family's few steps gain nothing)."""
        many_steps = not self.fast_path(request) and not self.family.few_step
        return request.step_cache and self.can_cache and many_steps

    def fast_path(self, request: GenerationRequest) -> bool:
        """Whether ``request`` takes the Fast path (LCM-LoRA + TAESD): the LCM scheduler on a
        many-step model. A few-step model (an LCM checkpoint …) runs its scheduler as it is."""
        return request.scheduler == LCM_SCHEDULER and not self.family.few_step

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        preview_every: int = 0,
    ) -> BackendOutput:
        """Run the pipeline; image *i* uses ``torch.Generator("cpu").manual_seed(seed + i)``.
        Where batching is on, compatible requests waiting together run as one batch, each
        image as it would alone (:mod:`huatu.backends.local_batch`).

        Args:
            request: a validated request whose ``seed`` is not -1.
            progress: called once per denoising step with the step number and total.
            cancel: checked after every step; when set, the run stops (or leaves its batch)
                and :class:`GenerationCancelled` is raised.
            preview_every: attach a latent preview to every N-th step's progress event
                (and the last). Default 0: no previews.
        """
        if self.batcher is None:
            return self._generate_alone(request, progress, cancel, preview_every)
        key = batch_key(self, request)
        return self.batcher.submit(Job(request, key, progress, cancel, preview_every))

    def _run_jobs(self, jobs: list[Job]) -> None:
        """The batcher's run: one job as any request runs, more as one pipeline call."""
        if len(jobs) == 1:
            job = jobs[0]
            job.finish(
                self._generate_alone(job.request, job.progress, job.cancel, job.preview_every)
            )
            return
        with self._lock:
            run_together(self, jobs)

    def _generate_alone(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        preview_every: int,
    ) -> BackendOutput:
        """One request's run (:meth:`generate`), with its LoRAs on for its time only."""
        counted = {"offset": 0, "total": hires_total(request) if request.hires_scale != 1 else 0}
        decodes = self.taesd_decodes(request)  # TAESD previews then: it is loaded anyway

        def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
            if cancel is not None and cancel.cancelled:
                raise GenerationCancelled()
            if progress is not None:
                done = counted["offset"] + step + 1
                total = counted["total"] or pipe.num_timesteps
                preview = self.preview(tensors["latents"], done, total, preview_every, decodes)
                progress(ProgressEvent(step=done, total=total, preview=preview))
            return tensors

        with self._lock:
            if cancel is not None and cancel.cancelled:
                raise GenerationCancelled()
            used = self.networks.find(request)  # an unknown LoRA is refused here
            # FastPathUnavailable when the LCM-LoRA cannot be had
            self.fast.use_lora(self.fast_path(request))
            try:
                self.networks.apply(used)
                return self._generate(request, on_step_end, counted)
            finally:
                self.networks.release()  # the next request runs as if they were never loaded

    def preview(self, latents: Any, done: int, total: int, every: int, taesd: bool) -> Image | None:
        """A picture of the first of ``latents`` on every ``every``-th step and the last
        (``every`` 0: never): TAESD's where at hand (loaded first when ``taesd``), except on
        the last step (the image itself follows), else a latent projection."""
        if not every or (done % every and done != total):
            return None
        from huatu.preview import latents_to_preview

        drawn = done < total and self.fast.preview(latents, load=taesd)
        return drawn or latents_to_preview(latents)

    def scheduler_for(self, request: GenerationRequest) -> None:
        """Give the pipeline ``request``'s scheduler, fresh."""
        self.pipe.scheduler = make_scheduler(request.scheduler, self._base_scheduler_config)

    def less_work(self, request: GenerationRequest, seed: int) -> AbstractContextManager:
        """What "Faster" does for ``request``'s run (nothing unless it :meth:`caches`);
        ``seed`` draws which tokens merge."""
        if not self.caches(request):
            return nullcontext()
        return faster.running(self.pipe.unet, self.merges_tokens, seed)

    def _generate(self, request: GenerationRequest, on_step: Any, counted: dict) -> BackendOutput:
        """The run itself, under the lock with the request's adapters on: denoise, decode,
        check, post-process."""
        import torch

        seeds = request.seeds
        conditioning = (
            self.prompts.encode(request.prompt, request.negative_prompt) if self.prompts else None
        )
        self.scheduler_for(request)
        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        with self.less_work(request, seeds[0]):  # every pass of the run shares the UNet
            run = run_mode(
                self.editing, request, generators, on_step, conditioning, self._pictures, counted
            )
        if run.latents is None:  # strength too low for a step: the source itself
            return BackendOutput(images=run.pictures, seeds=seeds, notices=run.notices)
        images, flags, notices = self.images_of(run.latents, request)
        output = kept_output([run.finish(image) for image in images], seeds, flags, notices)
        output.notices[:0] = run.notices
        return output

    def images_of(
        self, latents: Any, request: GenerationRequest
    ) -> tuple[list[Image], list[bool], list[Notice]]:
        """``request``'s final ``latents`` decoded (TAESD or the VAE), checked by the safety
        checker and made pictures: the pictures, which were flagged, and the notices."""
        taesd = self.taesd_decodes(request)
        pixels, notices = self.fast.decode(latents) if taesd else (None, [])
        if pixels is None:
            pixels, vae_notices = decode(self.pipe.vae, latents)
            notices += vae_notices
        if self.fast_path(request):
            notices = lcm_notices(request.guidance_scale) + notices
        pixels, flags = self._safety_check(pixels)
        images = self.pipe.image_processor.postprocess(pixels.float(), output_type="pil")
        return images, flags or [False] * len(images), notices

    def _pictures(self, latents: Any) -> list[Any]:
        """``latents`` decoded to pictures (no safety check: an intermediate result)."""
        pixels, _ = decode(self.pipe.vae, latents)
        return self.pipe.image_processor.postprocess(pixels.float(), output_type="pil")

    def _safety_check(self, pixels: Any) -> tuple[Any, list[bool] | None]:
        """The model's safety checker on decoded pixels, when it has one (SD 1.x folders
        that ship one); a model without one (SDXL, single files) flags nothing."""
        check = getattr(self.pipe, "run_safety_checker", None)
        return check(pixels, self.pipe.device, pixels.dtype) if check else (pixels, None)
