"""A real HTTP stand-in for Hugging Face's hosted text-to-image services, for tests.

It listens on ``127.0.0.1`` (a free port) in a background thread and answers the two shapes
huatu's hosted backend speaks:

* the router: ``POST /hf-inference/models/{owner}/{name}`` with
  ``{"inputs": ..., "parameters": {...}}`` -> raw PNG bytes, ``Content-Type: image/png``
  (also ``POST /models/...``, the shape of a dedicated Inference Endpoint URL);
* the tutorial's endpoint: ``POST /tti`` -> a JSON body that is a bare base64 string of a PNG;
* the Hub API (``/api/models/...``) with each model's provider mapping, fal-ai's router path
  (JSON with an image URL the client fetches from ``/files/...``) and the router's chat
  completions (``/v1/chat/completions``, translating with :data:`PHRASES`): see
  :mod:`tests.standin_catalogue`, whose :data:`~tests.standin_catalogue.TODAY` is the default
  catalogue (point ``Settings.hf_endpoint`` and ``hf_router`` at :attr:`StandInHF.url`);
* a zh->en translation model (:data:`TRANSLATION_MODELS`, e.g.
  ``POST /hf-inference/models/Helsinki-NLP/opus-mt-zh-en``) with ``{"inputs": text}`` ->
  ``[{"translation_text": ...}]`` as HF's translation task answers, translated with the small
  phrase table :data:`PHRASES` (see :func:`standin_translate`).

The PNG is a solid image of the requested ``width`` x ``height`` (default 512 x 512) whose
colour is :func:`seed_colour` of the requested ``seed``, so tests can check size and seed.

Usage::

    from tests.standin_hf import StandInHF, loading, rate_limited

    with StandInHF() as hf:                      # or StandInHF(expected_key="hf_...")
        hf.enqueue(rate_limited(retry_after="1"))  # next request gets 429, then images again
        settings = Settings(hf_api_key="hf_...", hf_router=hf.url)      # router shape
        settings = Settings(hf_api_key="hf_...", hf_api_tti_base=hf.tti_url)  # tutorial shape
        ...
        hf.requests[-1].seed, hf.requests[-1].bearer  # what was sent

Behaviours are consumed one per request, first in first out; when the queue is empty the
``default`` behaviour answers (normally :func:`image`; set ``hf.default = loading()`` for
"503 forever"). On a translation model's path the default :func:`image` behaviour answers with
the translation instead of a PNG, so the same queue scripts translation failures
(``unauthorized()``, ``loading()``, ``garbage()`` ...). Every request is recorded in
:attr:`StandInHF.requests`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standin_catalogue import TODAY, HubModel, chat_answer, fal_answer, listing

DEFAULT_SIDE = 512
MAX_SIDE = 2048
#: Models whose router (or endpoint) path answers as HF's translation task does.
TRANSLATION_MODELS = frozenset({"Helsinki-NLP/opus-mt-zh-en"})
#: The stand-in's zh->en phrase table; the longest phrase matching at a position wins.
PHRASES: dict[str, str] = {
    "城市里的一只狗": "a dog in the city",
    "一只狗": "a dog",
    "一只猫": "a cat",
    "只猫": "cats",
    "一个女孩": "a girl",
    "在公园里": "in a park",
    "公园": "park",
    "城市": "city",
    "夜晚": "at night",
    "雨夜": "rainy night",
    "街道": "street",
    "山": "mountains",
    "湖": "lake",
    "日落": "sunset",
    "美丽的": "beautiful",
    "穿着": "wearing",
    "风格": "style",
    "和": "and",
    "的": "",
}
_PUNCTUATION = {"，": ",", "、": ",", "。": ".", "；": ";", "：": ":", "！": "!", "？": "?"}


# --------------------------------------------------------------------------------------------
# Behaviours
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """How the stand-in answers one request.

    Attributes:
        kind: ``"image"`` (a PNG reflecting the request), ``"reply"`` (a fixed status, headers
            and body), ``"hang"`` (say nothing for ``seconds``, then close), or ``"reset"``
            (send headers and a few body bytes, then reset the connection).
        status: HTTP status of a ``"reply"``. Default 200.
        body: body of a ``"reply"``.
        content_type: ``Content-Type`` of a ``"reply"``. Default ``application/json``.
        headers: extra response headers, as ``(name, value)`` pairs.
        seconds: how long a ``"hang"`` lasts (it ends early when the stand-in stops).
        encoding: for ``"image"``: ``"auto"`` (raw PNG on router paths, a JSON base64 string on
            ``/tti``), ``"raw"``, ``"json-string"``, ``"json-object"`` (``{"images": [b64]}``)
            or ``"data-uri"`` (a JSON string ``"data:image/png;base64,..."``).
    """

    kind: str
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    encoding: str = "auto"


def image(encoding: str = "auto") -> Behaviour:
    """Answer with a PNG reflecting the request (see :class:`Behaviour` for ``encoding``)."""
    return Behaviour(kind="image", encoding=encoding)


def reply(
    status: int,
    body: bytes | str | dict[str, Any] | list[Any],
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Behaviour:
    """Answer with a fixed ``status`` and ``body`` (a dict/list is sent as JSON)."""
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        content_type = content_type or "application/json"
    elif isinstance(body, str):
        data = body.encode()
        content_type = content_type or "text/plain; charset=utf-8"
    else:
        data = body
        content_type = content_type or "application/octet-stream"
    return Behaviour(
        kind="reply",
        status=status,
        body=data,
        content_type=content_type,
        headers=tuple((headers or {}).items()),
    )


def http_error(
    status: int, error: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Behaviour:
    """Answer ``status`` with HF's JSON error shape ``{"error": error, **extra}``."""
    return reply(status, {"error": error, **extra}, headers=headers)


