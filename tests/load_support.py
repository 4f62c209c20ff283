"""A small, bounded load runner for huatu's three generation edges, on loopback only.

* The server is ``huatu serve --model tiny`` in a subprocess on 127.0.0.1
  (:func:`tests.helpers.serve_tiny`), so that its memory can be read from
  ``/proc/<pid>/status`` apart from the test process's own (:func:`settled_rss`).
* :func:`run_load` has N clients (threads), each making M requests one after another, spread
  over the studio's Gradio API (``/generate`` through ``gradio_client``; each client is its
  own Gradio session), the A1111 API (``POST /sdapi/v1/txt2img`` through httpx) and the
  OpenAI images API (``POST /v1/images/generations`` through the official ``openai`` client).
* Every request has its own prompt and seed. An answer is *served* when it carries exactly one
  PNG whose A1111 ``parameters`` text has that prompt and seed (anything else is cross-talk,
  counted as an error); *refused* when it is that API's queue-full answer (503 with
  ``Retry-After``; A1111's ``QueueFullError``, OpenAI's ``server_overloaded``); an *error*
  otherwise. :class:`LoadReport` sums them up with latency percentiles per API.
* :func:`http_burst` and :func:`gradio_burst` fire requests all at once, to see the refusals
  happen where they should.
"""

from __future__ import annotations

import base64
import math
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from huatu.metadata import parse_parameters, read_parameters

#: The edges a load spreads its requests over, in turn.
APIS = ("gradio", "a1111", "openai")
#: Sub-strings of the answers that mean "the queue is full, try later".
GRADIO_REFUSAL = ("already have", "queued or running")
HTTP_REFUSAL = "busy"
#: The HTTP APIs' queue-full answer: 503 with ``Retry-After``; OpenAI's ``code``.
OPENAI_FULL_CODE = "server_overloaded"

SERVED, REFUSED, ERROR = "served", "refused", "error"


# --------------------------------------------------------------------------------------------
# The server under load


def rss_bytes(pid: int) -> int:
    """The resident set size (``VmRSS``) of process ``pid``, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def settled_rss(pid: int, samples: int = 5, every_s: float = 0.2) -> int:
    """The median of a few RSS samples of process ``pid`` taken while it is idle, in bytes.

    Args:
        pid: the process.
        samples: how many samples. Default 5.
        every_s: seconds between them. Default 0.2.
    """
    values = []
    for _ in range(samples):
        values.append(rss_bytes(pid))
        time.sleep(every_s)
    return sorted(values)[len(values) // 2]


def gradio_queue_size(url: str) -> int:
    """Events waiting in the studio's Gradio queue now."""
    answer = httpx.get(f"{url}/gradio_api/queue/status", timeout=10, trust_env=False)
    answer.raise_for_status()
    return int(answer.json().get("queue_size") or 0)


def wait_drained(url: str, timeout_s: float = 120.0) -> float:
    """Wait until the Gradio queue is empty; return the seconds it took (a figure to print).

    Args:
        url: the server.
        timeout_s: a guard against a queue that never drains. Default 120 s.

    Raises:
        TimeoutError: it still holds events after ``timeout_s``.
    """
    started = time.monotonic()
    while gradio_queue_size(url):
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"the Gradio queue did not drain in {timeout_s:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - started


class RssSampler:
    """Samples a process's RSS in a background thread (for the peak under load)."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        self.pid = pid
        self.every_s = every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------------------------
# One request


@dataclass
class Outcome:
    """What happened to one request."""

    api: str
    client: int
    index: int
    prompt: str
    seed: int
    status: str  # SERVED, REFUSED or ERROR
    latency_s: float
    detail: str = ""


@dataclass(frozen=True)
class LoadConfig:
    """The size of a load: ``clients`` threads × ``requests`` each, and each image's size."""

    clients: int = 16
    requests: int = 5
    steps: int = 2
    size: int = 64
    apis: tuple[str, ...] = APIS
    timeout_s: float = 120.0

    @property
    def total(self) -> int:
        return self.clients * self.requests


