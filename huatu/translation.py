"""Chinese prompts that work: a user glossary first, then a zh→en translator.

Most Stable Diffusion models read English only (their CLIP tokenizer turns Chinese into
meaningless byte tokens). :func:`translate_prompt` turns such a prompt into English the person
can check and edit before generating:

1. Text with no letters outside the Latin script is returned unchanged (``needed=False``).
2. The user glossary (``赛博朋克 = cyberpunk`` ...) is applied, longest term first
   (:func:`apply_glossary`). When that alone leaves no foreign letters, no translator is called.
3. Otherwise a :class:`Translator` translates what is still foreign. To keep the glossary's
   English terms (and any English the person wrote) intact, **only the runs of text between
   English words are sent**, one request per distinct run: ``"cyberpunk城市, 夜晚"`` sends
   ``"城市, 夜晚"`` and keeps ``cyberpunk`` as it is. A run keeps its inner punctuation and
   digits (``"3只猫"`` is one run), so a Chinese phrase is translated as a whole.

Translators: :class:`HostedTranslator` (Hugging Face's ``hf-inference`` provider through
``huggingface_hub.InferenceClient.translation``, e.g. ``Helsinki-NLP/opus-mt-zh-en``) and
:class:`LocalTranslator` (MarianMT through ``transformers``; needs ``sentencepiece``; never
downloads). :func:`choose_translator` picks one, or says in one sentence what to do.

Models that read Chinese natively (:data:`CHINESE_NATIVE_MODELS`, see
:func:`model_reads_chinese`) skip translation altogether.

``huggingface_hub``, ``transformers`` and ``torch`` are imported lazily, inside the functions
that need them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from huatu.backends.hosted_wire import (
    StatusFailure,
    backoff_delay,
    host_of,
    is_url,
    parse_estimated_time,
    parse_retry_after,
    resolve_client_model,
    server_error_text,
)
from huatu.errors import HostedAuthError, HostedError, HuatuError, ModelNotServedError
from huatu.messages import short_repr
from huatu.prompt_checks import foreign_script

if TYPE_CHECKING:
    from huatu.config import Settings

__all__ = [
    "CHINESE_NATIVE_MODELS",
    "DEFAULT_GLOSSARY",
    "DEFAULT_TRANSLATION_MODEL",
    "GlossaryError",
    "HostedTranslationAuthError",
    "HostedTranslationError",
    "HostedTranslator",
    "LocalTranslator",
    "NO_TRANSLATOR_REASON",
    "PromptTranslation",
    "TranslationError",
    "TranslationModelNotServedError",
    "TranslationUnavailableError",
    "Translator",
    "apply_glossary",
    "choose_translator",
    "format_glossary_text",
    "load_glossary",
    "model_reads_chinese",
    "parse_glossary_text",
    "save_glossary",
    "split_for_translation",
    "tidy_english",
    "translate_prompt",
]

#: The zh→en model used by both translators unless told otherwise.
DEFAULT_TRANSLATION_MODEL = "Helsinki-NLP/opus-mt-zh-en"

#: Text-to-image models whose text encoder reads Chinese: prompts are used as written.
CHINESE_NATIVE_MODELS: tuple[str, ...] = (
    "IDEA-CCNL/Taiyi-Stable-Diffusion-1B-Chinese-v0.1",
    "IDEA-CCNL/Taiyi-Stable-Diffusion-1B-Chinese-EN-v0.1",
    "IDEA-CCNL/Taiyi-Stable-Diffusion-1B-Anime-Chinese-v0.1",
)

#: The glossary a person starts with (and gets back by deleting the glossary file).
DEFAULT_GLOSSARY: dict[str, str] = {
    "赛博朋克": "cyberpunk",
    "蒸汽朋克": "steampunk",
    "水墨画": "ink wash painting",
    "水墨": "ink wash",
    "国画": "traditional Chinese painting",
    "工笔画": "gongbi painting",
    "油画": "oil painting",
    "水彩画": "watercolor painting",
    "素描": "pencil sketch",
    "像素风": "pixel art",
    "动漫风格": "anime style",
    "汉服": "hanfu",
    "旗袍": "qipao",
    "超高清": "ultra high resolution",
    "高清": "high resolution",
    "杰作": "masterpiece",
    "最佳质量": "best quality",
    "细节丰富": "highly detailed",
    "电影感": "cinematic",
    "景深": "depth of field",
    "逆光": "backlighting",
}

#: Most terms a glossary may hold.
MAX_GLOSSARY_TERMS = 2000
#: Longest term (either side of ``=``), in characters.
MAX_TERM_CHARS = 200
#: Default deadline of one hosted translation request, in seconds (never more than
#: ``Settings.hosted_timeout_s``).
TRANSLATION_TIMEOUT_S = 30.0
#: Longest wait before the single retry of a 503 ("model loading") or 429, in seconds.
RETRY_WAIT_CAP_S = 5.0
#: Files a local MarianMT model needs besides its weights.
LOCAL_MODEL_FILES = ("config.json", "source.spm", "target.spm", "vocab.json")
#: Weight files a local MarianMT model may have (one is enough).
LOCAL_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

_RETRY_STATUSES = frozenset({429, 503})
_ENGLISH_FALLBACK = "or write the prompt in English"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class TranslationError(HuatuError, RuntimeError):
    """A prompt could not be translated; the message says why and what to do."""


class TranslationUnavailableError(TranslationError):
    """A prompt needs translating but no translator is available.

    Args:
        reason: one sentence saying what to do (set ``HF_API_KEY`` ...); it is also ``str()``.

    Attributes:
        key: ``"translation_unavailable"``, the :data:`huatu.messages.CATALOG` key that
            :func:`huatu.messages.render_error` uses.
        params: ``{"reason": reason}``.
    """

    key = "translation_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = {"reason": reason}


class GlossaryError(HuatuError, ValueError):
    """A glossary text or file is not usable; the message names the line or the file.

    Attributes:
        path: the glossary file, when the problem is in a file; else ``None``.
        line: the 1-based line number, when the problem is on one line of text; else ``None``.
    """

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None):
        super().__init__(message)
        self.path = path
        self.line = line


class HostedTranslationError(HostedError, TranslationError):
    """The hosted translation service failed (unreachable, timed out, odd answer ...)."""


class HostedTranslationAuthError(HostedAuthError, HostedTranslationError):
    """The hosted translation service rejected the key (401/403), or no key is set."""


class TranslationModelNotServedError(ModelNotServedError, HostedTranslationError):
    """The hosted service does not serve the translation model (404/410)."""


# --------------------------------------------------------------------------------------------
# Script helpers
# --------------------------------------------------------------------------------------------


def _is_latin(char: str) -> bool:
    """Whether ``char`` lies in the Latin ranges :func:`foreign_script` accepts."""
    code = ord(char)
    return code <= 0x024F or 0x1E00 <= code <= 0x1EFF


def _is_latin_alnum(char: str) -> bool:
    return char.isalnum() and _is_latin(char)


def _is_foreign_letter(char: str) -> bool:
    return char.isalpha() and not _is_latin(char)


# --------------------------------------------------------------------------------------------
# Glossary
# --------------------------------------------------------------------------------------------


def _term_problem(term: Any, english: Any) -> str | None:
    """Why ``term = english`` cannot be in a glossary, or ``None`` when it can."""
    if not isinstance(term, str) or not isinstance(english, str):
        return "both sides must be text"
    if not term.strip():
        return "the term before = is empty"
    if not english.strip():
        return f"the English for {term.strip()!r} is empty"
    if "=" in term or "＝" in term:
        return f"the term {term.strip()!r} contains '='"
    if any(char in "\r\n" for char in term + english):
        return "a term must fit on one line"
    if max(len(term.strip()), len(english.strip())) > MAX_TERM_CHARS:
        return f"a term may be at most {MAX_TERM_CHARS} characters"
    return None


def _check_glossary(glossary: Mapping[Any, Any], where: str, path: Path | None) -> dict[str, str]:
    """Return ``glossary`` with both sides stripped, or raise GlossaryError naming ``where``."""
    if len(glossary) > MAX_GLOSSARY_TERMS:
        raise GlossaryError(
            f"{where} has {len(glossary):,} terms; at most {MAX_GLOSSARY_TERMS:,} are allowed.",
            path=path,
        )
    checked: dict[str, str] = {}
    for term, english in glossary.items():
        problem = _term_problem(term, english)
        if problem is not None:
            raise GlossaryError(
                f"{where} has a bad entry {short_repr(term)}: {problem}.", path=path
            )
        checked[term.strip()] = english.strip()
    return checked


def parse_glossary_text(text: str) -> dict[str, str]:
    """Parse the editable text form of a glossary: one ``中文 = english`` per line.

    Args:
        text: the text. Blank lines and lines starting with ``#`` are ignored; a full-width
            ``＝`` works like ``=``; only the first ``=`` splits, so the English may contain
            more. Spaces around both sides are dropped.

    Returns:
        The terms, in the order written. A term written twice with the same English counts once.

    Raises:
        GlossaryError: a line has no ``=``, an empty side, a term over
            :data:`MAX_GLOSSARY_TERMS`/:data:`MAX_TERM_CHARS`, or a term already given other
            English on an earlier line; the message names the line number.
    """
    glossary: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cut = min((i for i in (line.find("="), line.find("＝")) if i >= 0), default=-1)
        if cut < 0:
            raise GlossaryError(
                f"Glossary line {number} ({short_repr(line)}) is not of the form `中文 = english`.",
                line=number,
            )
        term, english = line[:cut].strip(), line[cut + 1 :].strip()
        problem = _term_problem(term, english)
        if problem is not None:
            raise GlossaryError(f"Glossary line {number}: {problem}.", line=number)
        if term in glossary and glossary[term] != english:
            raise GlossaryError(
                f"Glossary line {number}: {term!r} already means {glossary[term]!r} "
                f"on line {first_line[term]}.",
                line=number,
            )
        if term not in glossary and len(glossary) >= MAX_GLOSSARY_TERMS:
            raise GlossaryError(
                f"Glossary line {number}: a glossary may hold at most "
                f"{MAX_GLOSSARY_TERMS:,} terms.",
                line=number,
            )
        glossary.setdefault(term, english)
        first_line.setdefault(term, number)
    return glossary


def format_glossary_text(glossary: Mapping[str, str]) -> str:
    """Format a glossary as editable text, one ``中文 = english`` per line.

    Args:
        glossary: the terms; their order is kept.

    Returns:
        The text, ending with a newline ("" for an empty glossary).
        :func:`parse_glossary_text` reads it back unchanged.
    """
    return "".join(f"{term} = {english}\n" for term, english in glossary.items())


def load_glossary(path: Path | str) -> dict[str, str]:
    """Read a glossary file: a JSON object of ``"中文": "english"`` pairs.

    Args:
        path: the file. When it does not exist, a copy of :data:`DEFAULT_GLOSSARY` is returned
            (deleting the file restores the defaults); an empty object ``{}`` is an empty
            glossary.

    Raises:
        GlossaryError: the file cannot be read, is not UTF-8 JSON, is not an object of
            text pairs, or holds an unusable term; the message names the file.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return dict(DEFAULT_GLOSSARY)
    except (OSError, ValueError) as error:  # a folder, no permission, not UTF-8 ...
        why = getattr(error, "strerror", None) or type(error).__name__
        raise GlossaryError(
            f"The glossary file {path} could not be read ({why}); fix it or delete it "
            "to get the default terms back.",
            path=path,
        ) from None
    try:
        data = json.loads(raw)
    except ValueError as error:
        where = f" (line {error.lineno})" if isinstance(error, json.JSONDecodeError) else ""
        raise GlossaryError(
            f"The glossary file {path} is not valid JSON{where}; fix it or delete it "
            "to get the default terms back.",
            path=path,
        ) from None
    if not isinstance(data, dict):
        raise GlossaryError(
            f"The glossary file {path} must hold a JSON object of "
            '"中文": "english" pairs, not a JSON '
            f"{type(data).__name__}; fix it or delete it to get the default terms back.",
            path=path,
        )
    return _check_glossary(data, f"The glossary file {path}", path)


