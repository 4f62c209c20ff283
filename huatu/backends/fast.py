"""The Fast path of the local backend: LCM-LoRA on the UNet and a TAESD decoder.

A request with ``scheduler="lcm"`` runs the Latent Consistency Model scheduler in a few steps
with the LCM-LoRA (``latent-consistency/lcm-lora-sdv1-5``) enabled on the UNet, and decodes
with TAESD (``madebyollin/taesd``, an ``AutoencoderTiny``) instead of the full VAE. Both are
loaded on first use, not at start. For every other scheduler the LoRA is disabled, so those
requests draw exactly what they drew before.

Whether the weights can be had is decided once per process: a failed load is remembered, and
:attr:`FastPath.available` answers without downloading anything.

torch and diffusers are imported lazily, as in :mod:`huatu.backends.local`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huatu.backends.local_options import fast_decoder_layout
from huatu.backends.networks import LoraAdapters
from huatu.config import TINY_MODEL, is_hub_id
from huatu.device import DevicePlan
from huatu.errors import ModelLoadError
from huatu.messages import Notice

if TYPE_CHECKING:
    from huatu.models.families import Family

log = logging.getLogger(__name__)

#: The LoRA adapter's name inside the pipeline.
LCM_ADAPTER = "lcm"
#: Default LCM-LoRA for SD 1.5 (Hugging Face Hub id).
DEFAULT_LCM_LORA = "latent-consistency/lcm-lora-sdv1-5"
#: Default TAESD for SD 1.x latents (Hugging Face Hub id).
DEFAULT_TAESD = "madebyollin/taesd"
#: LCM wants little or no classifier-free guidance; above this a notice says so.
LCM_MAX_GUIDANCE = 2.0
#: The file diffusers saves and looks for in a LoRA folder or repository.
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"
#: The ``VAE`` metadata value of images decoded with TAESD.
TAESD_LABEL = "TAESD"


class FastPathUnavailable(ModelLoadError):
    """The Fast preset's LCM-LoRA could not be loaded (offline and not in the cache, a missing
    file, or weights that do not fit the model).

    Args:
        weights: the LoRA's Hub id or path, as configured.
    """

    key = "fast_unavailable"

    def __init__(self, weights: str) -> None:
        super().__init__(self.key, weights=weights)


@dataclass(frozen=True)
class FastSources:
    """Where the Fast path's weights come from.

    Attributes:
        lcm_lora: a Hub id, a folder holding ``pytorch_lora_weights.safetensors``, or a
            ``.safetensors`` file.
        taesd: a Hub id or a folder holding a diffusers ``AutoencoderTiny``.
        allow_pickle: also load pickle-format weights (``--allow-pickle``). Default off.
    """

    lcm_lora: str
    taesd: str
    allow_pickle: bool = False


def fast_sources(
    model: str,
    settings: Any,
    *,
    family: Family | None = None,
    lcm_lora: str | None = None,
    taesd: str | None = None,
) -> FastSources:
    """The sources for ``model`` of ``family``: the arguments if given, else the settings'
    ``lcm_lora`` / ``taesd`` (when :class:`~huatu.config.Settings` has them), else the
    built-in tiny model's random ones for the tiny model (built offline on first use), else
    the family's own (SD 1.x's when the family is not known). A family without an LCM-LoRA
    has no Fast path (``lcm_lora`` empty)."""
    lcm_lora = lcm_lora or getattr(settings, "lcm_lora", None)
    taesd = taesd or getattr(settings, "taesd", None)
    tiny = model == TINY_MODEL or (family is not None and family.id == "tiny")
    if tiny and not (lcm_lora and taesd):
        from huatu.backends.tiny import ensure_tiny_fast_weights

        tiny_lora, tiny_taesd = ensure_tiny_fast_weights(settings.cache_dir)
        lcm_lora, taesd = lcm_lora or str(tiny_lora), taesd or str(tiny_taesd)
    if family is None:
        lcm_lora, taesd = lcm_lora or DEFAULT_LCM_LORA, taesd or DEFAULT_TAESD
    elif not tiny:
        lcm_lora, taesd = lcm_lora or family.fast_lora, taesd or family.taesd
    allow_pickle = bool(getattr(settings, "allow_pickle", False))
    return FastSources(lcm_lora or "", taesd or "", allow_pickle)


def _may_load(source: str, filename: str) -> bool:
    """Whether ``source`` can probably be loaded, without downloading anything: a local file
    or folder that exists, or a Hub id that is in the Hub cache or may be downloaded (the Hub
    is not switched off with ``HF_HUB_OFFLINE``)."""
    path = Path(source).expanduser()
    if path.exists():
        return True
    if not is_hub_id(source):
        return False
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(source, filename), str):
        return True
    return not constants.HF_HUB_OFFLINE


class FastPath:
    """Lazily loads and switches the LCM-LoRA and TAESD of one pipeline.

    Not thread-safe by itself: the local backend calls it under its generation lock.

    Args:
        pipe: the loaded ``StableDiffusionPipeline``.
        plan: its device and dtype (TAESD is loaded to match).
        sources: where the weights come from.
        adapters: the pipeline's LoRA adapter set, shared with the prompt's LoRAs. Default:
            one of its own.
    """

    #: Its part of the pipeline's adapter set.
    PART = "fast"

    def __init__(
        self,
        pipe: Any,
        plan: DevicePlan,
        sources: FastSources,
        adapters: LoraAdapters | None = None,
    ) -> None:
        self.pipe = pipe
        self.plan = plan
        self.sources = sources
        self.adapters = adapters or LoraAdapters(pipe)
        self._load_lock = threading.Lock()
        self._lora_loaded = False
        self._lora_failed = False
        self._taesd: Any = None
        self._taesd_failed = False

    @property
    def available(self) -> bool:
        """Whether an ``lcm`` request can be expected to work: the LoRA is loaded, or has not
        failed yet and is on disk, in the Hub cache, or downloadable. Never downloads."""
        if self._lora_loaded:
            return True
        if self._lora_failed or not self.sources.lcm_lora:
            return False
        return _may_load(self.sources.lcm_lora, LORA_WEIGHT_NAME)

    @property
    def taesd_loaded(self) -> bool:
        """Whether TAESD is loaded (the last fast decode used it)."""
        return self._taesd is not None

    def use_lora(self, enabled: bool) -> None:
        """Enable the LCM-LoRA (loading it on first use) or disable it.

        Raises:
            FastPathUnavailable: ``enabled`` and the LoRA cannot be loaded; the failure is
                remembered, and the pipeline is left as it was (LoRA off).
        """
        if enabled:
            self._load_lora()
        if self._lora_loaded:
            self.adapters.use(self.PART, {LCM_ADAPTER: 1.0} if enabled else {})

    def _load_lora(self) -> None:
        with self._load_lock:
            if self._lora_loaded:
                return
            if self._lora_failed:
                raise FastPathUnavailable(self.sources.lcm_lora)
            # a Hub id: name the file, or an offline load refuses even a cached copy
            source, options = self.sources.lcm_lora, {"weight_name": LORA_WEIGHT_NAME}
            path = Path(source).expanduser()
            if path.is_file():
                source, options = str(path.parent), {"weight_name": path.name}
            elif path.is_dir():  # diffusers finds the one .safetensors file if named otherwise
                source = str(path)
                options = options if (path / LORA_WEIGHT_NAME).is_file() else {}
            if not self.sources.allow_pickle:
                options["use_safetensors"] = True  # never a pickle file unless allowed
            try:
                self.adapters.load(LCM_ADAPTER, source, **options)
            except Exception as error:  # offline, missing, not a LoRA for this UNet: one answer
                _log_failure("the LCM-LoRA", self.sources.lcm_lora, error)
                self._lora_failed = True
                raise FastPathUnavailable(self.sources.lcm_lora) from None
            self._lora_loaded = True
            log.info("loaded the LCM-LoRA %s", self.sources.lcm_lora)

    def taesd(self) -> tuple[Any, list[Notice]]:
        """TAESD (loaded on first use), or ``None`` and a notice when it cannot be loaded
        (then the full VAE decodes: slower, but the request does not fail)."""
        if self._taesd is None and not self._taesd_failed:
            self._taesd = self._load_taesd()
            self._taesd_failed = self._taesd is None
        if self._taesd is None:
            return None, [Notice("taesd_unavailable", {"weights": self.sources.taesd})]
        return self._taesd, []

    def _load_taesd(self) -> Any:
        import torch
        from diffusers import AutoencoderTiny

        source = str(Path(self.sources.taesd).expanduser())
        if not Path(source).exists():
            source = self.sources.taesd
        try:
            taesd = AutoencoderTiny.from_pretrained(
                source,
                dtype=getattr(torch, self.plan.dtype),
                use_safetensors=None if self.sources.allow_pickle else True,
            )
        except Exception as error:
            _log_failure("TAESD", self.sources.taesd, error)
            return None
        taesd.to(self.plan.device).eval()
        fast_decoder_layout(taesd, self.plan)
        log.info("loaded TAESD %s", self.sources.taesd)
        return taesd

    def decode(self, latents: Any) -> tuple[Any, list[Notice]]:
        """Decode the pipeline's latents with TAESD to pixels in [-1, 1]; ``(None, [notice])``
        when TAESD is unavailable (see :meth:`taesd`): the caller decodes with the VAE."""
        import torch

        taesd, notices = self.taesd()
        if taesd is None:
            return None, notices
        with torch.no_grad():  # TAESD reads the scaled latents as they are (scaling 1.0)
            pixels = taesd.decode(latents.to(taesd.device, taesd.dtype), return_dict=False)[0]
        return pixels.clamp(-1, 1), notices

    def preview(self, latents: Any, *, load: bool) -> Any:
        """A preview of the first latent decoded by TAESD (:func:`huatu.preview.taesd_preview`)
        when TAESD is loaded — or, with ``load``, loadable — else ``None`` (the caller shows
        the linear projection)."""
        if not (load or self.taesd_loaded):
            return None
        taesd, _ = self.taesd()
        if taesd is None:
            return None
        from huatu.preview import taesd_preview

        return taesd_preview(lambda small: self.decode(small)[0], latents)


def _log_failure(what: str, source: str, error: Exception) -> None:
    """One warning line (the traceback only at debug level): offline is an expected state."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    log.warning("could not load %s %s (%s: %s)", what, source, type(error).__name__, first_line)
    log.debug("loading %s %s failed", what, source, exc_info=True)


def lcm_notices(guidance_scale: float) -> list[Notice]:
    """A notice when an ``lcm`` request's guidance is above what LCM works with."""
    if guidance_scale > LCM_MAX_GUIDANCE:
        return [Notice("lcm_guidance", {"guidance": f"{guidance_scale:g}", "limit": "2"})]
    return []
