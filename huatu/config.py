"""Settings, read once from the environment and a ``.env`` file found upward.

Environment variables win over ``.env``. The Hugging Face key is kept out of ``repr`` and
never written anywhere; use :meth:`Settings.redact` on any text that might contain it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from huatu.errors import SettingsError
from huatu.messages import Quoted

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_PORT = 7860
#: The model the hosted backend asks for when none is named: FLUX.1 [schnell], the model of
#: Hugging Face's own first-call guide, served for text-to-image by several providers (fal-ai,
#: hf-inference, together, replicate …), Apache-2.0, not gated, four steps per image.
DEFAULT_HOSTED_MODEL = "black-forest-labs/FLUX.1-schnell"
#: The provider policy of ``huggingface_hub``'s own client: the first provider serving the model,
#: in the order set in the person's Hugging Face settings.
AUTO_PROVIDER = "auto"
#: The chat model that translates prompts when no provider serves a zh→en translation model:
#: Qwen reads Chinese natively, and several providers serve this size cheaply.
DEFAULT_CHAT_MODEL = "Qwen/Qwen2.5-7B-Instruct"
DEFAULT_ROUTER = "https://router.huggingface.co"
DEFAULT_HUB = "https://huggingface.co"
TINY_MODEL = "tiny"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def is_hub_id(text: str) -> bool:
    """Whether ``text`` has the shape of a Hugging Face Hub id (``owner/name``), never a
    path (no ``..``, no leading ``.``/``/``/``~``)."""
    return bool(_HUB_ID.fullmatch(text)) and ".." not in text


def hosted_model_for(model: str) -> str:
    """The model the hosted backend asks for when ``model`` is asked: the same, except the
    local default (Stable Diffusion 1.5, served by no provider today), which means
    :data:`DEFAULT_HOSTED_MODEL` there."""
    return DEFAULT_HOSTED_MODEL if model == DEFAULT_MODEL else model


def hosted_model_of(model: str, settings: Settings) -> str:
    """The model the hosted backend serves when ``model`` is asked with ``settings``."""
    from dataclasses import replace

    return replace(settings, model=model).effective_hosted_model


@dataclass(frozen=True)
class RayOptions:
    """How ``--backend ray`` deploys the generator on a Ray cluster.

    Attributes:
        address: the cluster (``HUATU_RAY_ADDRESS`` or ``--ray-address``: ``auto`` or
            ``ray://HOST:10001``). Default ``None``: a Ray instance started on this machine.
        min_replicas, max_replicas: replicas kept up when idle and at most
            (``HUATU_RAY_REPLICAS``: ``N`` or ``A-B``; ``--replicas``, ``--min-replicas``,
            ``--max-replicas``); autoscaling by ongoing requests (target 1 per replica)
            between them. Default 1 and 1.
        gpus_per_replica: GPUs each replica takes (``HUATU_RAY_GPUS``,
            ``--gpus-per-replica``). Default 0: CPU replicas.
        cpus_per_replica: CPUs each replica takes. Default 1.
        timeout_s: the deadline of one image on the cluster, waiting included. Default 600.
    """

    address: str | None = None
    min_replicas: int = 1
    max_replicas: int = 1
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    timeout_s: float = 600.0


@dataclass(frozen=True)
class Settings:
    """huatu's settings.

    Attributes:
        hf_api_key: Hugging Face key for hosted inference (``HF_API_KEY``, else ``HF_TOKEN``).
            Default: none.
        hf_api_tti_base: the tutorial's text-to-image endpoint URL (``HF_API_TTI_BASE``); when
            set, hosted requests go there as JSON instead of through ``InferenceClient``.
        model: model for every command (``HUATU_MODEL``): a Hub id, a local folder, or
            ``tiny``. Default ``stable-diffusion-v1-5/stable-diffusion-v1-5``.
        backend: ``auto``, ``local`` or ``hosted`` (``HUATU_BACKEND``). Default ``auto``.
        hosted_provider: inference provider for hosted calls (``HUATU_HOSTED_PROVIDER``), or
            ``auto``: the first provider serving the model, in the order of the person's
            Hugging Face settings. Default ``auto``.
        hosted_model: model asked of the hosted service (``HUATU_HOSTED_MODEL``); a Hub id or
            an Inference Endpoint URL. Default: ``model``, unless that is the local default
            (Stable Diffusion 1.5, which no provider serves), then
            ``black-forest-labs/FLUX.1-schnell``.
        hf_router: base URL of Hugging Face's inference router (``HUATU_HF_ROUTER``).
            Default ``https://router.huggingface.co``.
        hf_endpoint: base URL of the Hugging Face Hub API, where hosted models are looked up
            (``HF_ENDPOINT``, huggingface_hub's own variable). Default
            ``https://huggingface.co``.
        translation_chat_model: the chat model that translates prompts on the router's
            OpenAI-compatible endpoint when no provider serves the zh→en translation model
            (``HUATU_TRANSLATION_CHAT_MODEL``). Default ``Qwen/Qwen2.5-7B-Instruct``.
        hosted_timeout_s: overall deadline for one hosted generation, retries included
            (``HUATU_HOSTED_TIMEOUT``). Default 120 s.
        outputs_dir: where images are saved (``HUATU_OUTPUTS``). Default ``./outputs``.
        cache_dir: where the tiny model and other built artefacts live (``HUATU_CACHE``).
            Default ``~/.cache/huatu``.
        device: force a torch device (``HUATU_DEVICE``: ``cuda``, ``mps``, ``cpu``). Default auto.
        dtype: force a dtype (``HUATU_DTYPE``: ``float16``, ``bfloat16``, ``float32``).
            Default auto.
        port: server port (``GRADIO_SERVER_PORT``). Default 7860.
        compile: compile the UNet with ``torch.compile`` at load (``HUATU_COMPILE=1`` or
            ``--compile``); the compiled code is cached under ``cache_dir/inductor``.
            Default off.
        low_memory: save memory (``HUATU_LOW_MEMORY=1`` or ``--low-memory``): model CPU
            offload on CUDA, VAE tiling above 512×512 everywhere. Default off.
        batch_images: the most images one batch of compatible queued requests holds
            (``HUATU_BATCH_IMAGES`` or ``--batch-images``; 1: no batching). Default: 4 on
            CUDA, where batching pays, and 1 elsewhere (:mod:`huatu.backends.batching`).
        allow_pickle: also load model weights in pickle formats (``.bin``, ``.ckpt``, ``.pt``),
            which can run code hidden in the file (``HUATU_ALLOW_PICKLE=1`` or
            ``--allow-pickle``). Default off: ``.safetensors`` only.
        lcm_lora: the Fast preset's LCM-LoRA (``HUATU_LCM_LORA``: Hub id, folder or
            ``.safetensors`` file). Default ``latent-consistency/lcm-lora-sdv1-5``.
        taesd: the Fast preset's TAESD decoder (``HUATU_TAESD``: Hub id or folder).
            Default ``madebyollin/taesd``.
        models: more models the AUTOMATIC1111 API lists and may switch to (``HUATU_MODELS``,
            comma-separated Hub ids or folders); API clients may also name any Hub id, but
            never another path on this machine. Default none.
        models_dir: the models folder in AUTOMATIC1111's layout (``HUATU_MODELS_DIR``):
            ``Stable-diffusion/``, ``Lora/``, ``VAE/``, ``embeddings/``. Default ``./models``.
        extra_model_dirs: more folders whose models are used where they are
            (``HUATU_EXTRA_MODEL_DIRS``, separated by ``:`` (``;`` on Windows), or
            ``--extra-model-dir``): an A1111, Forge or ComfyUI install or its ``models``
            folder. Default none.
        api_key: huatu's own API key (``HUATU_API_KEY``); when set, every endpoint wants
            ``Authorization: Bearer <key>``. Default: none.
        auth: ``user:password`` pairs for huatu itself (``HUATU_AUTH``, comma-separated, or
            ``--auth``); when set, every endpoint wants HTTP Basic with one of them.
            Default: none.
        ray: how ``--backend ray`` deploys on a Ray cluster (:class:`RayOptions`).
    """

    hf_api_key: str | None = field(default=None, repr=False)
    hf_api_tti_base: str | None = None
    model: str = DEFAULT_MODEL
    backend: str = "auto"
    hosted_provider: str = AUTO_PROVIDER
    hosted_model: str | None = None
    hf_router: str = DEFAULT_ROUTER
    hf_endpoint: str = DEFAULT_HUB
    translation_chat_model: str = DEFAULT_CHAT_MODEL
    hosted_timeout_s: float = 120.0
    outputs_dir: Path = Path("outputs")
    cache_dir: Path = Path("~/.cache/huatu").expanduser()
    device: str | None = None
    dtype: str | None = None
    port: int = DEFAULT_PORT
    compile: bool = False
    low_memory: bool = False
    batch_images: int | None = None
    allow_pickle: bool = False
    lcm_lora: str | None = None
    taesd: str | None = None
    models: tuple[str, ...] = ()
    models_dir: Path = Path("models")
    extra_model_dirs: tuple[Path, ...] = ()
    api_key: str | None = field(default=None, repr=False)
    auth: str | None = field(default=None, repr=False)
    ray: RayOptions = RayOptions()

    @property
    def effective_hosted_model(self) -> str:
        """The model hosted calls ask for: ``hosted_model`` if set, else ``model`` — but the
        hosted default (:data:`DEFAULT_HOSTED_MODEL`) for the local default model, unless the
        tutorial's endpoint (which runs what it runs) is used."""
        if self.hosted_model:
            return self.hosted_model
        return self.model if self.hf_api_tti_base else hosted_model_for(self.model)

    def secret_values(self) -> list[str]:
        """Every secret these settings hold (keys and passwords), longest first."""
        found = [self.hf_api_key, self.api_key]
        for pair in (self.auth or "").split(","):
            found.append(pair.partition(":")[2].strip() or None)
        return sorted({value for value in found if value}, key=len, reverse=True)

    def mask(self, value: object) -> object:
        """``value`` with each secret in it replaced by as many ``*`` (its length kept, so a
        message that shortens the value still says how long it was) — for values an error
        message will quote, masked *before* the message cuts them short. Non-strings are
        returned unchanged."""
        if not isinstance(value, str):
            return value
        for secret in self.secret_values():
            value = value.replace(secret, "*" * len(secret))
        return value

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret (Hugging Face key, huatu's API key, passwords)
        replaced by ``***``."""
        for secret in self.secret_values():
            text = text.replace(secret, "***")
        return text


def load_settings(environ: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``) and a ``.env`` found upward.

    Args:
        environ: variables to read; ``None`` means the process environment.
        dotenv: also read the first ``.env`` found from the current directory upward
            (its values never override variables already set). Default ``True``.
    """
    values: dict[str, str] = {}
    if dotenv:
        from dotenv import dotenv_values, find_dotenv

        path = find_dotenv(usecwd=True)
        if path:
            values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = values.get(name, "").strip()
        return value or None

    port_text = get("GRADIO_SERVER_PORT")
    timeout_text = get("HUATU_HOSTED_TIMEOUT")
    return Settings(
        hf_api_key=get("HF_API_KEY") or get("HF_TOKEN"),
        hf_api_tti_base=get("HF_API_TTI_BASE"),
        model=get("HUATU_MODEL") or DEFAULT_MODEL,
        backend=get("HUATU_BACKEND") or "auto",
        hosted_provider=get("HUATU_HOSTED_PROVIDER") or AUTO_PROVIDER,
        hosted_model=get("HUATU_HOSTED_MODEL"),
        hf_router=(get("HUATU_HF_ROUTER") or DEFAULT_ROUTER).rstrip("/"),
        hf_endpoint=(get("HF_ENDPOINT") or DEFAULT_HUB).rstrip("/"),
        translation_chat_model=get("HUATU_TRANSLATION_CHAT_MODEL") or DEFAULT_CHAT_MODEL,
        hosted_timeout_s=_positive_float("HUATU_HOSTED_TIMEOUT", timeout_text, 120.0),
        outputs_dir=Path(get("HUATU_OUTPUTS") or "outputs").expanduser(),
        cache_dir=Path(get("HUATU_CACHE") or "~/.cache/huatu").expanduser(),
        device=_choice("HUATU_DEVICE", get("HUATU_DEVICE"), ("cuda", "mps", "cpu")),
        dtype=_choice("HUATU_DTYPE", get("HUATU_DTYPE"), ("float16", "bfloat16", "float32")),
        port=_port(port_text),
        compile=_flag("HUATU_COMPILE", get("HUATU_COMPILE")),
        low_memory=_flag("HUATU_LOW_MEMORY", get("HUATU_LOW_MEMORY")),
        batch_images=_count("HUATU_BATCH_IMAGES", get("HUATU_BATCH_IMAGES")),
        allow_pickle=_flag("HUATU_ALLOW_PICKLE", get("HUATU_ALLOW_PICKLE")),
        lcm_lora=get("HUATU_LCM_LORA"),
        taesd=get("HUATU_TAESD"),
        models=tuple(
            name.strip() for name in (get("HUATU_MODELS") or "").split(",") if name.strip()
        ),
        models_dir=Path(get("HUATU_MODELS_DIR") or "models").expanduser(),
        extra_model_dirs=tuple(
            Path(part.strip()).expanduser()
            for part in (get("HUATU_EXTRA_MODEL_DIRS") or "").split(os.pathsep)
            if part.strip()
        ),
        api_key=get("HUATU_API_KEY"),
        auth=get("HUATU_AUTH"),
        ray=_ray_options(
            get("HUATU_RAY_ADDRESS"), get("HUATU_RAY_REPLICAS"), get("HUATU_RAY_GPUS")
        ),
    )


def _ray_options(address: str | None, replicas: str | None, gpus: str | None) -> RayOptions:
    """``HUATU_RAY_*`` as :class:`RayOptions` (replicas ``N`` or ``A-B``)."""
    low, _, high = (replicas or "1").partition("-")
    try:
        low_count, high_count = int(low), int(high or low)
        if not 1 <= low_count <= high_count:
            raise ValueError(replicas)
    except ValueError:
        raise SettingsError(
            "setting_replicas", name="HUATU_RAY_REPLICAS", value=Quoted(replicas)
        ) from None
    gpu_count = _positive_float("HUATU_RAY_GPUS", gpus, 0.0) if gpus else 0.0
    return RayOptions(address, low_count, high_count, gpu_count)


def _positive_float(name: str, text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError("setting_seconds", name=name, value=Quoted(text)) from None
    if not value > 0:
        raise SettingsError("setting_positive", name=name, value=Quoted(text))
    return value


def _count(name: str, text: str | None) -> int | None:
    """A whole number ≥ 1, or ``None`` when not set."""
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise SettingsError("setting_count", name=name, value=Quoted(text))
    return int(text)


def _flag(name: str, text: str | None) -> bool:
    if text is None:
        return False
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError("setting_flag", name=name, value=Quoted(text))


def _choice(name: str, text: str | None, allowed: tuple[str, ...]) -> str | None:
    if text is not None and text not in allowed:
        choices = ", ".join(allowed)
        raise SettingsError("setting_choice", name=name, choices=choices, value=Quoted(text))
    return text


def _port(text: str | None) -> int:
    if text is None:
        return DEFAULT_PORT
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SettingsError("setting_port", name="GRADIO_SERVER_PORT", value=Quoted(text))
    return int(text)