def save_glossary(path: Path | str, glossary: Mapping[str, str]) -> None:
    """Write a glossary file atomically (a temporary file, fsync, then rename).

    A crash or a full disk never leaves a half-written glossary: the old file stays whole
    until the new one replaces it. The parent folder is created when missing.

    Args:
        path: the file to write (JSON, UTF-8, Chinese kept readable).
        glossary: the terms; both sides are stripped.

    Raises:
        GlossaryError: a term is unusable, or the file could not be written (the message
            names the file).
    """
    path = Path(path)
    checked = _check_glossary(glossary, "The glossary", None)
    text = json.dumps(checked, ensure_ascii=False, indent=2) + "\n"
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        why = error.strerror or type(error).__name__
        raise GlossaryError(
            f"The glossary file {path} could not be saved ({why}).", path=path
        ) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def apply_glossary(text: str, glossary: Mapping[str, str]) -> str:
    """Replace glossary terms in ``text``, the longest term first.

    Terms match literally (case-sensitive), anywhere, never overlapping; at each position the
    longest matching term wins, so with ``水墨`` and ``水墨画`` both defined, ``水墨画`` becomes
    ``ink wash painting``. A space is put between an English replacement and a Latin letter or
    digit right next to it (including another replacement); none next to Chinese, so
    ``"赛博朋克城市"`` becomes ``"cyberpunk城市"`` and ``"赛博朋克高清"``
    ``"cyberpunk high resolution"``.

    Args:
        text: the prompt.
        glossary: ``{"中文": "english"}``; empty terms are ignored.

    Returns:
        The text with terms replaced (unchanged when nothing matched).
    """
    terms = sorted((term for term in glossary if term), key=len, reverse=True)
    if not text or not terms:
        return text
    pattern = re.compile("|".join(re.escape(term) for term in terms))
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        before = text[position : match.start()]
        out.append(before)
        english = glossary[match.group()]
        previous = before[-1:] if before else (out[-2][-1:] if len(out) > 1 else "")
        following = text[match.end() : match.end() + 1]
        if english and previous and _is_latin_alnum(previous) and _is_latin_alnum(english[0]):
            out.append(" ")
        out.append(english)
        if english and following and _is_latin_alnum(following) and _is_latin_alnum(english[-1]):
            out.append(" ")
        position = match.end()
    out.append(text[position:])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Tidying English output
