"""The benchmark's cases: how each builds its pipeline and what one measurement runs.

Cases:
    baseline: plain diffusers, fp32, eager, default attention processor.
    huatu-default: what huatu's local backend does on this machine today (its device plan's
        dtype: bf16 on CPUs with AVX512-BF16/AMX, fp32 elsewhere; the VAE in channels_last).
    huatu-default+caching: the same with step caching (the "Faster" option, DeepCache).
    <dtype>+channels_last, <dtype>+channels_last+compile: engine candidates for huatu-default
        in this CPU's precision (full runs only).
    huatu-fast: the Fast preset on SD 1.5: LCM at 4 steps, guidance off (batch 1), TAESD.
    huatu-fast-1step: the Fast preset of a one-step family, on SDXS-512's architecture: one
        UNet call without guidance, its TAESD-architecture decoder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROMPT = "a watercolor painting of a lighthouse on a cliff at sunset, highly detailed"
SIZE = 512
LATENT = SIZE // 8
STEPS = 20
GUIDANCE = 7.0
FAST_STEPS = 4
IMAGE_SCHEDULER = "dpmpp_2m_karras"  # huatu's default sampler; 20 UNet calls for 20 steps
# In quick mode an end-to-end image is run for huatu-default, huatu-fast, and the cases whose
# estimate is at most this long; the others are estimated.
QUICK_IMAGE_LIMIT_S = 45.0
# Interleaving several models' conv/matmul shapes overflows oneDNN's default primitive cache
# (1024 entries): kernels would be re-generated on every call and every case look slower.
ONEDNN_CACHE = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16384")


@dataclass(frozen=True)
class CaseSpec:
    """How one case builds and runs its pipeline."""

    name: str
    dtype: str  # "float32" / "bfloat16" / "float16"
    channels_last: bool = False
    compile: bool = False
    fast: bool = False
    huatu_layout: bool = False  # huatu.backends.local_options.tune_layout, as `huatu serve` does
    step_cache: bool = False  # DeepCache on during the image (huatu.backends.step_cache)
    model: str = "sd15"  # huatu.bench.architecture.MODELS
    fast_steps: int = FAST_STEPS  # the fast cases' steps


def case_specs(compile_unet: bool, candidates: bool = True) -> list[CaseSpec]:
    """The cases in run order: the engine candidates only with ``candidates``, the compiled
    one only with ``compile_unet`` too. Candidates run in this CPU's precision (bf16 where
    huatu uses it, else fp32): bf16 without hardware support is emulated and slower."""
    from huatu.device import choose_device

    default_dtype = choose_device("cpu").dtype
    specs = [
        CaseSpec("baseline", "float32"),
        CaseSpec("huatu-default", default_dtype, huatu_layout=True),
        CaseSpec("huatu-default+caching", default_dtype, huatu_layout=True, step_cache=True),
    ]
    if candidates:
        label = "bf16" if default_dtype == "bfloat16" else "fp32"
        specs.append(CaseSpec(f"{label}+channels_last", default_dtype, channels_last=True))
        if compile_unet:
            compiled = f"{label}+channels_last+compile"
            specs.append(CaseSpec(compiled, default_dtype, channels_last=True, compile=True))
    specs.append(CaseSpec("huatu-fast", default_dtype, huatu_layout=True, fast=True))
    specs.append(
        CaseSpec(
            "huatu-fast-1step",
            default_dtype,
            huatu_layout=True,
            fast=True,
            model="sdxs",
            fast_steps=1,
        )
    )
    return specs


# --------------------------------------------------------------------------- building


def build_case_pipeline(spec: CaseSpec, tokenizer_dir: Path, shared: dict[tuple, Any]) -> Any:
    """The pipeline of ``spec``; modules are shared between cases with the same weights.

    ``shared`` maps (dtype, channels_last) to an already built pipeline.
    """
    import torch
    from diffusers import LCMScheduler, StableDiffusionPipeline

    from huatu.bench.architecture import build_pipeline
    from huatu.schedulers import make_scheduler

    key = (spec.model, spec.dtype, spec.channels_last, spec.huatu_layout)
    if key not in shared:
        pipe = build_pipeline(tokenizer_dir, getattr(torch, spec.dtype), model=spec.model)
        if spec.channels_last:
            for module in {id(m): m for m in (pipe.unet, pipe.vae, pipe.taesd)}.values():
                module.to(memory_format=torch.channels_last)
        if spec.huatu_layout:
            from huatu.backends.local_options import fast_decoder_layout, tune_layout
            from huatu.device import choose_device

            plan = choose_device("cpu", spec.dtype)
            tune_layout(pipe, plan)
            fast_decoder_layout(pipe.taesd, plan)  # as the Fast path loads TAESD
        shared[key] = pipe
    base = shared[key]
    unet = base.unet
    if spec.compile:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True  # weights become constants: folded, pre-packed
        unet = torch.compile(unet)
    pipe = StableDiffusionPipeline(
        vae=base.vae,
        text_encoder=base.text_encoder,
        tokenizer=base.tokenizer,
        unet=unet,
        scheduler=base.scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.taesd = base.taesd
    if spec.model == "sdxs":
        pipe.scheduler = make_scheduler("euler", base.scheduler.config)  # the family's sampler
    elif spec.fast:
        pipe.scheduler = LCMScheduler.from_config(base.scheduler.config)
    else:
        pipe.scheduler = make_scheduler(IMAGE_SCHEDULER, base.scheduler.config)
    return pipe


# --------------------------------------------------------------------------- one measurement


class CaseRunner:
    """Runs one case's UNet step, decode and image on fixed inputs."""

    def __init__(self, spec: CaseSpec, pipe: Any, text_embeddings: Any) -> None:
        import torch

        self.spec = spec
        self.pipe = pipe
        self.dtype = getattr(torch, spec.dtype)
        batch = 1 if spec.fast else 2
        generator = torch.Generator("cpu").manual_seed(0)
        latents = torch.randn(batch, 4, LATENT, LATENT, generator=generator)
        self.latents = latents.to(self.dtype)
        self.decode_latents = latents[:1].to(self.dtype)
        self.embeddings = text_embeddings[:batch].to(self.dtype)
        self.timestep = torch.tensor(981)  # like scheduler.timesteps: a 0-d int64 tensor
        if spec.channels_last:
            self.latents = self.latents.to(memory_format=torch.channels_last)
            self.decode_latents = self.decode_latents.to(memory_format=torch.channels_last)

    def unet_step(self) -> Any:
        """One UNet forward, called the way the pipeline calls it."""
        import torch

        with torch.inference_mode():
            return self.pipe.unet(
                self.latents,
                self.timestep,
                encoder_hidden_states=self.embeddings,
                timestep_cond=None,
                cross_attention_kwargs=None,
                added_cond_kwargs=None,
                return_dict=False,
            )[0]

    @property
    def merges_tokens(self) -> bool:
        """Whether huatu's "Faster" merges tokens too in this case's precision on the CPU
        (:func:`huatu.backends.token_merging.merges_tokens`)."""
        from huatu.backends.token_merging import merges_tokens
        from huatu.device import choose_device

        return merges_tokens(self.pipe.unet, choose_device("cpu", self.spec.dtype))

    def less_work(self, interval: int) -> Any:
        """What "Faster" does to the UNet (:func:`huatu.backends.faster.running`), with a full
        call every ``interval`` calls; a context that yields the step cache (its counts)."""
        from huatu.backends.faster import running

        return running(self.pipe.unet, self.merges_tokens, seed=0, interval=interval)

    def cached_steps(self, calls: int = 3) -> Any:
        """``calls`` UNet steps as "Faster" runs them: one full call, the rest cached."""
        with self.less_work(interval=calls):
            for _ in range(calls):
                output = self.unet_step()
        return output

    def unet_step_batched(self, images: int) -> Any:
        """One UNet forward with CFG for ``images`` images at once (UNet batch 2×images)."""
        import torch

        latents = self.latents.repeat(images, 1, 1, 1)
        embeddings = self.embeddings.repeat_interleave(images, dim=0)
        with torch.inference_mode():
            return self.pipe.unet(
                latents, self.timestep, encoder_hidden_states=embeddings, return_dict=False
            )[0]

    def decode(self) -> Any:
        """Latents (1×4×64×64) to pixels (1×3×512×512): TAESD for the fast case, else the VAE."""
        import torch

        with torch.inference_mode():
            if self.spec.fast:
                return self.pipe.taesd.decode(self.decode_latents, return_dict=False)[0]
            vae = self.pipe.vae
            return vae.decode(self.decode_latents / vae.config.scaling_factor, return_dict=False)[0]

    def text_encode(self) -> Any:
        """The prompt (and, with CFG, the empty negative prompt) through CLIP."""
        import torch

        with torch.inference_mode():
            return self.pipe.encode_prompt(
                PROMPT,
                device="cpu",
                num_images_per_prompt=1,
                do_classifier_free_guidance=not self.spec.fast,
            )

    def image(self) -> Any:
        """One 512×512 image end to end, as a PIL image (text, steps, decode, postprocess)."""
        import torch

        generator = torch.Generator("cpu").manual_seed(0)
        if self.spec.step_cache:
            from huatu.backends.step_cache import DEFAULT_INTERVAL

            with self.less_work(DEFAULT_INTERVAL):
                return self._default_image(generator)
        if not self.spec.fast:
            return self._default_image(generator)
        latents = self.pipe(
            PROMPT,
            num_inference_steps=self.spec.fast_steps,
            guidance_scale=1.0,  # <= 1: no classifier-free guidance, UNet batch 1
            height=SIZE,
            width=SIZE,
            generator=generator,
            output_type="latent",
        ).images
        with torch.inference_mode():
            pixels = self.pipe.taesd.decode(latents, return_dict=False)[0]
        return self.pipe.image_processor.postprocess(pixels.float(), output_type="pil")[0]

    def _default_image(self, generator: Any) -> Any:
        return self.pipe(
            PROMPT,
            num_inference_steps=STEPS,
            guidance_scale=GUIDANCE,
            height=SIZE,
            width=SIZE,
            generator=generator,
            output_type="pil",
        ).images[0]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn`` took, and what it returned."""
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def relative_l2(value: Any, reference: Any) -> float:
    """‖value − reference‖₂ / ‖reference‖₂, computed in fp32."""
    value, reference = value.float(), reference.float()
    return float((value - reference).norm() / reference.norm())
