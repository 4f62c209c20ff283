"""Secrets never leak: the Hugging Face key, huatu's API key and its passwords stay out of the
page config, API schemas, answers, errors, logs, PNG metadata, history and crash output.

One real ``huatu serve`` runs in a subprocess (its stdout and stderr are the logs) with
distinctive secrets in its environment. Every kind of request is made with good credentials:
pages and schemas, a generation and a bad request through each API (the studio through
gradio_client, AUTOMATIC1111, OpenAI), requests with a secret pasted into the prompt, and
requests that crash inside the backend with an exception whose message holds every secret
(injected by a tiny driver that patches ``LocalBackend.generate`` before starting the CLI).
Then everything captured is scanned: every HTTP body, the server's output, every file under
the outputs and cache folders (PNG text chunks, the history database and its WAL) except the
tiny model's weights, for each secret and the Basic-auth header's base64 form.

Decision on a secret typed into a prompt: the prompt is the person's own text. A prompt that
is refused (a bad request) is never echoed with the secret in it — errors are redacted; a
prompt that is *accepted* is drawn and recorded as typed (huatu never rewrites a prompt), so
that image's own metadata holds what the person typed. That case runs last, after the scan,
and is checked to reach nothing else (answers, logs). The hosted backend's own redaction
(a rejected key, a service that echoes the key in its error body) is tested, against the
stand-in, in tests/test_hosted.py (``test_stand_in_checks_the_key_like_hugging_face``,
``test_other_status_quotes_short_redacted_server_text``) and through the studio in
tests/test_hosted_edges.py; :func:`test_hosted_errors_through_the_apis_are_redacted` adds the
two HTTP APIs.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.exceptions import ValidationError as ClientValidationError

from tests.helpers import huatu_env, serve_tiny, serving_app, wait_until
from tests.standin_hf import StandInHF, http_error, unauthorized

HF_KEY = "hf_SECRETfake0123456789abcdef"
API_KEY = "hk-SECRETapi-9876543210zyxw"
USER = "ann"
PASSWORD = "pw-SECRETpass-55aa77bb"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SECRETS = {"HF_API_KEY": HF_KEY, "HUATU_API_KEY": API_KEY, "password": PASSWORD, "basic": BASIC}
BEARER = {"Authorization": f"Bearer {API_KEY}"}
#: Files of the tiny model (weights and tokenizer data): scanned by name only.
WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".ckpt", ".onnx"}
CRASH = "CRASH-HERE"

# Runs `huatu serve` with LocalBackend.generate patched to fail, for prompts holding CRASH,
# with an exception whose message holds every secret of the environment.
DRIVER = r"""
import os, sys
from huatu.backends import local

original = local.LocalBackend.generate

def generate(self, request, **kwargs):
    if "CRASH-HERE" in request.prompt:
        secrets = [os.environ["HF_API_KEY"], os.environ["HUATU_API_KEY"], os.environ["HUATU_AUTH"]]
        raise RuntimeError("boom " + " ".join(secrets))
    return original(self, request, **kwargs)

local.LocalBackend.generate = generate
from huatu.cli import main
main(sys.argv[1:], prog_name="huatu")
"""


#: A secret counts as found when any run of this many of its characters is (a message that
#: cuts a value short, "hf_SECRETfake01…", gives most of a key away).
WINDOW = 10


def find_secrets(data: bytes | str, where: str) -> list[str]:
    """``"where: NAME"`` for each secret found, whole or in part, in ``data``."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    return [
        f"{where}: {name}"
        for name, secret in SECRETS.items()
        if any(secret[i : i + WINDOW].encode() in data for i in range(len(secret) - WINDOW + 1))
    ]