def unauthorized() -> Behaviour:
    """401 as HF sends it for a bad token."""
    return http_error(401, "Invalid credentials in Authorization header")


def forbidden() -> Behaviour:
    """403 as HF sends it for a token without inference permission."""
    return http_error(403, "This authentication method does not have sufficient permissions")


def not_found() -> Behaviour:
    """404: the provider does not serve the model."""
    return http_error(404, "Model stable-diffusion-v1-5/stable-diffusion-v1-5 does not exist")


def gone() -> Behaviour:
    """410: the old api-inference answer for a retired endpoint or model."""
    return http_error(
        410, "The requested model is deprecated and no longer supported by provider hf-inference."
    )


def rate_limited(retry_after: str | None = "1") -> Behaviour:
    """429 with ``Retry-After: retry_after`` (no header when ``None``)."""
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return http_error(429, "Rate limit reached. You reached free usage limit.", headers=headers)


def loading(estimated_time: float | None = 1.0) -> Behaviour:
    """503 "model is loading" with ``estimated_time`` (left out when ``None``)."""
    extra = {"estimated_time": estimated_time} if estimated_time is not None else {}
    return http_error(503, "Model stable-diffusion-v1-5 is currently loading", **extra)


def garbage() -> Behaviour:
    """200 ``image/png`` whose body is not a PNG."""
    return reply(200, b"\x89PNG\r\n\x1a\nthis is not really a png at all", "image/png")


def html_page() -> Behaviour:
    """200 ``text/html``: e.g. a captive portal or a wrong URL."""
    return reply(200, b"<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>", "text/html")


def json_without_image() -> Behaviour:
    """200 JSON that carries no image."""
    return reply(200, {"status": "ok", "message": "nothing to see"})


def hang(seconds: float = 30.0) -> Behaviour:
    """Say nothing for ``seconds`` (or until the stand-in stops), then close the connection."""
    return Behaviour(kind="hang", seconds=seconds)


def reset_mid_body() -> Behaviour:
    """Send 200 headers promising 100 kB and a few PNG bytes, then reset the connection."""
    return Behaviour(kind="reset")


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def seed_colour(seed: int | None) -> tuple[int, int, int]:
    """The RGB colour the stand-in paints for ``seed`` (mid grey when no seed was sent)."""
    if seed is None:
        return (128, 128, 128)
    digest = hashlib.sha256(str(int(seed)).encode()).digest()
    return (digest[0], digest[1], digest[2])