# --------------------------------------------------------------------------------------------

_FULLWIDTH = str.maketrans(
    {
        "，": ", ",
        "、": ", ",
        "。": ". ",
        "；": "; ",
        "：": ": ",
        "！": "! ",
        "？": "? ",
        "（": " (",
        "）": ") ",
        "【": " [",
        "】": "] ",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "《": '"',
        "》": '"',
        "～": "~",
        "\u3000": " ",
    }
)


def tidy_english(text: str) -> str:
    """Make translated or glossary-made English tidy for a prompt.

    Chinese punctuation becomes ASCII (``，`` → ``, ``, ``（`` → `` (`` ...), runs of
    whitespace become one space, spaces before ``, . ; : ! ? ) ]`` and after ``( [`` go, and
    the ends are stripped.

    Args:
        text: the English text.
    """
    text = text.translate(_FULLWIDTH)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r" ([,.;:!?)\]])", r"\1", text)
    text = re.sub(r"([(\[]) ", r"\1", text)
    return text.strip()


def _clean_translation(text: str) -> str:
    """A translated run as a prompt fragment: no final full stop, ordinary words lower-case.

    MT models write sentences (``"A dog in the park."``); prompts are comma-separated
    fragments. The single final ``.`` is dropped (not ``...``), and a first word that is only
    capitalised (``"A"``, ``"City"``, not ``"I"`` or ``"NASA"``) is lower-cased. CLIP
    lower-cases all text anyway, so this is only for the person reading it.
    """
    text = text.strip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    if re.match(r"(?!I\b)[A-Z][a-z]*(?![A-Za-z])", text):
        text = text[0].lower() + text[1:]
    return text