class Captured:
    """Everything the server said, to scan at the end."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.count = 0

    def scan(self, data: bytes | str, where: str) -> None:
        self.count += 1
        self.found += find_secrets(data, where)

    def http(self, answer: httpx.Response, where: str) -> httpx.Response:
        self.scan(answer.content, f"{where} body")
        self.scan(str(answer.headers), f"{where} headers")
        return answer


@pytest.fixture(scope="module")
def server(
    cache_dir: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    """A ``huatu serve --model tiny --mcp`` subprocess with every secret set."""
    root = tmp_path_factory.mktemp("secrets")
    env = huatu_env(
        cache_dir,
        root / "outputs",
        HF_API_KEY=HF_KEY,
        HUATU_API_KEY=API_KEY,
        HUATU_AUTH=f"{USER}:{PASSWORD}",
        GRADIO_TEMP_DIR=str(root / "gradio"),
    )
    log_path = root / "server.log"
    with serve_tiny(env, log_path, "--mcp", driver=DRIVER, headers=BEARER, cwd=root) as running:
        yield {
            "url": running.url,
            "root": root,
            "log": log_path,
            "cache": cache_dir,
            "process": running,
        }


def log_after_a_crash(server: dict) -> bytes:
    """The server's log once a request that crashes in the backend has been logged: every
    line logged for the requests answered before it is in the file by then."""
    log_path: Path = server["log"]
    crashes = log_path.read_text("utf-8", "replace").count("boom")
    answer = httpx.post(
        server["url"] + "/v1/images/generations",
        json={"prompt": CRASH, "size": "64x64"},
        headers=BEARER,
        timeout=120,
    )
    assert answer.status_code == 500, answer.text
    wait_until(
        lambda: log_path.read_text("utf-8", "replace").count("boom") > crashes,
        what="the crash in the server's log",
    )
    return log_path.read_bytes()


def small(prompt: str, **fields: object) -> dict:
    return {"prompt": prompt, "steps": 2, "width": 64, "height": 64, **fields}


def test_no_secret_reaches_answers_logs_or_files(server: dict) -> None:
    url = server["url"]
    seen = Captured()
    http = httpx.Client(base_url=url, headers=BEARER, timeout=120)

    # pages and schemas, with either credential
    for path in ("/", "/config", "/gradio_api/info", "/openapi.json", "/docs"):
        for headers in (BEARER, {"Authorization": f"Basic {BASIC}"}):
            answer = seen.http(http.get(path, headers=headers), f"GET {path}")
            assert answer.status_code == 200, (path, answer.text[:200])
    schema = seen.http(http.get("/gradio_api/mcp/schema"), "GET mcp schema")
    assert schema.status_code == 200 and "generate_image" in schema.text
    for path in ("/sdapi/v1/options", "/sdapi/v1/sd-models", "/v1/models", "/sdapi/v1/progress"):
        assert seen.http(http.get(path), f"GET {path}").status_code == 200

    # a generation through each API
    answer = seen.http(
        http.post(
            "/sdapi/v1/txt2img", json={"prompt": "a dog", "steps": 2, "width": 64, "height": 64}
        ),
        "A1111 txt2img",
    )
    assert answer.status_code == 200, answer.text[:300]
    for image in answer.json()["images"]:
        seen.scan(base64.b64decode(image), "A1111 PNG")
    answer = seen.http(
        http.post("/v1/images/generations", json={"prompt": "a cat", "size": "64x64", "steps": 2}),
        "OpenAI generation",
    )
    assert answer.status_code == 200, answer.text[:300]
    seen.scan(base64.b64decode(answer.json()["data"][0]["b64_json"]), "OpenAI PNG")
    client = Client(url, headers=BEARER, verbose=False, download_files=str(server["root"] / "dl"))
    result = client.predict(**small("a bird"), api_name="/generate")
    seen.scan(repr(result), "studio result")
    for item in result[2]:
        seen.scan(Path(item["image"]).read_bytes(), "studio PNG")

    # bad requests, with the secrets pasted into the prompt, through each API
    pasted = f"a dog {HF_KEY} {API_KEY} {PASSWORD}"
    bad_a1111 = [
        {"prompt": pasted, "steps": 0},
        {"prompt": pasted * 40, "steps": 2},  # too long: the validator shows the value
        {"prompt": pasted, "sampler_name": pasted},
        {"prompt": pasted, "n_iter": pasted},
    ]
    for body in bad_a1111:
        answer = seen.http(http.post("/sdapi/v1/txt2img", json=body), "A1111 bad request")
        assert answer.status_code == 422, answer.text[:300]
    answer = seen.http(
        http.post("/sdapi/v1/options", json={"sd_model_checkpoint": "nobody/no-such-model"}),
        "A1111 options, unknown model",
    )
    assert answer.status_code >= 400
    bad_openai = [
        {"prompt": pasted, "size": pasted},
        {"prompt": pasted * 40},
        {"prompt": pasted, "model": pasted},
        {"prompt": pasted, "response_format": pasted},
        {"prompt": pasted, "n": pasted},
        {"prompt": pasted, "scheduler": pasted},
    ]
    for body in bad_openai:
        answer = seen.http(http.post("/v1/images/generations", json=body), "OpenAI bad request")
        assert answer.status_code == 400, answer.text[:300]
    answer = http.post(
        "/v1/images/generations",
        content=b'{"prompt": "' + pasted.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert seen.http(answer, "OpenAI broken JSON").status_code == 400
    seen.http(http.get(f"/v1/models/{HF_KEY}"), "OpenAI unknown model")
    seen.http(http.get(f"/v1/{API_KEY}"), "OpenAI unknown URL")
    seen.http(http.get(f"/outputs/{PASSWORD}.png"), "missing image")
    for fields in (small(pasted, steps=0), small(pasted, width=65), small(pasted, seed=-5)):
        with pytest.raises((ClientValidationError, AppError, httpx.HTTPStatusError)) as caught:
            client.predict(**fields, api_name="/generate")
        seen.scan(str(caught.value), "studio bad request")
        if isinstance(caught.value, httpx.HTTPStatusError):  # Gradio's own range check
            seen.scan(caught.value.response.content, "studio bad request body")

    # wrong credentials: the 401 never quotes what was sent or what is expected
    for headers in ({"Authorization": f"Bearer {HF_KEY}"}, {}):
        answer = httpx.get(url + "/config", headers=headers)
        assert seen.http(answer, "401").status_code == 401

    # a crash inside the backend whose message holds every secret
    answer = seen.http(
        http.post(
            "/sdapi/v1/txt2img", json={"prompt": CRASH, "steps": 2, "width": 64, "height": 64}
        ),
        "A1111 crash",
    )
    assert answer.status_code == 500 and "RuntimeError" in answer.text
    answer = seen.http(
        http.post("/v1/images/generations", json={"prompt": CRASH, "size": "64x64"}),
        "OpenAI crash",
    )
    assert answer.status_code == 500 and answer.json()["error"]["type"] == "server_error"
    with pytest.raises(AppError) as caught:
        client.predict(**small(CRASH), api_name="/generate")
    seen.scan(str(caught.value), "studio crash")
    assert "internal error" in str(caught.value)
    # the server survived, and says so in its log (which must name the failure, not the secret)
    assert http.get("/v1/models").status_code == 200
    log_text = log_after_a_crash(server).decode("utf-8", "replace")
    assert "RuntimeError" in log_text and "boom" in log_text, log_text[-2000:]

    # and now every file the server wrote, and its log
    seen.scan(log_text, "server log")
    files = 0
    for folder in (server["root"], server["cache"]):
        for path in folder.rglob("*"):
            if not path.is_file() or path.suffix in WEIGHT_SUFFIXES or path == server["log"]:
                continue
            files += 1
            seen.scan(path.read_bytes(), f"file {path}")
            seen.scan(path.name, f"file name {path}")
    outputs = server["root"] / "outputs"
    assert len(list(outputs.rglob("*.png"))) == 3
    assert (outputs / "history.sqlite3-wal").exists() or any(outputs.glob("*-wal"))
    assert files >= 6 and seen.count > 60
    leaked_lines = [line for line in log_text.splitlines() if find_secrets(line, "")]
    assert seen.found == [], (
        "secrets found in: " + "; ".join(dict.fromkeys(seen.found)) + f"; log: {leaked_lines}"
    )


def test_a_secret_typed_into_an_accepted_prompt_is_kept_only_in_that_image(server: dict) -> None:
    """Runs after the scan: the person's prompt is recorded as typed, and goes nowhere else."""
    http = httpx.Client(base_url=server["url"], headers=BEARER, timeout=120)
    before = server["log"].read_bytes()
    answer = http.post(
        "/v1/images/generations",
        json={"prompt": f"a sign that reads {HF_KEY}", "size": "64x64", "steps": 2},
    )
    assert answer.status_code == 200
    png = base64.b64decode(answer.json()["data"][0]["b64_json"])
    assert HF_KEY.encode() in png  # the image's own parameters: what the person typed
    after = log_after_a_crash(server)
    assert find_secrets(after[len(before) :], "log") == []


