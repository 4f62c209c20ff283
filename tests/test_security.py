"""Other websites stay out: DNS rebinding, cross-site writes, reading answers, framing."""

from __future__ import annotations

import httpx
import pytest

from huatu.security import host_name, origin_host
from huatu.server import Access
from tests.helpers import serving_app

#: Seconds an HTTP call may take (generations included): a guard against hanging only.
TIMEOUT = 120
EVIL = "http://evil.example"
A1111_BODY = '{"prompt": "x", "steps": 1, "width": 64, "height": 64}'
WRITES = [
    ("/sdapi/v1/txt2img", A1111_BODY),
    ("/v1/images/generations", '{"prompt": "x", "size": "64x64"}'),
    ("/gradio_api/call/generate", '{"data": ["x", "", 1, 7, 64, 64, 1, 1, "euler", ""]}'),
    ("/gradio_api/upload", ""),
]


@pytest.fixture(scope="module")
def server(tiny_service):
    with serving_app(tiny_service) as url:
        yield url


def test_a_foreign_host_header_is_refused_on_loopback(server):
    port = server.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
        answer = httpx.get(server + "/config", headers={"Host": host})
        assert answer.status_code == 421, host
        assert "does not answer" in answer.json()["detail"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert httpx.get(server + "/config", headers={"Host": host}).status_code == 200, host
    answer = httpx.get(server + "/v1/models", headers={"Host": "evil.example"})
    assert answer.status_code == 421 and "error" in answer.json()  # OpenAI's shape


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_writes_from_other_websites_are_refused(server, path, body):
    for headers in (
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": "http://localhost:3000"},  # another local site is another origin
        {"Sec-Fetch-Site": "cross-site"},
    ):
        answer = httpx.post(
            server + path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert answer.status_code == 403, (path, headers, answer.text[:100])
        assert "other websites" in answer.text


def test_the_studio_s_own_pages_and_plain_clients_may_write(server):
    own = {"Origin": server, "Content-Type": "application/json"}
    answer = httpx.post(
        server + "/sdapi/v1/txt2img", content=A1111_BODY, headers=own, timeout=TIMEOUT
    )
    assert answer.status_code == 200 and answer.json()["images"]
    plain = httpx.post(
        server + "/sdapi/v1/txt2img", content=A1111_BODY, headers=own | {"Origin": ""}
    )
    assert plain.status_code == 403  # an empty Origin is not ours
    no_origin = {"Content-Type": "application/json"}  # curl, SDKs
    answer = httpx.post(
        server + "/sdapi/v1/txt2img", content=A1111_BODY, headers=no_origin, timeout=TIMEOUT
    )
    assert answer.status_code == 200


def test_other_websites_cannot_read_answers(server):
    for origin in (EVIL, "http://localhost:3000", "http://127.0.0.1:1"):
        for path in ("/config", "/gradio_api/info", "/v1/models", "/sdapi/v1/options"):
            answer = httpx.get(server + path, headers={"Origin": origin})
            allowed = {k for k in answer.headers if k.lower().startswith("access-control-allow")}
            assert not allowed, (origin, path, allowed)
        preflight = httpx.options(
            server + "/sdapi/v1/txt2img",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert "access-control-allow-methods" not in preflight.headers


def test_every_answer_carries_protective_headers(server):
    for path in ("/", "/config", "/v1/models", "/sdapi/v1/sd-models", "/outputs/none.png"):
        headers = httpx.get(server + path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "SAMEORIGIN", path
        assert headers["content-security-policy"] == "frame-ancestors 'self'", path
        assert headers["referrer-policy"] == "no-referrer", path
    refused = httpx.post(server + "/sdapi/v1/txt2img", headers={"Origin": EVIL})
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_beyond_loopback_the_host_is_not_checked_but_credentials_are(tiny_service):
    access = Access(api_key="k-sec-1")
    with serving_app(
        tiny_service, access=access, host="0.0.0.0", frame_ancestors=("https://huggingface.co",)
    ) as url:
        headers = {"Host": "huatu.example.org", "Authorization": "Bearer k-sec-1"}
        answer = httpx.get(url + "/v1/models", headers=headers)
        assert answer.status_code == 200
        frame = answer.headers["content-security-policy"]
        assert frame == "frame-ancestors 'self' https://huggingface.co"
        assert "x-frame-options" not in answer.headers
        assert (
            httpx.get(url + "/v1/models", headers={"Host": "huatu.example.org"}).status_code == 401
        )


def test_host_and_origin_parsing():
    assert host_name("127.0.0.1:7860") == "127.0.0.1"
    assert host_name("[::1]:7860") == "::1" and host_name("LocalHost") == "localhost"
    assert host_name("::1") == "::1"
    assert origin_host("http://127.0.0.1:7860") == "127.0.0.1:7860"
    assert origin_host("null") is None and origin_host("") is None
    assert origin_host("file:///etc/passwd") is None
