"""The model families huatu knows, in one table: what each is, how it is loaded, and the
defaults and sizes that suit it.

The studio's size presets, the request defaults for a model and the family checks read this
table; :mod:`huatu.models.recognise` decides which row a file belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

#: SDXL's training buckets (Stability AI's published list), landscape and portrait.
SDXL_SIZES: tuple[tuple[int, int], ...] = (
    (1024, 1024),
    (1152, 896),
    (896, 1152),
    (1216, 832),
    (832, 1216),
    (1344, 768),
    (768, 1344),
    (1536, 640),
    (640, 1536),
)
#: Sizes that suit a model trained at 512×512 (SD 1.x, SD 2.x base, the 512 few-step ones).
SD_SIZES: tuple[tuple[int, int], ...] = (
    (512, 512),
    (512, 768),
    (768, 512),
    (576, 768),
    (768, 576),
    (448, 640),
    (640, 448),
    (432, 768),
    (768, 432),
)
#: Sizes for a model trained at 768×768 (SD 2.x).
SD2_SIZES: tuple[tuple[int, int], ...] = (
    (768, 768),
    (640, 896),
    (896, 640),
    (576, 1024),
    (1024, 576),
)

#: Scheduler ids (:mod:`huatu.schedulers`) that suit ordinary many-step models.
MANY_STEP_SCHEDULERS = ("dpmpp_2m_karras", "dpmpp_2m", "euler_a", "euler", "ddim", "pndm")


@dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        id: its id (``sd1``, ``sdxl``, ``sd-turbo`` …), shown in model lists.
        label: its name for people.
        pipeline: the diffusers text-to-image pipeline class that runs it.
        sizes: (width, height) sizes that suit it, the default first.
        max_side: the largest side a request may ask of it.
        steps: its default denoising steps.
        guidance: its default guidance scale (0 or 1: no classifier-free guidance).
        schedulers: scheduler ids that suit it, the default first.
        reads_chinese: its text encoder reads Chinese: prompts go to it as written, with no
            translation step. Default off.
        few_step: made for very few steps (Turbo, LCM, SDXS). Default off.
        fast_lora: the LCM-LoRA that gives it the 4-step Fast preset, if one exists.
        taesd: the tiny decoder (TAESD) that matches its latents, if one exists.
        single_file: it is published as single ``.safetensors`` checkpoints that diffusers'
            ``from_single_file`` reads. Default on.
    """

    id: str
    label: str
    pipeline: str
    sizes: tuple[tuple[int, int], ...]
    max_side: int
    steps: int
    guidance: float
    schedulers: tuple[str, ...]
    reads_chinese: bool = False
    few_step: bool = False
    fast_lora: str | None = None
    taesd: str | None = None
    single_file: bool = True

    @property
    def size(self) -> tuple[int, int]:
        """Its default (width, height)."""
        return self.sizes[0]


FAMILIES: dict[str, Family] = {
    family.id: family
    for family in (
        Family(
            "sd1",
            "Stable Diffusion 1.x",
            "StableDiffusionPipeline",
            SD_SIZES,
            max_side=1024,
            steps=20,
            guidance=7.0,
            schedulers=(*MANY_STEP_SCHEDULERS, "lcm"),
            fast_lora="latent-consistency/lcm-lora-sdv1-5",
            taesd="madebyollin/taesd",
        ),
        Family(
            "sd2",
            "Stable Diffusion 2.x",
            "StableDiffusionPipeline",
            SD2_SIZES,
            max_side=1024,
            steps=25,
            guidance=7.0,
            schedulers=MANY_STEP_SCHEDULERS,
            taesd="madebyollin/taesd",
        ),
        Family(
            "sdxl",
            "Stable Diffusion XL",
            "StableDiffusionXLPipeline",
            SDXL_SIZES,
            max_side=1536,
            steps=25,
            guidance=6.0,
            schedulers=(*MANY_STEP_SCHEDULERS, "lcm"),
            fast_lora="latent-consistency/lcm-lora-sdxl",
            taesd="madebyollin/taesdxl",
        ),
        Family(
            "sd-turbo",
            "SD-Turbo",
            "StableDiffusionPipeline",
            ((512, 512),),
            max_side=768,
            steps=1,
            guidance=0.0,
            schedulers=("euler_a", "euler"),
            few_step=True,
            taesd="madebyollin/taesd",
        ),
        Family(
            "sdxl-turbo",
            "SDXL-Turbo",
            "StableDiffusionXLPipeline",
            ((512, 512),),
            max_side=1024,
            steps=1,
            guidance=0.0,
            schedulers=("euler_a", "euler"),
            few_step=True,
            taesd="madebyollin/taesdxl",
        ),
        Family(
            "lcm",
            "Latent Consistency (SD 1.x)",
            "StableDiffusionPipeline",
            SD_SIZES,
            max_side=1024,
            steps=4,
            guidance=1.0,
            schedulers=("lcm",),
            few_step=True,
            taesd="madebyollin/taesd",
        ),
        Family(
            "lcm-sdxl",
            "Latent Consistency (SDXL)",
            "StableDiffusionXLPipeline",
            SDXL_SIZES,
            max_side=1536,
            steps=4,
            guidance=1.0,
            schedulers=("lcm",),
            few_step=True,
            taesd="madebyollin/taesdxl",
        ),
        Family(
            "sdxs",
            "SDXS-512",
            "StableDiffusionPipeline",
            ((512, 512),),
            max_side=768,
            steps=1,
            guidance=0.0,
            schedulers=("euler",),
            few_step=True,
            single_file=False,
        ),
        Family(
            "kolors",
            "Kolors",
            "KolorsPipeline",
            SDXL_SIZES,
            max_side=1536,
            steps=25,
            guidance=5.0,
            schedulers=("euler", "dpmpp_2m_karras"),
            reads_chinese=True,
            single_file=False,
        ),
        Family(
            "hunyuan-dit",
            "Hunyuan-DiT",
            "HunyuanDiTPipeline",
            SDXL_SIZES[:5],
            max_side=1280,
            steps=50,
            guidance=5.0,
            schedulers=("ddim", "euler"),
            reads_chinese=True,
            single_file=False,
        ),
        Family(
            "taiyi",
            "Taiyi (Chinese Stable Diffusion)",
            "StableDiffusionPipeline",
            SD_SIZES,
            max_side=1024,
            steps=25,
            guidance=7.0,
            schedulers=MANY_STEP_SCHEDULERS,
            reads_chinese=True,
            single_file=False,
        ),
        Family(
            "tiny",
            "huatu's tiny test model (SD 1.x layout, random weights)",
            "StableDiffusionPipeline",
            SD_SIZES,
            max_side=1024,
            steps=20,
            guidance=7.0,
            schedulers=(*MANY_STEP_SCHEDULERS, "lcm"),
        ),
    )
}
#: The family of a model that could not be recognised (a Hub id not yet downloaded …).
DEFAULT_FAMILY = "sd1"


def family(family_id: str) -> Family:
    """The family ``family_id`` (``KeyError`` for an unknown one: ids come from code)."""
    return FAMILIES[family_id]