def test_the_studio_never_shows_part_of_a_secret_in_a_refusal(server: dict) -> None:
    client = Client(server["url"], headers=BEARER, verbose=False)
    # the secret straddles the point where the shown value is cut short
    prompt = "x" * 45 + API_KEY + "y" * 1000
    with pytest.raises(ClientValidationError, match="at most 1,000 characters") as caught:
        client.predict(**small(prompt), api_name="/generate")
    assert find_secrets(str(caught.value), "studio refusal") == []


@pytest.mark.usefixtures("hub_reaches_stand_in")
def test_hosted_errors_through_the_apis_are_redacted(settings, tmp_path: Path) -> None:
    """A hosted service that rejects the key, or echoes it in its error, through both HTTP
    APIs: the answers never hold it."""
    from huatu.service import ImageService

    with StandInHF() as stand_in:
        hosted = replace(
            settings, hf_api_key=HF_KEY, api_key=API_KEY, hf_router=stand_in.url, hosted_timeout_s=5
        )
        service = ImageService.start(hosted, model="some/model", backend="hosted")
        assert service.backend is not None, service.load_error
        with serving_app(service) as url:
            for behaviour in (unauthorized(), http_error(500, f"bad token {HF_KEY} / {API_KEY}")):
                stand_in.enqueue(behaviour)
                a1111 = httpx.post(
                    url + "/sdapi/v1/txt2img",
                    json={"prompt": "a dog", "width": 64, "height": 64},
                    timeout=30,
                )
                stand_in.enqueue(behaviour)
                openai = httpx.post(
                    url + "/v1/images/generations",
                    json={"prompt": "a dog", "size": "64x64"},
                    timeout=30,
                )
                for answer in (a1111, openai):
                    assert answer.status_code == 502, answer.text
                    assert find_secrets(answer.content, "answer") == []
            assert "***" in openai.text  # the service's own words, with the key cut out
    assert all(
        find_secrets(p.read_bytes(), str(p)) == [] for p in tmp_path.rglob("*") if p.is_file()
    )
