"""The Hugging Face Space: README front matter, requirements.txt, and app.py run for real."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio
import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "README.md must start with the Space's YAML front matter"
    return yaml.safe_load(match.group(1))


def test_readme_front_matter_configures_a_gradio_space():
    config = front_matter()
    required = {"title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "app_file"}
    assert required <= set(config)
    assert config["sdk"] == "gradio" and (ROOT / config["app_file"]).is_file()
    assert config["app_file"] == "app.py" and config["pinned"] is False
    assert config["license"] == "apache-2.0"
    assert {config["colorFrom"], config["colorTo"]} <= COLOURS
    assert len(config.get("short_description", "")) <= 60  # the Hub's limit
    # a stale pin would run the Space on another Gradio than the one tested here
    assert str(config["sdk_version"]) == gradio.__version__


def test_requirements_txt_repeats_the_package_dependencies():
    """The Space installs requirements.txt before the repository is there, so it lists the
    dependencies themselves; they must not drift from pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    listed = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    declared = [Requirement(text) for text in project["dependencies"]]
    assert sorted(map(str, listed)) == sorted(map(str, declared))


def listening_hosts(port: int) -> set[str]:
    """IPv4 addresses with a socket listening on ``port``, from /proc/net/tcp."""
    hosts = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, port_hex = local.partition(":")
        if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
            hosts.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return hosts


@contextmanager
def running_app(env: dict[str, str], cwd: Path) -> Iterator[str]:
    """Run ``python app.py`` as a Space would; yield its loopback URL once it answers."""
    port = int(env["GRADIO_SERVER_PORT"])
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/config", timeout=2) as reply:
                    assert "test model" in reply.read().decode()
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "app.py did not answer"
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:  # uvicorn waits for open connections (gradio_client's) without a time limit
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def space_env(cache_dir: Path, tmp_path: Path, tiny_service) -> dict[str, str]:
    """app.py's environment: the session's tiny model, no keys, temp outputs, a free port."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_API", "HUATU_", "SPACE_", "GRADIO_SERVER"))
    }
    env.pop("HF_TOKEN", None)
    env.update(
        HUATU_MODEL="tiny",
        HUATU_BACKEND="local",
        HUATU_CACHE=str(cache_dir),
        HUATU_OUTPUTS=str(tmp_path / "outputs"),
        GRADIO_SERVER_PORT=str(free_port()),
    )
    return env


def test_app_serves_the_studio_on_loopback_off_spaces(space_env, tmp_path: Path):
    from gradio_client import Client
    from PIL import Image

    with running_app(space_env, tmp_path) as url:
        port = int(space_env["GRADIO_SERVER_PORT"])
        if Path("/proc/net/tcp").exists():
            assert listening_hosts(port) == {"127.0.0.1"}
        client = Client(url, verbose=False)
        try:
            result = client.predict(
                prompt="a lighthouse", steps=2, width=64, height=64, seed=1, api_name="/generate"
            )
        finally:
            client.close()  # its heartbeat stream would hold up the server's shutdown
        progress, _preview, gallery, info, _english = result
        (item,) = gallery
        assert Image.open(item["image"]).size == (64, 64)
        assert "Seed: 1" in info and progress.startswith("Done")
        saved = list((tmp_path / "outputs").rglob("*.png"))
        assert len(saved) == 1


def test_app_listens_on_every_interface_on_a_space(space_env, tmp_path: Path):
    env = {**space_env, "SPACE_ID": "someone/huatu"}
    with running_app(env, tmp_path) as url:
        port = int(env["GRADIO_SERVER_PORT"])
        if Path("/proc/net/tcp").exists():
            assert listening_hosts(port) == {"0.0.0.0"}
        with urllib.request.urlopen(f"{url}/", timeout=10) as reply:  # the studio page
            assert reply.status == 200 and "<html" in reply.read().decode().lower()
