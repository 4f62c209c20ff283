"""Translating on this computer with a MarianMT model through ``transformers``.

Nothing is downloaded: the model is a folder or an entry of the local Hugging Face cache, and
:func:`local_todo` says what a person must do first when it is neither (install a package,
download the model). ``transformers``, ``torch`` and ``huggingface_hub`` are imported lazily.
"""

from __future__ import annotations

import functools
import threading
import warnings
from pathlib import Path
from typing import Any

from huatu.backends.hosted_wire import is_url
from huatu.messages import Clipped, Notice
from huatu.translation.base import DEFAULT_TRANSLATION_MODEL, TranslationError

#: Files a local MarianMT model needs besides its weights.
LOCAL_MODEL_FILES = ("config.json", "source.spm", "target.spm", "vocab.json")
#: Weight files a local MarianMT model may have (one is enough).
LOCAL_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class LocalTranslator:
    """Translate on this computer with a MarianMT model through ``transformers``.

    The model is loaded with ``local_files_only=True`` on the first :meth:`translate` (or
    :meth:`load`), so nothing is ever downloaded; it needs ``transformers``, ``torch`` and
    ``sentencepiece``. Check :meth:`available` first.

    Args:
        model: a Hub id found in the local Hugging Face cache, or a folder holding
            ``config.json``, ``source.spm``, ``target.spm``, ``vocab.json`` and
            ``model.safetensors`` (or ``pytorch_model.bin``).
            Default ``Helsinki-NLP/opus-mt-zh-en``.
        cache_dir: the Hugging Face cache to look in. Default: the usual one (``HF_HUB_CACHE``).
        max_new_tokens: longest translation, in tokens. Default 256.

    Attributes:
        name: ``"local · {model}"``.
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_TRANSLATION_MODEL,
        *,
        cache_dir: str | Path | None = None,
        max_new_tokens: int = 256,
    ) -> None:
        self.model = str(model)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.max_new_tokens = max_new_tokens
        self.name = f"local · {self.model}"
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def __repr__(self) -> str:
        return f"LocalTranslator({self.name!r})"

    @staticmethod
    def available(
        model: str | Path = DEFAULT_TRANSLATION_MODEL, *, cache_dir: str | Path | None = None
    ) -> bool:
        """Whether ``model`` can be loaded here without downloading anything.

        True when ``transformers``, ``torch`` and ``sentencepiece`` can be imported and the
        model's files are in ``model`` (a folder) or in the local Hugging Face cache.

        Args:
            model: a Hub id or a folder. Default ``Helsinki-NLP/opus-mt-zh-en``.
            cache_dir: the Hugging Face cache to look in. Default: the usual one.
        """
        return local_todo(str(model), cache_dir) is None

    def load(self) -> None:
        """Load the tokenizer and model now (done by the first :meth:`translate` otherwise).

        Raises:
            TranslationError: a package is missing or the files cannot be loaded.
        """
        with self._lock:
            self._load_locked()

    def translate(self, text: str) -> str:
        """Translate ``text`` (returned as is when blank).

        Raises:
            TranslationError: the model cannot be loaded, or translation failed.
        """
        if not text.strip():
            return text
        with self._lock:
            tokenizer, model = self._load_locked()
            import torch

            try:
                batch = tokenizer([text], return_tensors="pt", truncation=True)
                with torch.inference_mode():
                    tokens = model.generate(**batch, max_new_tokens=self.max_new_tokens)
                return str(tokenizer.decode(tokens[0], skip_special_tokens=True)).strip()
            except (RuntimeError, ValueError, IndexError) as error:
                raise TranslationError(
                    "translation_local_failed", model=self.model, detail=Clipped(str(error))
                ) from None

    def _load_locked(self) -> tuple[Any, Any]:
        if self._loaded is not None:
            return self._loaded
        todo = local_todo(self.model, self.cache_dir)
        if todo is not None:
            raise TranslationError("translation_local_missing", todo=todo)
        source = _local_folder(self.model) or self.model
        try:
            from transformers import MarianMTModel, MarianTokenizer

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Recommended: pip install sacremoses." ...
                tokenizer = MarianTokenizer.from_pretrained(
                    source, local_files_only=True, cache_dir=self.cache_dir
                )
                model = MarianMTModel.from_pretrained(
                    source, local_files_only=True, cache_dir=self.cache_dir
                )
        except (OSError, ValueError, ImportError, RuntimeError, KeyError, AssertionError) as error:
            raise TranslationError(
                "translation_local_broken", model=self.model, detail=Clipped(str(error))
            ) from None
        model.eval()
        self._loaded = (tokenizer, model)
        return self._loaded


def _local_folder(model: str) -> Path | None:
    path = Path(model).expanduser()
    return path if path.is_dir() else None


def local_todo(model: str, cache_dir: str | Path | None) -> Notice | None:
    """What a person must do before ``model`` loads locally (a phrase to put in a sentence),
    or ``None`` when it loads as it is.

    Args:
        model: a Hub id or a folder. cache_dir: the Hugging Face cache (``None``: the usual).
    """
    import importlib.util

    steps: list[Notice] = []
    missing = [
        name
        for name in ("transformers", "torch", "sentencepiece")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        names = {"names": " and ".join(missing), "packages": " ".join(missing)}
        steps.append(Notice("translation_todo_install", names))
    if not _local_files_present(model, cache_dir):
        if _local_folder(model) is not None:
            needed = ", ".join((*LOCAL_MODEL_FILES, "model.safetensors"))
            steps.append(Notice("translation_todo_files", {"files": needed, "model": model}))
        else:
            steps.append(Notice("translation_todo_download", {"model": model}))
    if len(steps) == 2:
        return Notice("translation_todo_both", {"first": steps[0], "second": steps[1]})
    return steps[0] if steps else None


def _local_files_present(model: str, cache_dir: str | Path | None) -> bool:
    folder = _local_folder(model)
    if folder is not None:
        return all((folder / name).is_file() for name in LOCAL_MODEL_FILES) and any(
            (folder / name).is_file() for name in LOCAL_WEIGHT_FILES
        )
    if is_url(model) or model.count("/") != 1:
        return False
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        try:
            found = try_to_load_from_cache(model, filename, cache_dir=cache_dir)
        except ValueError:  # not a valid repo id
            return False
        return isinstance(found, str)

    return all(cached(name) for name in LOCAL_MODEL_FILES) and any(
        cached(name) for name in LOCAL_WEIGHT_FILES
    )


@functools.lru_cache(maxsize=2)
def shared_local_translator(model: str, cache_dir: str | None) -> LocalTranslator:
    """One LocalTranslator per model, so the loaded weights are reused between prompts."""
    return LocalTranslator(model, cache_dir=cache_dir)
