"""One server for everything: access control on every route, saved images only, loopback
unless credentials are set."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from huatu.server import Access, is_loopback, parse_users
from tests.helpers import (
    HuatuProcess,
    free_port,
    huatu_command,
    huatu_env,
    launch_huatu,
    run_huatu,
    serving_app,
)

#: Seconds an HTTP call may take (generations included): a guard against hanging only.
TIMEOUT = 120
KEY = "hk-test-key-0123456789"
USER, PASSWORD = "ann", "s3cret-pass"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
# (method, path, JSON body): one route of each kind the server has.
ROUTES = [
    ("GET", "/", None),
    ("GET", "/config", None),
    ("GET", "/gradio_api/info", None),
    ("GET", "/sdapi/v1/sd-models", None),
    ("GET", "/v1/models", None),
    ("POST", "/v1/images/generations", {"prompt": "x", "size": "64x64"}),
    ("GET", "/outputs/nothing.png", None),
    ("GET", "/gradio_api/mcp/schema", None),
    ("GET", "/docs", None),
]


@pytest.fixture(scope="module")
def locked(tiny_service):
    access = Access(users=((USER, PASSWORD),), api_key=KEY)
    with serving_app(tiny_service, access=access, mcp=True) as url:
        yield url


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_wants_credentials(locked, method, path, body):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        answer = httpx.request(method, locked + path, json=body, headers=headers, timeout=TIMEOUT)
        assert answer.status_code == 401, (path, headers, answer.text[:200])
        assert KEY not in answer.text and PASSWORD not in answer.text
        if path.startswith("/v1/"):  # OpenAI's error shape, which its clients read
            assert answer.json()["error"]["code"] == "invalid_api_key"
        else:
            assert "credentials" in answer.json()["detail"]
        # browsers get asked for a user name and password
        assert answer.headers["www-authenticate"].startswith("Basic")
    for good in (f"Bearer {KEY}", BASIC):
        answer = httpx.request(
            method, locked + path, json=body, headers={"Authorization": good}, timeout=TIMEOUT
        )
        assert answer.status_code != 401, (path, good[:6], answer.text[:200])


def test_the_gradio_client_works_with_a_key_and_is_refused_without(locked):
    client = Client(locked, headers={"Authorization": f"Bearer {KEY}"}, verbose=False)
    result = client.predict(
        prompt="a fox", steps=2, width=64, height=64, seed=4, api_name="/generate"
    )
    assert "Seed: 4" in str(result[2])
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError):
        Client(locked, verbose=False)


def test_without_credentials_configured_everything_is_open(tiny_service):
    with serving_app(tiny_service) as url:
        assert httpx.get(url + "/v1/models").status_code == 200
        assert httpx.get(url + "/sdapi/v1/sd-models").status_code == 200
        assert httpx.get(url + "/config").status_code == 200


def test_stopping_with_a_studio_session_open_ends_its_stream_without_an_error(tiny_service):
    """A studio session (a gradio_client, whose heartbeat stream never ends by itself) is
    open when the server stops: the server ends that stream instead of waiting for it and
    then cancelling it, so uvicorn logs no error (no "Exception in ASGI application" with
    a traceback)."""
    import logging

    from huatu.server import ServerThread, build_app
    from tests.helpers import wait_until

    port = free_port()
    server = ServerThread(build_app(tiny_service, port=port), "127.0.0.1", port)
    errors: list[str] = []
    hearing = logging.Handler(logging.ERROR)
    hearing.emit = lambda record: errors.append(record.getMessage())  # type: ignore[method-assign]
    # uvicorn's own logger (not propagated), heard once its config has set its handlers
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addHandler(hearing)
    try:
        server.start()
        client = Client(server.url, verbose=False)
        assert client.predict(prompt="a cat", api_name="/translate")
        # the session's heartbeat is a request still running on the server
        wait_until(lambda: server.server.server_state.tasks, what="the heartbeat stream")
        server.stop()
        client.close()
    finally:
        uvicorn_errors.removeHandler(hearing)
    assert not server.thread.is_alive()
    assert errors == []


def test_only_saved_pngs_are_served(tiny_service):
    from huatu.api.outputs import output_url
    from huatu.request import GenerationRequest

    result = tiny_service.generate(
        GenerationRequest.create(prompt="a fox", num_inference_steps=2, width=64, height=64)
    )
    outputs = tiny_service.settings.outputs_dir
    with serving_app(tiny_service) as url:
        image = httpx.get(output_url(url, outputs, result.paths[0]))
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        for trick in (
            "/outputs/../pyproject.toml",
            "/outputs/%2e%2e/%2e%2e/etc/passwd",
            "/outputs/..%2f..%2fetc%2fpasswd",
            "/outputs//etc/passwd",
            "/outputs/history.sqlite3",
            "/outputs/",
            "/gradio_api/file=/etc/passwd",
            f"/gradio_api/file={outputs.resolve()}/../../pyproject.toml",
            "/gradio_api/file=../../pyproject.toml",
            "/file=/etc/passwd",
        ):
            answer = httpx.get(url + trick)
            assert answer.status_code in (403, 404), (trick, answer.status_code)
            assert b"root:" not in answer.content and b"SQLite" not in answer.content


def test_access_rules():
    access = Access(users=((USER, PASSWORD),), api_key=KEY)
    assert access.allows(f"Bearer {KEY}") and access.allows(BASIC)
    assert not access.allows(None) and not access.allows("Bearer ") and not access.allows("Basic !")
    assert not access.allows("Basic " + base64.b64encode(f"{USER}:nope".encode()).decode())
    assert Access().allows(None)  # nothing configured: open (loopback only, see serve)
    assert parse_users("a:b, c:d:e") == (("a", "b"), ("c", "d:e"))
    with pytest.raises(ValueError, match="entry 2 must look like user:password") as error:
        parse_users("a:b,c")
    assert "b" not in str(error.value).split("(")[1]  # no password in the message
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def _serve(cli_env: dict[str, str], tmp_path, *args: str) -> subprocess.CompletedProcess:
    """``huatu serve --model tiny ARGS`` as a subprocess that is expected to refuse at once
    (a subprocess, so that a regression that starts serving ends at the timeout)."""
    return run_huatu("serve", "--model", "tiny", *args, env=cli_env, cwd=tmp_path, timeout_s=60)


def test_serve_refuses_to_listen_beyond_loopback_without_credentials(cli_env, tmp_path):
    for args in (["--listen"], ["--host", "0.0.0.0"], ["--host", "192.168.7.7"]):
        finished = _serve(cli_env, tmp_path, *args)
        assert finished.returncode == 2, finished.stderr
        assert "Refusing to listen on" in finished.stderr
        assert "HUATU_API_KEY" in finished.stderr and "Traceback" not in finished.stderr
    finished = _serve(cli_env, tmp_path, "--auth", "nopassword")
    assert finished.returncode == 2 and "user:password" in finished.stderr


@pytest.fixture(scope="module", autouse=True)
def share_server(
    cache_dir: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HuatuProcess]:
    """``huatu serve --share`` with an API key, launched when this module starts so that its
    start-up overlaps the in-process tests; its test waits for it."""
    folder = tmp_path_factory.mktemp("share")
    env = huatu_env(cache_dir, folder / "outputs", HUATU_API_KEY=KEY)
    port = free_port()
    command = huatu_command("serve", "--model", "tiny", "--share", "--port", str(port))
    with launch_huatu(command, env, port=port, log_path=folder / "share.log", cwd=folder) as server:
        yield server


def test_share_needs_credentials_and_says_when_no_link_can_be_opened(
    share_server, cli_env, tmp_path
):
    refused = _serve(cli_env, tmp_path, "--share")
    assert refused.returncode == 2 and "Refusing to open a share link" in refused.stderr
    bearer = {"Authorization": f"Bearer {KEY}"}
    server = share_server.wait_ready(headers=bearer)
    # offline here: the share server is unreachable
    said = server.wait_for_log("share link", "public link").splitlines()
    assert server.process.poll() is None, server.log()
    line = next(line for line in said if "share link" in line or "public link" in line)
    assert "could not open a share link" in line and "serving locally" in line
    # still serving; through a link the Host would be the link's, so it is not checked
    headers = {**bearer, "Host": "abc.gradio.live"}
    assert httpx.get(f"{server.url}/config", headers=headers).status_code == 200
    busy = _serve(cli_env, tmp_path, "--port", str(server.port))  # taken: said before loading
    assert busy.returncode == 2 and f"Cannot listen on 127.0.0.1:{server.port}" in busy.stderr
    assert "Traceback" not in busy.stderr