# --------------------------------------------------------------------------------------------
# Translators
# --------------------------------------------------------------------------------------------


@runtime_checkable
class Translator(Protocol):
    """Anything that translates Chinese text to English.

    Attributes:
        name: shown to people, e.g. ``"hosted · Helsinki-NLP/opus-mt-zh-en"``.
    """

    name: str

    def translate(self, text: str) -> str:
        """Return the English translation of ``text`` (raises a HuatuError on failure)."""
        ...


class HostedTranslator:
    """Translate through Hugging Face's ``hf-inference`` provider (``InferenceClient``).

    The model is given to ``InferenceClient.translation`` as its router URL,
    ``{settings.hf_router}/hf-inference/models/{model}``, so nothing looks the model up on the
    Hub (an Inference Endpoint URL is used as it is). A 503 ("model loading") or 429 is
    retried once after a short wait; every other failure raises at once.

    Args:
        settings: ``hf_api_key`` (required at translate time), ``hf_router`` and
            ``hosted_timeout_s`` (an upper bound of the request timeout) are used;
            ``hosted_provider`` is not: translation models are served by ``hf-inference``.
        model: the translation model: a Hub id or an endpoint URL.
            Default ``Helsinki-NLP/opus-mt-zh-en``.
        timeout_s: deadline of one HTTP request, in seconds. Default:
            :data:`TRANSLATION_TIMEOUT_S` (30 s) or ``settings.hosted_timeout_s`` if lower.
        max_retry_wait_s: longest wait before the one retry, whatever ``Retry-After`` or
            ``estimated_time`` ask. Default :data:`RETRY_WAIT_CAP_S` (5 s).

    Attributes:
        name: ``"hosted · {model}"`` (the host only for a URL); never contains the key.
    """

    def __init__(
        self,
        settings: Settings,
        model: str = DEFAULT_TRANSLATION_MODEL,
        *,
        timeout_s: float | None = None,
        max_retry_wait_s: float = RETRY_WAIT_CAP_S,
    ) -> None:
        self.settings = settings
        self.model = model
        self.timeout_s = (
            timeout_s
            if timeout_s is not None
            else min(TRANSLATION_TIMEOUT_S, settings.hosted_timeout_s)
        )
        self.max_retry_wait_s = max_retry_wait_s
        shown = host_of(model) if is_url(model) else model
        self.name = settings.redact(f"hosted · {shown}")

    def __repr__(self) -> str:
        return f"HostedTranslator({self.name!r})"

    def translate(self, text: str) -> str:
        """Translate ``text`` (returned as is when blank).

        Raises:
            HostedTranslationAuthError: no key is set, or Hugging Face rejected it (401/403).
            TranslationModelNotServedError: the model is not served (404/410).
            HostedTranslationError: still loading or rate-limited after the retry, a timeout,
                an unreachable service, another HTTP error, or an answer that is not a
                translation. Every message is one sentence without the key.
        """
        if not text.strip():
            return text
        if not self.settings.hf_api_key:
            raise HostedTranslationAuthError(
                "No Hugging Face key is set for translating the prompt; set HF_API_KEY, "
                f"{_ENGLISH_FALLBACK}."
            )
        for attempt in range(2):
            try:
                return self._send(text)
            except StatusFailure as failure:
                if failure.status not in _RETRY_STATUSES or attempt > 0:
                    raise self._status_error(failure) from None
                time.sleep(self._retry_wait(failure))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals ---------------------------------------------------------------------------

    def _error(self, cls: type[HostedTranslationError], text: str) -> HostedTranslationError:
        return cls(self.settings.redact(text))

    def _retry_wait(self, failure: StatusFailure) -> float:
        wait = backoff_delay(
            0,
            retry_after=parse_retry_after(failure.headers.get("retry-after")),
            estimated_time=parse_estimated_time(failure.body) if failure.status == 503 else None,
        )
        return max(0.0, min(wait, self.max_retry_wait_s))

    def _send(self, text: str) -> str:
        import httpx2
        from huggingface_hub import InferenceClient
        from huggingface_hub.errors import (
            HfHubHTTPError,
            InferenceTimeoutError,
            OfflineModeIsEnabled,
        )

        url = resolve_client_model(self.model, "hf-inference", self.settings.hf_router)
        address = host_of(url)
        client = InferenceClient(
            provider="hf-inference", api_key=self.settings.hf_api_key, timeout=self.timeout_s
        )
        try:
            output = client.translation(text, model=url)
        except HfHubHTTPError as error:
            raise StatusFailure.from_hub_error(error) from None
        except InferenceTimeoutError:
            raise self._error(
                HostedTranslationError,
                f"The translation service at {address} sent no answer within "
                f"{self.timeout_s:g} s; try again, {_ENGLISH_FALLBACK}.",
            ) from None
        except OfflineModeIsEnabled:
            raise self._error(
                HostedTranslationError,
                "Translation through Hugging Face is off because HF_HUB_OFFLINE is set; "
                f"unset it, {_ENGLISH_FALLBACK}.",
            ) from None
        except httpx2.TimeoutException:
            raise self._error(
                HostedTranslationError,
                f"The translation service at {address} sent no answer within "
                f"{self.timeout_s:g} s; try again, {_ENGLISH_FALLBACK}.",
            ) from None
        except (httpx2.UnsupportedProtocol, httpx2.InvalidURL):
            raise self._error(
                HostedTranslationError,
                f"The translation service's address {address} is not a valid http(s) URL; "
                f"check HUATU_HF_ROUTER, {_ENGLISH_FALLBACK}.",
            ) from None
        except httpx2.ConnectError:
            raise self._error(
                HostedTranslationError,
                f"Could not reach the translation service at {address}; check your network "
                f"and HUATU_HF_ROUTER, {_ENGLISH_FALLBACK}.",
            ) from None
        except httpx2.HTTPError:
            raise self._error(
                HostedTranslationError,
                f"The connection to the translation service at {address} failed mid-answer; "
                f"try again, {_ENGLISH_FALLBACK}.",
            ) from None
        except (ValueError, LookupError, TypeError, AttributeError):  # unparsable answers
            raise self._garbage() from None
        finally:
            client.close()
        translated = getattr(output, "translation_text", None)
        if not isinstance(translated, str) or not translated.strip():
            raise self._garbage()
        return translated.strip()

    def _garbage(self) -> HostedTranslationError:
        return self._error(
            HostedTranslationError,
            "The translation service answered with something that is not a translation; "
            f"try again, {_ENGLISH_FALLBACK}.",
        )

    def _status_error(self, failure: StatusFailure) -> HostedTranslationError:
        status = failure.status
        if status in (401, 403):
            return self._error(
                HostedTranslationAuthError,
                f"Hugging Face rejected the API key ({status}) when translating the prompt; "
                f"check HF_API_KEY, {_ENGLISH_FALLBACK}.",
            )
        if status in (404, 410):
            return self._error(
                TranslationModelNotServedError,
                f"The translation model {self.model} is not served by Hugging Face's "
                f"hf-inference provider ({status}); translate locally (install sentencepiece "
                f"and download the model), {_ENGLISH_FALLBACK}.",
            )
        if status == 503:
            return self._error(
                HostedTranslationError,
                f"The translation model {self.model} is still loading on Hugging Face (503); "
                f"try again in a minute, {_ENGLISH_FALLBACK}.",
            )
        if status == 429:
            return self._error(
                HostedTranslationError,
                "Hugging Face is rate-limiting translation requests (429); try again in a "
                f"minute, {_ENGLISH_FALLBACK}.",
            )
        detail = server_error_text(failure.body)
        detail = f" ({detail.rstrip('.')})" if detail else ""
        return self._error(
            HostedTranslationError,
            f"The translation service answered HTTP {status}{detail}; try again, "
            f"{_ENGLISH_FALLBACK}.",
        )


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
        return _local_todo(str(model), cache_dir) is None

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
                    f"The local translation model {self.model} failed "
                    f"({_one_line(str(error))}); write the prompt in English."
                ) from None

    def _load_locked(self) -> tuple[Any, Any]:
        if self._loaded is not None:
            return self._loaded
        todo = _local_todo(self.model, self.cache_dir)
        if todo is not None:
            raise TranslationError(
                f"The local translation model cannot be loaded: {todo}, {_ENGLISH_FALLBACK}."
            )
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
                f"The local translation model {self.model} could not be loaded "
                f"({_one_line(str(error))}); download it again, {_ENGLISH_FALLBACK}."
            ) from None
        model.eval()
        self._loaded = (tokenizer, model)
        return self._loaded


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _local_folder(model: str) -> Path | None:
    path = Path(model).expanduser()
    return path if path.is_dir() else None


