"""``--backend ray --ray-address``: a Ray cluster that goes away while huatu serves, and comes
back.

A real Ray head (``ray start --head``) on 127.0.0.1 and a real ``huatu serve --backend ray
--ray-address 127.0.0.1:PORT`` subprocess; the cluster is stopped with ``ray stop`` and started
again on the same address. (Its own module: ``test_ray.py``'s in-process Ray instance has
ended when this one starts, so ``ray stop`` stops only this cluster.)
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from huatu.metadata import parse_parameters, read_parameters
from tests.helpers import free_port, huatu_env, serve_tiny

pytest.importorskip("ray")

RAY = str(Path(sys.executable).parent / "ray")


def ray_command(env: dict[str, str], *args: str) -> None:
    subprocess.run([RAY, *args], env=env, check=True, capture_output=True, timeout=120)


def start_head(env: dict[str, str], port: int) -> None:
    """A Ray head on 127.0.0.1:``port`` (no dashboard), with two CPUs."""
    ray_command(
        env,
        "start",
        "--head",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--include-dashboard=false",
        "--num-cpus=2",
        "--disable-usage-stats",
    )


def txt2img(url: str, seed: int) -> httpx.Response:
    body = {"prompt": "a lighthouse", "seed": seed, "steps": 2, "width": 64, "height": 64}
    return httpx.post(f"{url}/sdapi/v1/txt2img", json=body, timeout=300, trust_env=False)


def assert_served(answer: httpx.Response, seed: int) -> None:
    assert answer.status_code == 200, answer.text[:300]
    png = base64.b64decode(answer.json()["images"][0])
    assert int(parse_parameters(read_parameters(png)).settings["Seed"]) == seed


def test_a_lost_cluster_is_refused_in_one_sentence_and_served_again_once_back(
    cache_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """Served on the cluster; the cluster stopped → the server stays up (its options answer,
    "0 of 1 replicas up") and a generation is refused with one sentence saying the cluster
    does not answer, not left hanging; the cluster started again on the same address → the
    front connects again by itself, deploys the generator there, and serves."""
    env = {**huatu_env(cache_dir, tmp_path / "outputs"), "RAY_AUTH_MODE": "disabled"}
    port = free_port()
    address = f"127.0.0.1:{port}"
    start_head(env, port)
    try:
        options = ("--backend", "ray", "--ray-address", address, "--replicas", "1")
        with serve_tiny(env, tmp_path / "server.log", *options) as server:
            assert_served(txt2img(server.url, 1), 1)

            ray_command(env, "stop", "--force")
            refused = txt2img(server.url, 2)
            assert refused.status_code == 503, refused.text[:300]
            said = refused.json()["detail"]
            assert said.startswith(f"The Ray cluster at {address} is not answering"), said
            settings = httpx.get(f"{server.url}/sdapi/v1/options", timeout=30, trust_env=False)
            assert settings.status_code == 200
            assert "0 of 1 replicas up" in settings.json()["huatu_backend"]

            start_head(env, port)
            assert_served(txt2img(server.url, 3), 3)
            assert "connecting" in server.log()
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)
