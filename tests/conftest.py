"""Shared fixtures: settings pointed at temp folders, the tiny model (built once per run),
the environment of a huatu subprocess, and a headless browser.

Plain helpers (ports, running the ``huatu`` command, servers) live in :mod:`tests.helpers`.
The whole run is pinned to fp32 (:data:`tests.helpers.TEST_DTYPE`), in this process and in
every subprocess, so that no result depends on the CPU's bf16 support. ``make test`` runs it
on two pytest-xdist workers, each taking whole test files; they share the one tiny model.
"""

from __future__ import annotations

import os

from tests.helpers import TEST_DTYPE

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"  # nothing downloads at test time
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ["HUATU_DTYPE"] = TEST_DTYPE  # the CLI run in process, and subprocesses
if "PYTEST_XDIST_WORKER" in os.environ:
    # `make test` runs two workers on two cores: one OpenMP thread each (set before torch is
    # imported, and inherited by subprocesses), or their threads spin against each other and
    # two workers take as long as one
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from huatu.config import Settings
from tests.helpers import huatu_env

#: The test files that run longest (about 100, 50, 45 and 45 s on two cores), run first:
#: with the files shared out to two workers as each finishes one, the long ones no longer
#: start last and keep one worker busy while the other has nothing left.
LONGEST_FIRST = (
    "test_ray.py",
    "test_studio_browser.py",
    "test_load.py",
    "test_editing_browser.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests of :data:`LONGEST_FIRST` first, each file's own order kept."""

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide cache folder where the tiny model is built once. Under pytest-xdist
    each worker has its own, whose tiny model is a link to the one the first worker built."""
    cache = tmp_path_factory.mktemp("huatu-cache")
    if "PYTEST_XDIST_WORKER" in os.environ:
        _link_shared_tiny_model(cache, tmp_path_factory.getbasetemp().parent)
    return cache


def _link_shared_tiny_model(cache: Path, run_root: Path) -> None:
    """Build the tiny model once in ``run_root`` (the folder all workers of this run share;
    the first to take the lock builds it, the others wait) and link it into ``cache``."""
    import fcntl

    from huatu.backends.tiny import ensure_tiny_model, tiny_model_dir

    with open(run_root / "tiny-model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shared = ensure_tiny_model(run_root / "shared-cache")
    tiny_model_dir(cache).symlink_to(shared, target_is_directory=True)


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


#: How long a browser test's ``expect`` waits for what a page should show, in ms.
BROWSER_WAIT_MS = 30_000


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium, driven by Playwright (its own browser download is not used)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install)")
    from playwright.sync_api import expect, sync_playwright

    # a guard, not a measure: what a page shows may take long on a busy two-core machine
    # (the other test worker at work); Playwright's own 5 s is too tight for that
    expect.set_options(timeout=BROWSER_WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