def _local_todo(model: str, cache_dir: str | Path | None) -> str | None:
    """What a person must do before ``model`` loads locally (a phrase), or ``None``."""
    import importlib.util

    steps: list[str] = []
    missing = [
        name
        for name in ("transformers", "torch", "sentencepiece")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        steps.append(f"install {' and '.join(missing)} (pip install {' '.join(missing)})")
    if not _local_files_present(model, cache_dir):
        if _local_folder(model) is not None:
            needed = ", ".join((*LOCAL_MODEL_FILES, "model.safetensors"))
            steps.append(f"put {needed} into {model}")
        else:
            steps.append(f"download {model} (hf download {model})")
    return " and ".join(steps) if steps else None


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
def _shared_local_translator(model: str, cache_dir: str | None) -> LocalTranslator:
    """One LocalTranslator per model, so the loaded weights are reused between prompts."""
    return LocalTranslator(model, cache_dir=cache_dir)


# --------------------------------------------------------------------------------------------
# Choosing
# --------------------------------------------------------------------------------------------


def model_reads_chinese(model: str) -> bool:
    """Whether the text-to-image ``model`` reads Chinese prompts natively.

    Args:
        model: a Hub id or a local folder; compared with :data:`CHINESE_NATIVE_MODELS` without
            regard to case, a folder by its last name (``/models/Taiyi-...-Chinese-v0.1``).
    """
    name = model.strip().replace("\\", "/").rstrip("/").lower()
    tail = name.rsplit("/", 1)[-1]
    for known in CHINESE_NATIVE_MODELS:
        known = known.lower()
        if name == known or tail == known.rsplit("/", 1)[-1]:
            return True
    return False


def choose_translator(
    settings: Settings,
    *,
    model: str,
    translation_model: str = DEFAULT_TRANSLATION_MODEL,
    cache_dir: str | Path | None = None,
) -> tuple[Translator | None, str]:
    """Pick how prompts for ``model`` are translated, and say why in one sentence.

    In order: ``None`` when ``model`` reads Chinese (:func:`model_reads_chinese`); the
    :class:`HostedTranslator` when a Hugging Face key is set (and ``HF_HUB_OFFLINE`` is not);
    the :class:`LocalTranslator` when :meth:`LocalTranslator.available`; else ``None``.

    Args:
        settings: huatu's settings (``hf_api_key``, ``hf_router``, ``hosted_timeout_s``).
        model: the text-to-image model the prompt is for.
        translation_model: the zh→en model, hosted or local. Default
            ``Helsinki-NLP/opus-mt-zh-en``.
        cache_dir: the Hugging Face cache a local model is looked up in. Default: the usual one.

    Returns:
        ``(translator, reason)``. With no translator, ``reason`` says what to do, e.g. "Set
        HF_API_KEY to translate through Hugging Face, or install sentencepiece (pip install
        sentencepiece) and download Helsinki-NLP/opus-mt-zh-en (hf download ...) to translate
        locally."
    """
    if model_reads_chinese(model):
        return None, f"The model {model} reads Chinese, so prompts are used as written."
    offline = _hub_offline()
    if settings.hf_api_key and not offline:
        return (
            HostedTranslator(settings, translation_model),
            f"A Hugging Face key is set, so prompts are translated by {translation_model} "
            "through the hosted API.",
        )
    todo = _local_todo(translation_model, cache_dir)
    if todo is None:
        shared = _shared_local_translator(
            translation_model, None if cache_dir is None else str(cache_dir)
        )
        return shared, f"Prompts are translated on this computer by {translation_model}."
    if settings.hf_api_key:  # a key, but HF_HUB_OFFLINE is set
        return None, (
            "HF_HUB_OFFLINE is set, so the hosted translator is off; unset it, "
            f"or {todo} to translate locally."
        )
    return None, (
        f"Set HF_API_KEY to translate through Hugging Face, or {todo} to translate locally."
    )


def _hub_offline() -> bool:
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return False
    return bool(constants.HF_HUB_OFFLINE)


# --------------------------------------------------------------------------------------------
# Translating a prompt
# --------------------------------------------------------------------------------------------

#: Default reason when :func:`translate_prompt` has no translator and is not told why.
NO_TRANSLATOR_REASON = (
    "Set HF_API_KEY to translate through Hugging Face, or install sentencepiece and download "
    f"{DEFAULT_TRANSLATION_MODEL} to translate locally."
)

# Words kept as they are: Latin letters with digits, apostrophes, hyphens, underscores.
_WORDISH = re.compile(r"[0-9A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u1E00-\u1EFF'_\-]+")


@dataclass(frozen=True)
class PromptTranslation:
    """What :func:`translate_prompt` did to a prompt.

    Attributes:
        original: the prompt as written (for the ``Original prompt`` metadata).
        after_glossary: the prompt after the glossary was applied (``original`` when not
            needed).
        translated: the English prompt to show, let the person edit, and generate from.
        translator: ``"glossary"`` when the glossary alone made the prompt Latin-only; the
            translator's ``name`` when one was used; ``""`` when nothing was needed.
        needed: whether the prompt had letters outside the Latin script.
    """

    original: str
    after_glossary: str
    translated: str
    translator: str
    needed: bool


def split_for_translation(text: str) -> list[tuple[str, bool]]:
    """Split ``text`` into pieces kept as they are and pieces to translate.

    English words (Latin letters, with digits, ``'``, ``-`` and ``_`` attached) are kept; the
    text between them is translated when it has foreign letters. Such a piece is trimmed to
    its core, from the first foreign letter (with digits right before it: ``3只猫``) to the
    last; the punctuation and spaces around the core are kept as they are.

    Args:
        text: the prompt after the glossary.

    Returns:
        ``[(piece, translate?), ...]`` whose pieces join back into ``text``.
    """
    pieces: list[tuple[str, bool]] = []
    gap_start = 0

    def add_gap(gap: str) -> None:
        if not gap:
            return
        letters = [i for i, char in enumerate(gap) if _is_foreign_letter(char)]
        if not letters:
            pieces.append((gap, False))
            return
        start, end = letters[0], letters[-1] + 1
        while start > 0 and gap[start - 1].isascii() and gap[start - 1].isdigit():
            start -= 1
        for piece, translate in ((gap[:start], False), (gap[start:end], True), (gap[end:], False)):
            if piece:
                pieces.append((piece, translate))

    for match in _WORDISH.finditer(text):
        word = match.group()
        if not any(char.isalpha() for char in word):
            continue  # digits alone belong to the surrounding text: "3只猫"
        add_gap(text[gap_start : match.start()])
        pieces.append((word, False))
        gap_start = match.end()
    add_gap(text[gap_start:])

    merged: list[tuple[str, bool]] = []
    for piece, translate in pieces:
        if merged and not translate and not merged[-1][1]:
            merged[-1] = (merged[-1][0] + piece, False)
        else:
            merged.append((piece, translate))
    return merged


def _glue(parts: Iterable[str]) -> str:
    """Join ``parts``, putting a space between two that would otherwise run together."""
    out = ""
    for part in parts:
        if not part:
            continue
        if out and out[-1].isalnum() and part[0].isalnum():
            out += " "
        out += part
    return out


def translate_prompt(
    text: str,
    *,
    glossary: Mapping[str, str],
    translator: Translator | None,
    reason: str | None = None,
) -> PromptTranslation:
    """Turn a prompt the model cannot read into English: glossary first, then the translator.

    Args:
        text: the prompt as written.
        glossary: ``{"中文": "english"}`` applied first (:func:`apply_glossary`); may be empty.
        translator: translates what the glossary left foreign; only the runs between English
            words are sent (see :func:`split_for_translation`), each distinct run once, so the
            glossary's English survives as it is. ``None`` is fine while the glossary suffices.
        reason: the sentence for the error when a translator is needed but ``None`` (use the
            one :func:`choose_translator` returned). Default :data:`NO_TRANSLATOR_REASON`.

    Returns:
        A :class:`PromptTranslation`. Latin-only text is returned unchanged with
        ``needed=False``; otherwise ``translated`` is tidied (:func:`tidy_english`).

    Raises:
        TranslationUnavailableError: a translator is needed and ``translator`` is ``None``.
        TranslationError: the translator returned nothing for a run.
        HuatuError: whatever the translator raises (e.g. :class:`HostedTranslationError`).
    """
    if foreign_script(text) is None:
        return PromptTranslation(text, text, text, "", False)
    after = apply_glossary(text, glossary)
    if foreign_script(after) is None:
        return PromptTranslation(text, after, tidy_english(after), "glossary", True)
    if translator is None:
        raise TranslationUnavailableError(reason or NO_TRANSLATOR_REASON)
    done: dict[str, str] = {}
    parts: list[str] = []
    for piece, translate in split_for_translation(after):
        if not translate:
            parts.append(piece)
            continue
        if piece not in done:
            english = _clean_translation(translator.translate(piece))
            if not english:
                raise TranslationError(
                    f"{translator.name} returned nothing for {short_repr(piece)}; write that "
                    "part in English."
                )
            done[piece] = english
        parts.append(done[piece])
    return PromptTranslation(text, after, tidy_english(_glue(parts)), translator.name, True)