def check_png(data: bytes, prompt: str, seed: int) -> str | None:
    """Why ``data`` is not the PNG made for ``prompt`` and ``seed`` (``None``: it is)."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return f"not a PNG: {data[:16]!r}"
    text = read_parameters(data)
    if text is None:
        return "the PNG has no parameters text"
    parsed = parse_parameters(text)
    found_seed = parsed.settings.get("Seed")
    if parsed.prompt != prompt or found_seed != str(seed):
        return (
            f"cross-talk: asked for {prompt!r} seed {seed}, got {parsed.prompt!r} seed {found_seed}"
        )
    return None


class Caller:
    """One client's connections to the three APIs (a Gradio client is one session)."""

    def __init__(self, url: str, download_dir: Path, timeout_s: float = 120.0) -> None:
        self.url = url
        self.download_dir = download_dir
        self.timeout_s = timeout_s
        self._http: httpx.Client | None = None
        self._gradio: Any = None
        self._openai: Any = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self.url, timeout=self.timeout_s, trust_env=False)
        return self._http

    @property
    def gradio(self) -> Any:
        if self._gradio is None:
            from gradio_client import Client

            self.download_dir.mkdir(parents=True, exist_ok=True)
            self._gradio = Client(
                self.url,
                verbose=False,
                download_files=str(self.download_dir),
                analytics_enabled=False,
                httpx_kwargs={"trust_env": False},
            )
        return self._gradio

    @property
    def openai(self) -> Any:
        if self._openai is None:
            from openai import OpenAI

            self._openai = OpenAI(
                base_url=f"{self.url}/v1",
                api_key="not-needed-on-loopback",
                max_retries=0,
                timeout=self.timeout_s,
                http_client=httpx.Client(timeout=self.timeout_s, trust_env=False),
            )
        return self._openai

    def connect(self, api: str) -> None:
        """Make the client for ``api`` now (a Gradio client fetches the app's config)."""
        _ = self.gradio if api == "gradio" else self.http if api == "a1111" else self.openai

    def close(self) -> None:
        if self._gradio is not None:
            self._gradio.close()
        if self._openai is not None:
            self._openai.close()
        if self._http is not None:
            self._http.close()

    # Each call returns (status, detail); the caller times it.

    def gradio_job(self, prompt: str, seed: int, steps: int, size: int) -> Any:
        """Submit one ``/generate`` job (returns the ``gradio_client`` Job)."""
        return self.gradio.submit(
            prompt=prompt,
            seed=seed,
            steps=steps,
            width=size,
            height=size,
            scheduler="euler",
            api_name="/generate",
        )

    def gradio_outcome(self, job: Any, prompt: str, seed: int) -> tuple[str, str]:
        """Wait for a ``/generate`` job and judge its answer."""
        from gradio_client.exceptions import AppError, ValidationError

        try:
            result = job.result(timeout=self.timeout_s)
        except (ValidationError, AppError) as error:
            text = str(error)
            if all(part in text for part in GRADIO_REFUSAL):
                return REFUSED, text
            return ERROR, f"{type(error).__name__}: {text}"
        except Exception as error:  # a timeout or a broken connection
            return ERROR, f"{type(error).__name__}: {error}"
        gallery = result[2] or []
        if len(gallery) != 1:
            return ERROR, f"expected 1 image, got {len(gallery)}: {result!r:.300}"
        data = Path(gallery[0]["image"]).read_bytes()
        problem = check_png(data, prompt, seed)
        return (ERROR, problem) if problem else (SERVED, "")

    def gradio_call(self, prompt: str, seed: int, steps: int, size: int) -> tuple[str, str]:
        return self.gradio_outcome(self.gradio_job(prompt, seed, steps, size), prompt, seed)

    def a1111_call(self, prompt: str, seed: int, steps: int, size: int) -> tuple[str, str]:
        body = {
            "prompt": prompt,
            "seed": seed,
            "steps": steps,
            "width": size,
            "height": size,
            "sampler_name": "Euler",
        }
        try:
            answer = self.http.post("/sdapi/v1/txt2img", json=body)
        except httpx.HTTPError as error:
            return ERROR, f"{type(error).__name__}: {error}"
        try:
            content = answer.json()
        except ValueError:
            return ERROR, f"{answer.status_code}, not JSON: {answer.text[:200]!r}"
        if answer.status_code == 503 and isinstance(content, dict):
            detail = str(content.get("detail", ""))
            full = content.get("error") == "QueueFullError" and HTTP_REFUSAL in detail
            if full and answer.headers.get("retry-after"):
                return REFUSED, detail
        if answer.status_code != 200:
            return ERROR, f"{answer.status_code}: {str(content)[:300]}"
        images = content.get("images") or []
        if len(images) != 1:
            return ERROR, f"expected 1 image, got {len(images)}"
        problem = check_png(base64.b64decode(images[0]), prompt, seed)
        return (ERROR, problem) if problem else (SERVED, "")

    def openai_call(self, prompt: str, seed: int, steps: int, size: int) -> tuple[str, str]:
        import openai

        try:
            answer = self.openai.images.generate(
                prompt=prompt,
                size=f"{size}x{size}",
                response_format="b64_json",
                extra_body={"seed": seed, "steps": steps, "scheduler": "euler"},
            )
        except openai.APIStatusError as error:
            retry_after = error.response.headers.get("retry-after")
            body = error.body if isinstance(error.body, dict) else {}
            text = str(body.get("message", ""))
            full = body.get("code") == OPENAI_FULL_CODE and HTTP_REFUSAL in text
            if error.status_code == 503 and retry_after and full:
                return REFUSED, text
            return ERROR, f"{error.status_code}: {str(error)[:300]}"
        except openai.OpenAIError as error:
            return ERROR, f"{type(error).__name__}: {str(error)[:300]}"
        if len(answer.data) != 1 or not answer.data[0].b64_json:
            return ERROR, f"expected 1 b64_json image, got {answer.data!r:.200}"
        problem = check_png(base64.b64decode(answer.data[0].b64_json), prompt, seed)
        return (ERROR, problem) if problem else (SERVED, "")

    def call(self, api: str, prompt: str, seed: int, steps: int, size: int) -> tuple[str, str]:
        method: Callable[..., tuple[str, str]] = getattr(self, f"{api}_call")
        return method(prompt, seed, steps, size)