def make_png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A solid ``colour`` PNG of ``width`` x ``height``."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def standin_translate(text: str) -> str:
    """Translate ``text`` the stand-in's way, shaped like opus-mt's output.

    Phrases of :data:`PHRASES` are replaced (longest first at each position), Chinese
    punctuation becomes ASCII, anything else (unknown characters, English) passes through;
    words are joined by single spaces, the first letter is capitalised and a final ``.`` added
    when the text does not end with punctuation, as a real MT model does: ``"一只狗在公园里"``
    -> ``"A dog in a park."``.
    """
    words: list[str] = []
    passing = False  # whether words[-1] is unknown text passing through, still growing
    index = 0
    longest = max(len(phrase) for phrase in PHRASES)
    while index < len(text):
        for size in range(min(longest, len(text) - index), 0, -1):
            piece = text[index : index + size]
            if piece in PHRASES:
                if PHRASES[piece]:
                    words.append(PHRASES[piece])
                index += size
                passing = False
                break
        else:
            char = text[index]
            index += 1
            if char in _PUNCTUATION or not (char.isalnum() or char.isspace()):
                mark = _PUNCTUATION.get(char, char)
                if words:
                    words[-1] += mark
                else:
                    words.append(mark)
                passing = False
            elif char.isspace():
                passing = False
            elif passing:
                words[-1] += char  # unknown text passes through whole: "赛博朋克", "neon"
            else:
                words.append(char)
                passing = True
    result = " ".join(word for word in words if word)
    if not result:
        return result
    result = result[0].upper() + result[1:]
    if result[-1] not in ".!?":
        result += "."
    return result


def translation_model_of(path: str) -> str | None:
    """The :data:`TRANSLATION_MODELS` entry a request path is for, or ``None``."""
    for prefix in ("/hf-inference/models/", "/models/"):
        if path.startswith(prefix) and path[len(prefix) :].strip("/") in TRANSLATION_MODELS:
            return path[len(prefix) :].strip("/")
    return None


def translation(text: str) -> Behaviour:
    """Answer a translation request with ``[{"translation_text": text}]`` whatever was sent."""
    return reply(200, [{"translation_text": text}])


