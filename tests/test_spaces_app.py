"""The Hugging Face Space: README front matter, requirements.txt, and app.py run for real."""

from __future__ import annotations

import re
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import gradio
import httpx
import pytest
import yaml
from packaging.requirements import Requirement

from tests.helpers import HuatuProcess, free_ports, huatu_env, launch_huatu

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


@pytest.fixture(scope="module", autouse=True)
def apps(
    cache_dir: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, HuatuProcess]]:
    """``python app.py`` as a Space would run it, off Spaces and on one (``SPACE_ID`` set),
    with the session's tiny model, no keys and temporary outputs. Both are launched when
    this module starts, so that their start-ups overlap; each test waits for its own."""
    launched: dict[str, HuatuProcess] = {}
    try:
        for (name, extra), port in zip(
            (("off", {}), ("on", {"SPACE_ID": "someone/huatu"})), free_ports(2), strict=True
        ):
            folder = tmp_path_factory.mktemp(f"space-{name}")
            env = huatu_env(
                cache_dir,
                folder / "outputs",
                HUATU_MODEL="tiny",
                HUATU_BACKEND="local",
                GRADIO_SERVER_PORT=str(port),
                **extra,
            )
            launched[name] = launch_huatu(
                [sys.executable, str(ROOT / "app.py")],
                env,
                port=port,
                log_path=folder / "app.log",
                cwd=folder,
            )
        yield launched
    finally:
        for app in launched.values():
            app.stop()


def ready(app: HuatuProcess) -> str:
    """Wait for ``app`` to answer; check it serves the tiny model; return its URL."""
    app.wait_ready()
    answer = httpx.get(app.url + "/config", timeout=30, trust_env=False)
    assert "test model" in answer.text
    return app.url


def test_app_serves_the_studio_on_loopback_off_spaces(apps, tmp_path: Path):
    from gradio_client import Client
    from PIL import Image

    url, port = ready(apps["off"]), apps["off"].port
    if Path("/proc/net/tcp").exists():
        assert listening_hosts(port) == {"127.0.0.1"}
    client = Client(url, verbose=False, download_files=str(tmp_path / "dl"))
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
    saved = list((apps["off"].log_path.parent / "outputs").rglob("*.png"))
    assert len(saved) == 1


def test_app_listens_on_every_interface_on_a_space(apps):
    url, port = ready(apps["on"]), apps["on"].port
    if Path("/proc/net/tcp").exists():
        assert listening_hosts(port) == {"0.0.0.0"}
    with urllib.request.urlopen(f"{url}/", timeout=60) as reply:  # the studio page
        assert reply.status == 200 and "<html" in reply.read().decode().lower()
