"""Shared fixtures: settings pointed at temp folders, the tiny model (built once per run),
the environment of a huatu subprocess, and a headless browser.

Plain helpers (ports, running the ``huatu`` command, servers) live in :mod:`tests.helpers`.
The whole run is pinned to fp32 (:data:`tests.helpers.TEST_DTYPE`), in this process and in
every subprocess, so that no result depends on the CPU's bf16 support.
"""

from __future__ import annotations

import os

from tests.helpers import TEST_DTYPE

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"  # nothing downloads at test time
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ["HUATU_DTYPE"] = TEST_DTYPE  # the CLI run in process, and subprocesses

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from huatu.config import Settings
from tests.helpers import huatu_env


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide cache folder where the tiny model is built once."""
    return tmp_path_factory.mktemp("huatu-cache")


@pytest.fixture(scope="session")
def tiny_model(cache_dir: Path) -> Path:
    """The tiny model's folder in :func:`cache_dir`, built there once for the whole run."""
    from huatu.backends.tiny import ensure_tiny_model

    return ensure_tiny_model(cache_dir)


@pytest.fixture(scope="session")
def base_settings(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the tiny model with temp outputs, no key, and fp32 on every CPU."""
    return Settings(
        model="tiny",
        cache_dir=cache_dir,
        outputs_dir=tmp_path_factory.mktemp("outputs"),
        models_dir=tmp_path_factory.mktemp("models"),  # empty: no model of the machine's
        dtype=TEST_DTYPE,
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
def cli_env(cache_dir: Path, tiny_model: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a ``huatu`` run (subprocess or in process): the session's tiny
    model, fp32, no keys, outputs in the test's ``tmp_path / "outputs"``."""
    return huatu_env(cache_dir, tmp_path / "outputs")


@pytest.fixture
def hub_reaches_stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let huggingface_hub talk to the local stand-in server despite HF_HUB_OFFLINE=1.

    The stand-in listens on 127.0.0.1, so nothing leaves the machine; every other test keeps
    huggingface_hub offline. The library's Hub and router addresses (which huatu points at
    its settings') are put back afterwards, and what huatu and the library remember of the
    Hub's answers is forgotten before and after, so each test's stand-in answers for itself.
    """
    from huggingface_hub import constants
    from huggingface_hub.inference._providers._common import _fetch_inference_provider_mapping

    from huatu.backends.hub_lookup import forget

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", constants.ENDPOINT)
    monkeypatch.setattr(constants, "INFERENCE_PROXY_TEMPLATE", constants.INFERENCE_PROXY_TEMPLATE)
    forget()
    _fetch_inference_provider_mapping.cache_clear()
    yield
    forget()
    _fetch_inference_provider_mapping.cache_clear()


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