# --------------------------------------------------------------------------------------------
# Recorded requests
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request the stand-in received.

    Attributes:
        method: ``"POST"``, ``"GET"`` ...
        path: the path, e.g. ``/hf-inference/models/owner/name`` or ``/tti``.
        headers: request headers, names lower-cased.
        body: the raw body.
        json: the body parsed as JSON, or ``None``.
        at: ``time.monotonic()`` when it arrived.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    at: float = field(default_factory=time.monotonic)

    query: dict[str, list[str]] = field(default_factory=dict)

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON ``parameters`` object (``hf-inference``'s shape), or, for a provider that
        sends its settings beside the prompt (fal-ai), those settings with ``image_size``
        flattened to ``width``/``height``; ``{}`` when there are none."""
        if not isinstance(self.json, dict):
            return {}
        if isinstance(self.json.get("parameters"), dict):
            return self.json["parameters"]
        if "prompt" in self.json:
            flat = {k: v for k, v in self.json.items() if k not in ("prompt", "image_size")}
            size = self.json.get("image_size")
            if isinstance(size, dict):
                flat.update(width=size.get("width"), height=size.get("height"))
            return flat
        return {}

    @property
    def seed(self) -> int | None:
        """The seed sent, or ``None``."""
        return self.parameters.get("seed")

    @property
    def prompt(self) -> Any:
        """The prompt sent (``inputs``, or fal-ai's ``prompt``), or ``None``."""
        if not isinstance(self.json, dict):
            return None
        return self.json.get("inputs", self.json.get("prompt"))

    @property
    def inputs(self) -> Any:
        """The JSON ``inputs`` sent (the prompt, or the text to translate), or ``None``."""
        return self.json.get("inputs") if isinstance(self.json, dict) else None

    @property
    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer ...`` header, or ``None``."""
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stand_in: StandInHF

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up (timeouts, resets are what tests provoke)."""
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: nothing stale is pooled

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        stand_in = self.server.stand_in
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        parts = urlsplit(self.path)
        recorded = RecordedRequest(
            method=self.command,
            path=parts.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json=parsed,
            query=parse_qs(parts.query),
        )
        if recorded.path.startswith("/api/"):
            stand_in._record_lookup(recorded)
            self._hub(recorded)
            return
        if recorded.path.startswith("/files/"):
            stand_in._record_lookup(recorded)
            self._file(recorded.path)
            return
        stand_in._record(recorded)
        if stand_in.expected_key is not None and recorded.bearer != stand_in.expected_key:
            self._reply(unauthorized())
            return
        behaviour = stand_in._next_behaviour()
        if behaviour.kind == "image" and translation_model_of(recorded.path) is not None:
            self._translation(recorded)
        elif behaviour.kind == "image" and recorded.path.rstrip("/") == "/v1/chat/completions":
            self._chat(recorded)
        elif behaviour.kind == "image":
            self._image(recorded, behaviour.encoding)
        elif behaviour.kind == "reply":
            self._reply(behaviour)
        elif behaviour.kind == "hang":
            stand_in._stopping.wait(behaviour.seconds)
            self.close_connection = True
        elif behaviour.kind == "reset":
            self._reset()
        else:  # pragma: no cover - a typo in a test
            raise ValueError(f"unknown behaviour kind {behaviour.kind!r}")

    def _hub(self, recorded: RecordedRequest) -> None:
        """The Hub API: a model's info with its provider mapping, or the list of models."""
        stand_in = self.server.stand_in
        if stand_in.expected_key is not None and recorded.bearer not in (
            None,
            stand_in.expected_key,
        ):
            self._reply(http_error(401, "Invalid credentials in Authorization header"))
            return
        models = stand_in.catalogue
        if recorded.path.rstrip("/") == "/api/models":
            self._reply(reply(200, listing(models, recorded.query)))
            return
        wanted = recorded.path[len("/api/models/") :].strip("/")
        found = next((model for model in models if model.id == wanted), None)
        if found is None:
            missing = http_error(
                404, "Repository not found", headers={"X-Error-Code": "RepoNotFound"}
            )
            self._reply(missing)
            return
        self._reply(reply(200, found.info()))

    def _file(self, path: str) -> None:
        """A generated image fal-ai's answer pointed at."""
        data = self.server.stand_in._files.get(path)
        self._reply(reply(200, data, "image/png") if data else http_error(404, "no such file"))

    def _chat(self, recorded: RecordedRequest) -> None:
        """A chat completion: the last user message translated the stand-in's way."""
        payload = recorded.json if isinstance(recorded.json, dict) else {}
        messages = payload.get("messages") or []
        text = next(
            (
                m.get("content")
                for m in reversed(messages)
                if isinstance(m, dict) and m.get("role") == "user"
            ),
            None,
        )
        if not isinstance(text, str):
            self._reply(http_error(422, "messages must hold a user message"))
            return
        self._reply(reply(200, chat_answer(str(payload.get("model")), standin_translate(text))))

    def _image(self, recorded: RecordedRequest, encoding: str) -> None:
        path = recorded.path
        is_tti = path.rstrip("/") == "/tti"
        if path.startswith("/fal-ai/") and recorded.method == "POST":
            self._fal(recorded)
            return
        if not (is_tti or path.startswith(("/hf-inference/models/", "/models/"))):
            self._reply(http_error(404, f"Not Found: {path}"))
            return
        if recorded.method != "POST":
            self._reply(http_error(405, "Method Not Allowed"))
            return
        parameters = recorded.parameters
        target = parameters.get("target_size")  # image-to-image's way of asking a size
        target = target if isinstance(target, dict) else {}
        width = _side(parameters.get("width", target.get("width")))
        height = _side(parameters.get("height", target.get("height")))
        png = make_png(width, height, seed_colour(recorded.seed))
        if encoding == "auto":
            encoding = "json-string" if is_tti else "raw"
        b64 = base64.b64encode(png).decode("ascii")
        if encoding == "raw":
            self._reply(reply(200, png, "image/png"))
        elif encoding == "json-string":
            self._reply(reply(200, json.dumps(b64).encode(), "application/json"))
        elif encoding == "json-object":
            self._reply(reply(200, {"images": [b64]}))
        elif encoding == "data-uri":
            self._reply(
                reply(200, json.dumps(f"data:image/png;base64,{b64}").encode(), "application/json")
            )
        else:  # pragma: no cover - a typo in a test
            raise ValueError(f"unknown image encoding {encoding!r}")

    def _fal(self, recorded: RecordedRequest) -> None:
        """fal-ai: the image is made, kept under ``/files/`` and answered as a URL."""
        parameters = recorded.parameters
        width, height = _side(parameters.get("width")), _side(parameters.get("height"))
        png = make_png(width, height, seed_colour(recorded.seed))
        url = self.server.stand_in._keep_file(png)
        self._reply(reply(200, fal_answer(url, width, height, recorded.seed)))

    def _translation(self, recorded: RecordedRequest) -> None:
        if recorded.method != "POST":
            self._reply(http_error(405, "Method Not Allowed"))
            return
        text = recorded.inputs
        if not isinstance(text, str):
            self._reply(http_error(400, "inputs must be a string"))
            return
        self._reply(translation(standin_translate(text)))

    def _reply(self, behaviour: Behaviour) -> None:
        self.send_response(behaviour.status)
        self.send_header("Content-Type", behaviour.content_type)
        self.send_header("Content-Length", str(len(behaviour.body)))
        for name, value in behaviour.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(behaviour.body)

    def _reset(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"\x89PNG\r\n\x1a\n\x00\x00")
        self.wfile.flush()
        time.sleep(0.05)  # let the client start reading the body
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


def _side(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return DEFAULT_SIDE
    return max(1, min(MAX_SIDE, int(value)))


class StandInHF:
    """A stand-in for Hugging Face's hosted text-to-image services on 127.0.0.1.

    Args:
        expected_key: when set, any request whose ``Authorization: Bearer`` token differs is
            answered 401 (like HF) without consuming a scripted behaviour. Default: accept all.
        catalogue: the models the Hub API knows and who serves them. Default
            :data:`~tests.standin_catalogue.TODAY`.

    Attributes:
        url: base URL, e.g. ``http://127.0.0.1:40123``; use it as ``HUATU_HF_ROUTER`` and
            ``HF_ENDPOINT``.
        catalogue: as given (may be replaced while running).
        tti_url: ``{url}/tti``; use it as ``HF_API_TTI_BASE``.
        default: the behaviour used when nothing is queued. Default :func:`image`.
    """

    def __init__(
        self, *, expected_key: str | None = None, catalogue: tuple[HubModel, ...] = TODAY
    ) -> None:
        self.expected_key = expected_key
        self.catalogue = catalogue
        self.default: Behaviour = image()
        self._queue: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._lookups: list[RecordedRequest] = []
        self._files: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> StandInHF:
        """Start listening on a free port; returns ``self``."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.stand_in = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            daemon=True,
            name="standin-hf",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging handlers are released at once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> StandInHF:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running; call start() first")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL (the router's stand-in)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def tti_url(self) -> str:
        """The tutorial endpoint's URL (``HF_API_TTI_BASE``)."""
        return f"{self.url}/tti"

    def model_url(self, model_id: str) -> str:
        """The router URL of ``model_id`` for the ``hf-inference`` provider."""
        return f"{self.url}/hf-inference/models/{model_id}"

    # -- scripting and recording -------------------------------------------------------------

    def enqueue(self, *behaviours: Behaviour) -> None:
        """Queue behaviours; each answers one request, in order, before ``default`` resumes."""
        with self._lock:
            self._queue.extend(behaviours)

    @property
    def pending(self) -> int:
        """How many queued behaviours are not used yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every inference request received so far, in order (the Hub API's and
        the image downloads are in :attr:`lookups`)."""
        with self._lock:
            return list(self._requests)

    @property
    def lookups(self) -> list[RecordedRequest]:
        """A copy of every Hub API request and image download, in order."""
        with self._lock:
            return list(self._lookups)

    def _record_lookup(self, request: RecordedRequest) -> None:
        with self._lock:
            self._lookups.append(request)

    def _keep_file(self, data: bytes) -> str:
        with self._lock:
            path = f"/files/{len(self._files)}.png"
            self._files[path] = data
        return f"{self.url}{path}"

    def clear(self) -> None:
        """Forget recorded requests and queued behaviours; ``default`` becomes :func:`image`."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._lookups.clear()
            self.default = image()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default