def timed_call(
    caller: Caller, api: str, client: int, index: int, prompt: str, seed: int, config: LoadConfig
) -> Outcome:
    """Make one request and time it (connection set-up, e.g. a Gradio client's config
    fetch, is done before the clock starts)."""
    caller.connect(api)
    started = time.monotonic()
    try:
        status, detail = caller.call(api, prompt, seed, config.steps, config.size)
    except Exception as error:  # the runner must report, not crash
        status, detail = ERROR, f"{type(error).__name__}: {error}"
    return Outcome(api, client, index, prompt, seed, status, time.monotonic() - started, detail)


# --------------------------------------------------------------------------------------------
# The load and its report


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank percentile of ``values`` (0.0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _latency(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values, default=0.0), 3),
    }


@dataclass
class LoadReport:
    """Every request's :class:`Outcome`, and how long the whole load took."""

    config: LoadConfig
    outcomes: list[Outcome]
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def of(self, status: str, api: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status and api in (None, o.api)]

    def summary(self) -> dict[str, Any]:
        """Served, refused and errors (with examples), latency percentiles of the served
        requests per API and overall, and the wall time; plus whatever ``extra`` holds."""
        errors = self.of(ERROR)
        per_api = {
            api: {
                "served": len(self.of(SERVED, api)),
                "refused": len(self.of(REFUSED, api)),
                "errors": len(self.of(ERROR, api)),
                "latency": _latency([o.latency_s for o in self.of(SERVED, api)]),
            }
            for api in self.config.apis
        }
        return {
            "clients": self.config.clients,
            "requests_each": self.config.requests,
            "steps": self.config.steps,
            "size": f"{self.config.size}x{self.config.size}",
            "total": len(self.outcomes),
            "served": len(self.of(SERVED)),
            "refused": len(self.of(REFUSED)),
            "errors": len(errors),
            "cross_talk": sum("cross-talk" in o.detail for o in errors),
            "error_examples": [f"{o.api} c{o.client} r{o.index}: {o.detail}" for o in errors[:5]],
            "refusal_examples": sorted({f"{o.api}: {o.detail}" for o in self.of(REFUSED)})[:3],
            "latency": _latency([o.latency_s for o in self.of(SERVED)]),
            "refused_latency": _latency([o.latency_s for o in self.of(REFUSED)]),
            "per_api": per_api,
            "wall_s": round(self.wall_s, 2),
            "served_per_s": round(len(self.of(SERVED)) / self.wall_s, 2) if self.wall_s else 0,
            "fairness": self.fairness(),
            **self.extra,
        }

    def fairness(self) -> dict[str, float | None]:
        """How evenly the waiting was shared (figures, never asserted: they are times): the
        studio's p50 over the HTTP APIs' p50 (issue 14's goal: at most 1.5), and the worst
        client's p95 over the overall p95 (goal: at most 2)."""
        served = self.of(SERVED)
        studio = [o.latency_s for o in served if o.api == "gradio"]
        apis = [o.latency_s for o in served if o.api != "gradio"]
        overall = percentile([o.latency_s for o in served], 95)
        clients = {o.client for o in served}
        worst = max(
            (percentile([o.latency_s for o in served if o.client == c], 95) for c in clients),
            default=0.0,
        )
        api_p50 = percentile(apis, 50)
        return {
            "studio_p50_over_api_p50": round(percentile(studio, 50) / api_p50, 2)
            if studio and api_p50
            else None,
            "worst_client_p95_over_p95": round(worst / overall, 2) if overall else None,
        }


