"""AUTOMATIC1111's "extra networks" on the local backend: LoRAs named in the prompt
(``<lora:name:weight>``) and textual-inversion embeddings used by name.

LoRAs come from the models folders' ``Lora/`` (by name, never by path), are loaded once with
diffusers' LoRA loader (kohya/A1111 files included) as PEFT adapters, and are active only for
the request that names them, at its weight: afterwards the pipeline is exactly as before. The
adapters of the Fast path (the LCM-LoRA) and of the prompt are one set
(:class:`LoraAdapters`), so both can be on at once.

Embeddings in ``embeddings/`` are loaded the first time their name appears in a prompt or
negative prompt, as A1111 uses them, and stay loaded (a name not written has no effect); an
SDXL embedding's ``clip_l`` and ``clip_g`` vectors go into SDXL's two text encoders.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huatu.errors import ValidationError
from huatu.models.folders import EMBEDDING, LORA, ModelFile, ModelLibrary
from huatu.models.hashes import ADAPTER_HASH_DIGITS, HashCache, short
from huatu.prompts.syntax import extra_networks

if TYPE_CHECKING:
    from huatu.request import GenerationRequest

log = logging.getLogger(__name__)


class LoraAdapters:
    """The active LoRA adapters of one pipeline, made of parts that callers set on their own
    (the Fast path's LCM-LoRA, the prompt's LoRAs); the union is applied when it changes.

    Args:
        pipe: the loaded diffusers pipeline.
    """

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self._parts: dict[str, dict[str, float]] = {}
        self._applied: dict[str, float] | None = {}
        self._ever_loaded = False

    def load(self, adapter: str, source: str, **options: Any) -> None:
        """Load a LoRA (a folder or Hub id ``source``, diffusers' loader ``options``) as
        ``adapter``. The loader switches adapters on by itself, so the next :meth:`use`
        applies the set whatever it was.

        Raises:
            Exception: whatever the loader raised; what it injected is removed first, so
                other requests stay as they were.
        """
        try:
            self.pipe.load_lora_weights(source, adapter_name=adapter, **options)
        except Exception:
            self._forget(adapter)
            raise
        finally:
            self._applied = None
            self._ever_loaded = True

    def _forget(self, adapter: str) -> None:
        """Remove what a failed load of ``adapter`` may have injected."""
        try:
            if adapter in self.pipe.get_list_adapters().get("unet", []):
                self.pipe.delete_adapters(adapter)
        except Exception:  # nothing was injected, or PEFT is absent: nothing to undo
            log.debug("no partial LoRA to remove", exc_info=True)

    def use(self, part: str, weights: dict[str, float]) -> None:
        """Make ``weights`` (adapter name → weight) the adapters of ``part``, and apply the
        union of every part's."""
        self._parts[part] = dict(weights)
        wanted = {name: weight for each in self._parts.values() for name, weight in each.items()}
        if wanted == self._applied:
            return
        if wanted:
            self.pipe.enable_lora()
            self.pipe.set_adapters(list(wanted), adapter_weights=list(wanted.values()))
        elif self._ever_loaded:
            self.pipe.disable_lora()
        self._applied = wanted


@dataclass
class UsedNetworks:
    """What a request's prompt used.

    Attributes:
        loras: each LoRA used → its weight.
        embeddings: each embedding used.
    """

    loras: dict[ModelFile, float] = field(default_factory=dict)
    embeddings: list[ModelFile] = field(default_factory=list)


class PromptNetworks:
    """The LoRAs and embeddings of one pipeline, found in ``library`` by the names a prompt
    writes.

    Args:
        pipe: the loaded pipeline.
        adapters: its adapter set (shared with the Fast path).
        library: the models folders.
        hashes: where file hashes are kept.
        tokenizer_lock: held while an embedding is added to the tokenizers (the prompt
            encoder's :attr:`~huatu.prompts.encoding.PromptEncoder.tokenizer_lock`). Default:
            one of its own.

    The library lists pickle-format files only with ``--allow-pickle``, so nothing else can
    be named here.
    """

    PART = "prompt"

    def __init__(
        self,
        pipe: Any,
        adapters: LoraAdapters,
        library: ModelLibrary,
        hashes: HashCache,
        tokenizer_lock: Any = None,
    ) -> None:
        self.pipe = pipe
        self.adapters = adapters
        self.library = library
        self.hashes = hashes
        self.tokenizer_lock = tokenizer_lock or threading.Lock()
        self._adapter_names: dict[Path, str] = {}
        self._embeddings: set[Path] = set()

    def find(self, request: GenerationRequest) -> UsedNetworks:
        """The LoRAs the prompt names and the embeddings either text uses (nothing loaded).

        Raises:
            ValidationError: ``prompt`` names a LoRA that is not in the models folders (the
                sentence names it and the closest ones), or a tag's weight is not a number.
        """
        used = UsedNetworks()
        try:
            _, tags = extra_networks(request.prompt)
        except ValueError as error:
            raise ValidationError("prompt", str(error), "lora_weight") from None
        for tag in tags:
            if tag.kind != "lora":
                continue
            found = self.library.find(LORA, tag.name)
            if found is None:
                close = ", ".join(self.library.close_matches(LORA, tag.name)) or "-"
                raise ValidationError(
                    "prompt", tag.text, "lora_unknown", name=tag.name, known=close
                )
            used.loras[found] = used.loras.get(found, 0.0) + tag.weight
        texts = f"{request.prompt}\n{request.negative_prompt}"
        for embedding in self.library.files(EMBEDDING):
            if re.search(rf"(?<![\w-]){re.escape(embedding.name)}(?![\w-])", texts):
                used.embeddings.append(embedding)
        return used

    def apply(self, used: UsedNetworks) -> None:
        """Load what ``used`` needs and make exactly its LoRAs active, at their weights.

        Raises:
            ValidationError: a LoRA or embedding file that does not fit this model.
        """
        for embedding in used.embeddings:
            self._load_embedding(embedding)
        weights = {self._adapter(lora): weight for lora, weight in used.loras.items()}
        self.adapters.use(self.PART, weights)

    def release(self) -> None:
        """No LoRA of the prompt active any more (after each request)."""
        self.adapters.use(self.PART, {})

    def metadata(self, used: UsedNetworks) -> dict[str, str]:
        """A1111's ``Lora hashes`` and ``TI hashes`` fields for what was used."""
        fields: dict[str, str] = {}
        if used.loras:
            fields["Lora hashes"] = ", ".join(
                f"{lora.name}: {short(self.hashes.addnet(lora.path), ADAPTER_HASH_DIGITS)}"
                for lora in used.loras
            )
        if used.embeddings:
            fields["TI hashes"] = ", ".join(
                f"{item.name}: {short(self.hashes.full(item.path), ADAPTER_HASH_DIGITS)}"
                for item in used.embeddings
            )
        return fields

    def _adapter(self, lora: ModelFile) -> str:
        """The adapter name of ``lora``, loading it first."""
        if lora.path in self._adapter_names:
            return self._adapter_names[lora.path]
        name = f"lora_{len(self._adapter_names)}"
        try:
            self.adapters.load(name, str(lora.path.parent), weight_name=lora.path.name)
        except Exception as error:  # not a LoRA, or not one for this model: one sentence
            log.info("loading the LoRA %s failed", lora.name, exc_info=True)
            raise ValidationError(
                "prompt",
                f"<lora:{lora.name}>",
                "lora_unfit",
                name=lora.name,
                kind=type(error).__name__,
            ) from None
        self._adapter_names[lora.path] = name
        return name

    def _embedding_parts(self, path: Path) -> list[tuple[Any, Any, Any]]:
        """What to load of the embedding at ``path`` into which text encoder and tokenizer: an
        SDXL embedding (A1111's ``clip_l`` and ``clip_g`` vectors) into both of SDXL's, any
        other into the only one (the file as diffusers reads it).

        Raises:
            ValueError: an SDXL model and an embedding made for another family.
        """
        from safetensors.torch import load_file

        second = getattr(self.pipe, "text_encoder_2", None)
        first = (self.pipe.text_encoder, self.pipe.tokenizer)
        if second is None:
            return [(str(path), *first)]
        vectors = load_file(str(path)) if path.suffix.lower() == ".safetensors" else {}
        if not {"clip_l", "clip_g"} <= vectors.keys():
            raise ValueError("not an SDXL embedding (no clip_l and clip_g vectors)")
        return [
            (vectors["clip_l"], *first),
            (vectors["clip_g"], second, self.pipe.tokenizer_2),
        ]

    def _load_embedding(self, embedding: ModelFile) -> None:
        if embedding.path in self._embeddings:
            return
        try:
            with self.tokenizer_lock:
                for vectors, encoder, tokenizer in self._embedding_parts(embedding.path):
                    self.pipe.load_textual_inversion(
                        vectors, token=embedding.name, text_encoder=encoder, tokenizer=tokenizer
                    )
        except Exception as error:
            log.info("loading the embedding %s failed", embedding.name, exc_info=True)
            raise ValidationError(
                "prompt",
                embedding.name,
                "embedding_unfit",
                name=embedding.name,
                kind=type(error).__name__,
            ) from None
        self._embeddings.add(embedding.path)


def embedding_width(pipe: Any) -> int:
    """The width of the token vectors an embedding for ``pipe`` has: its text encoder's
    (SDXL's second, ``clip_g``: A1111's SDXL embeddings are recognised by it)."""
    encoder = getattr(pipe, "text_encoder_2", None) or pipe.text_encoder
    return encoder.config.hidden_size
