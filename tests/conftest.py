"""Shared fixtures: settings pointed at temp folders, the tiny model, and live Gradio apps."""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"  # nothing downloads at test time
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from huatu.config import Settings


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide cache folder where the tiny model is built once."""
    return tmp_path_factory.mktemp("huatu-cache")


@pytest.fixture(scope="session")
def base_settings(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the tiny model with temp outputs and no key."""
    return Settings(
        model="tiny",
        cache_dir=cache_dir,
        outputs_dir=tmp_path_factory.mktemp("outputs"),
    )


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    """Per-test settings whose outputs folder is the test's own."""
    return replace(base_settings, outputs_dir=tmp_path / "outputs")


@pytest.fixture(scope="session")
def tiny_service(base_settings: Settings):
    """One ImageService on the tiny model, shared by the whole session (loading is slow-ish)."""
    from huatu.service import ImageService

    service = ImageService.start(base_settings, model="tiny", backend="local")
    assert service.backend is not None, service.load_error
    return service


@pytest.fixture
def hub_reaches_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let huggingface_hub talk to the local stand-in server despite HF_HUB_OFFLINE=1.

    The stand-in listens on 127.0.0.1, so nothing leaves the machine; every other test keeps
    huggingface_hub offline.
    """
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where browser tests save screenshots: ``docs/`` under ``make screenshots``
    (HUATU_UPDATE_SCREENSHOTS=1), else the test's temp folder, so ``make test`` leaves the
    checkout clean."""
    if os.environ.get("HUATU_UPDATE_SCREENSHOTS") == "1":
        docs = Path(__file__).resolve().parent.parent / "docs"
        docs.mkdir(exist_ok=True)
        return docs
    return tmp_path


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a closed network: without the background-networking ones Chromium keeps trying
# to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium, driven by Playwright (its own browser download is not used)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(demo) -> Iterator[str]:
    """Launch a Gradio app for real on 127.0.0.1 and a free port; yield its URL."""
    from huatu.ui.common import launch

    launch(demo, free_port(), block=False, quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


@contextmanager
def serving_app(service, **options) -> Iterator[str]:
    """Serve :func:`huatu.server.build_app` (studio + HTTP APIs) for real with uvicorn on
    127.0.0.1 and a free port; yield its base URL.

    Args:
        service: the ImageService every edge calls.
        **options: passed to ``build_app`` (``access=``, ``mcp=`` …).
    """
    from huatu.server import ServerThread, build_app

    port = free_port()
    app = build_app(service, port=port, **options)
    server = ServerThread(app, "127.0.0.1", port).start()
    try:
        yield server.url
    finally:
        server.stop()