def format_summary(summary: dict[str, Any], title: str = "huatu load") -> str:
    """The summary as a few lines of text."""
    lat = summary["latency"]
    lines = [
        f"== {title}: {summary['clients']} clients x {summary['requests_each']} requests "
        f"({summary['steps']} steps, {summary['size']}) on 127.0.0.1 ==",
        f"requests {summary['total']}: served {summary['served']}, refused "
        f"{summary['refused']}, errors {summary['errors']} (cross-talk "
        f"{summary['cross_talk']}); wall {summary['wall_s']} s, "
        f"{summary['served_per_s']} served/s",
        f"latency served (s): p50 {lat['p50']}  p95 {lat['p95']}  max {lat['max']}"
        f"   | refused: p50 {summary['refused_latency']['p50']}"
        f"  p95 {summary['refused_latency']['p95']}",
    ]
    fair = summary["fairness"]
    lines.append(
        f"fairness: studio p50 / API p50 = {fair['studio_p50_over_api_p50']} (goal <= 1.5); "
        f"worst client p95 / p95 = {fair['worst_client_p95_over_p95']} (goal <= 2)"
    )
    for api, row in summary["per_api"].items():
        api_lat = row["latency"]
        lines.append(
            f"  {api:<7} served {row['served']:>4}  refused {row['refused']:>4}  errors "
            f"{row['errors']:>3}  p50 {api_lat['p50']:.3f}  p95 {api_lat['p95']:.3f}  "
            f"max {api_lat['max']:.3f}"
        )
    known = {
        "clients",
        "requests_each",
        "steps",
        "size",
        "total",
        "served",
        "refused",
        "errors",
        "cross_talk",
        "error_examples",
        "refusal_examples",
        "latency",
        "refused_latency",
        "per_api",
        "wall_s",
        "served_per_s",
        "fairness",
    }
    for key, value in summary.items():
        if key not in known:
            lines.append(f"{key}: {value}")
    for example in summary["refusal_examples"]:
        lines.append(f"refusal e.g. {example}")
    for example in summary["error_examples"]:
        lines.append(f"ERROR e.g. {example}")
    return "\n".join(lines)


def request_for(client: int, index: int, nonce: str) -> tuple[str, int]:
    """The unique prompt and seed of one request."""
    return f"load c{client} r{index} {nonce}", 1_000_000 + client * 1_000 + index


def run_load(
    url: str, config: LoadConfig, workdir: Path, *, nonce: str | None = None
) -> LoadReport:
    """``config.clients`` threads, each making ``config.requests`` requests one after
    another; request ``r`` of client ``c`` goes to ``config.apis[(c + r) % len(apis)]``.
    All clients start together (a barrier) once their connections are made."""
    nonce = nonce or secrets.token_hex(4)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    ready = threading.Barrier(config.clients + 1)

    def client_thread(client: int) -> None:
        caller = Caller(url, workdir / f"c{client}", config.timeout_s)
        mine: list[Outcome] = []
        try:
            apis = {config.apis[(client + r) % len(config.apis)] for r in range(config.requests)}
            for api in apis:  # connect (and fetch Gradio's config) before the clock starts
                caller.connect(api)
        except Exception as error:  # counted below as errors of every request
            ready.wait()
            for index in range(config.requests):
                api = config.apis[(client + index) % len(config.apis)]
                prompt, seed = request_for(client, index, nonce)
                mine.append(Outcome(api, client, index, prompt, seed, ERROR, 0.0, repr(error)))
        else:
            ready.wait()
            for index in range(config.requests):
                api = config.apis[(client + index) % len(config.apis)]
                prompt, seed = request_for(client, index, nonce)
                mine.append(timed_call(caller, api, client, index, prompt, seed, config))
        finally:
            caller.close()
            with lock:
                outcomes.extend(mine)

    threads = [
        threading.Thread(target=client_thread, args=(client,), daemon=True)
        for client in range(config.clients)
    ]
    for thread in threads:
        thread.start()
    ready.wait(timeout=config.timeout_s)
    started = time.monotonic()
    deadline = started + config.timeout_s * config.requests
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    wall = time.monotonic() - started
    stuck = [thread for thread in threads if thread.is_alive()]
    if stuck:
        raise TimeoutError(f"{len(stuck)} load clients never finished")
    outcomes.sort(key=lambda o: (o.client, o.index))
    return LoadReport(config, outcomes, wall)


# --------------------------------------------------------------------------------------------
# Bursts


def http_burst(
    url: str, count: int, *, steps: int = 2, size: int = 64, nonce: str | None = None
) -> list[Outcome]:
    """``count`` A1111 and OpenAI requests (alternating) released at the same instant from
    ``count`` threads (a barrier), each with its own connection."""
    nonce = nonce or secrets.token_hex(4)
    config = LoadConfig(clients=count, requests=1, steps=steps, size=size)
    callers = [Caller(url, Path("/nonexistent")) for _ in range(count)]
    apis = [("a1111", "openai")[i % 2] for i in range(count)]
    for caller, api in zip(callers, apis, strict=True):
        caller.connect(api)
    barrier = threading.Barrier(count)

    def one(i: int) -> Outcome:
        prompt, seed = request_for(i, 0, f"burst {nonce}")
        barrier.wait(timeout=60)
        return timed_call(callers[i], apis[i], i, 0, prompt, seed, config)

    try:
        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(one, range(count)))
    finally:
        for caller in callers:
            caller.close()


def gradio_burst(
    caller: Caller, count: int, *, steps: int = 2, size: int = 64, nonce: str | None = None
) -> list[Outcome]:
    """``count`` ``/generate`` jobs submitted at once by ONE Gradio client (one session)."""
    nonce = nonce or secrets.token_hex(4)
    asked = [request_for(0, i, f"gburst {nonce}") for i in range(count)]
    started = time.monotonic()
    jobs = [caller.gradio_job(prompt, seed, steps, size) for prompt, seed in asked]
    outcomes = []
    for i, (job, (prompt, seed)) in enumerate(zip(jobs, asked, strict=True)):
        status, detail = caller.gradio_outcome(job, prompt, seed)
        outcomes.append(
            Outcome("gradio", 0, i, prompt, seed, status, time.monotonic() - started, detail)
        )
    return outcomes
