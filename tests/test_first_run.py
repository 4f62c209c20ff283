"""A Hub model that is not on this machine yet: fetched into the models folder with its
progress shown (bytes, speed, time left) — on a first start while the page is already up and
generations wait, told why; from the studio's model choice while the old model still serves.

The Hub is the suite's stand-in of its file API (:mod:`tests.standin_hub_files`), holding
the VAE's weights half-way until the test lets them go, so the middle of a download is seen.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from huatu.backends.base import CancelToken, ProgressEvent
from huatu.config import Settings
from huatu.errors import GenerationCancelled
from huatu.messages import render
from huatu.models.download import PullPlan, needs_download
from huatu.models.fetching import PARTIAL_FILES, DownloadProgress, ModelFetch, bytes_on_disk
from huatu.models.folders import CHECKPOINT, library_for
from huatu.request import GenerationRequest
from huatu.service import ImageService
from tests.standin_hub_files import StandInHubFiles

SMALL = {"num_inference_steps": 2, "width": 64, "height": 64, "seed": 7}
REPO = "someone/tiny-sd"


@pytest.fixture
def held_hub(tiny_model: Path, tmp_path: Path, hub_reaches_stand_in: None) -> Iterator:
    """The tiny model served as ``someone/tiny-sd``, its VAE's weights held half-way until
    ``release`` is set."""
    repo = tmp_path / "repo"
    shutil.copytree(tiny_model, repo)
    release = threading.Event()
    with StandInHubFiles(REPO, repo, hold=release) as hub:
        yield hub, release
    release.set()


def until(condition, what: str, timeout_s: float = 60.0):
    """Poll ``condition`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def half_way(service: ImageService) -> bool:
    """Whether every file but the VAE's weights is on disk (most of the bytes, not all)."""
    download = service.download
    progress = download.progress() if download is not None else None
    return progress is not None and progress.total / 2 < progress.done < progress.total


def test_a_first_start_is_up_at_once_shows_the_download_and_generations_wait(
    settings: Settings, tmp_path: Path, held_hub
) -> None:
    hub, release = held_hub
    models = tmp_path / "models"
    first = replace(settings, hf_endpoint=hub.url, models_dir=models, model=REPO, backend="local")
    assert needs_download(REPO, first)

    service = ImageService.start(first, background=True)  # returns while the download runs
    assert service.backend is None and service.model_pending
    until(lambda: half_way(service), "half the download")
    line = render(service.status_notice())
    assert line.startswith(f"⬇ Downloading {REPO}: ") and " of " in line, line
    assert "Generating waits until it is downloaded and loaded." in line
    zh = render(service.status_notice(), "zh-CN")
    assert f"正在下载 {REPO}" in zh and "下载并加载完成后才能生成" in zh
    # a folder being fetched is not offered as a model yet
    assert "tiny-sd" not in library_for(first).names(CHECKPOINT)

    events: list[ProgressEvent] = []
    outcome: dict = {}

    def generate() -> None:
        request = GenerationRequest.create(prompt="a fox", **SMALL)
        outcome["result"] = service.generate(request, progress=events.append, save=False)

    waiting = threading.Thread(target=generate)
    waiting.start()
    told = until(lambda: [event for event in events if event.message is not None], "a message")
    assert f"Downloading {REPO}" in render(told[0].message)
    assert waiting.is_alive()  # it waits for the model
    stopped = CancelToken()
    stopped.cancel()
    with pytest.raises(GenerationCancelled):  # a stop ends a wait at once
        service.generate(GenerationRequest.create(prompt="a cat", **SMALL), cancel=stopped)

    release.set()
    waiting.join(timeout=120)
    assert outcome["result"].images and service.backend is not None
    assert not service.model_pending and service.status_notice().key == "status"
    folder = models / "Stable-diffusion" / "tiny-sd"
    assert (folder / ".huatu-source").read_text().strip() == REPO
    assert "unet/diffusion_pytorch_model.safetensors" in hub.fetched

    # the copy is complete: the next start loads it from the models folder, no Hub needed
    assert not needs_download(REPO, first)
    assert "tiny-sd" in library_for(first).names(CHECKPOINT)
    offline = replace(first, hf_endpoint="http://127.0.0.1:9")
    again = ImageService.start(offline, background=True)
    assert again.backend is not None and again.download is None


def test_the_studio_downloads_a_chosen_hub_model_while_the_old_one_serves(
    settings: Settings, tmp_path: Path, held_hub
) -> None:
    from huatu.ui.model_handlers import ModelHandlers

    hub, release = held_hub
    local = replace(settings, hf_endpoint=hub.url, models_dir=tmp_path / "models")
    service = ImageService.start(local, model="tiny", backend="local")
    items = dict((name, label) for label, name in service.model_items())
    assert items["stabilityai/sd-turbo"] == "⬇ stabilityai/sd-turbo · sd-turbo"  # to download

    lines: list[str] = []
    switching = ModelHandlers(service).switch_model(REPO)
    for update in switching:
        lines.append(update[1])
        if update[1].startswith("⏳ Downloading"):
            break
    assert service.download is not None and service.choice.model == "tiny"
    # the old model serves while the new one downloads
    result = service.generate(GenerationRequest.create(prompt="a fox", **SMALL), save=False)
    assert result.images and result.parameters[0].count("Model: tiny") == 1
    release.set()
    *rest, last = list(switching)
    assert service.choice.model == REPO and service.backend is not None
    assert REPO in last[1] and "Downloading" not in last[1]
    assert any(" of " in line for line in lines), lines


@pytest.mark.browser
def test_the_page_is_up_at_once_and_shows_the_download(
    browser, settings: Settings, tmp_path: Path, held_hub, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    from tests.helpers import serving_app
    from tests.test_studio_browser import open_advanced, set_number

    hub, release = held_hub
    first = replace(
        settings, hf_endpoint=hub.url, models_dir=tmp_path / "models", model=REPO, backend="local"
    )
    service = ImageService.start(first, background=True)
    until(lambda: half_way(service), "half the download")
    with serving_app(service) as url:  # the studio and the APIs, up while it downloads
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en")
        page.goto(url)
        status = page.locator("#status")
        expect(status).to_contain_text(f"Downloading {REPO}:")
        expect(status).to_contain_text("Generating waits until it is downloaded and loaded.")
        page.locator("#prompt textarea").fill("a fox in snow")
        open_advanced(page)
        set_number(page, "steps", "2")
        page.locator("#generate").click()
        expect(page.locator("#progress")).to_contain_text(f"Downloading {REPO}:")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(screenshot_dir / "studio-first-run-en.png"))
        release.set()
        expect(page.locator("#gallery img")).to_have_count(1, timeout=120_000)
        expect(status).not_to_contain_text("Downloading")  # the timer showed the loaded model
        expect(status).to_contain_text(REPO)
        page.close()


def test_progress_counts_finished_and_partial_files_and_says_speed_and_time_left(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_bytes(b"x" * 1000)
    plan = PullPlan(
        REPO,
        folder,
        ("unet/config.json", "unet/weights.safetensors"),
        {"unet/config.json": 1000, "unet/weights.safetensors": 300 * 2**20},
    )
    assert bytes_on_disk(plan) == 1000
    partial = folder / PARTIAL_FILES / "unet" / "a1b2.etag.incomplete"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"")
    now = [0.0]
    fetch = ModelFetch(REPO, settings, clock=lambda: now[0])
    fetch._plan = plan  # planned: what run() sets once the Hub answered
    assert fetch.progress().speed is None
    with partial.open("ab") as file:  # 10 MB in 2 s
        file.truncate(10 * 2**20)
    now[0] = 2.0
    progress = fetch.progress()
    assert progress.done == 1000 + 10 * 2**20 and progress.speed == pytest.approx(5 * 2**20)
    assert progress.eta_s == pytest.approx((300 * 2**20 - 10 * 2**20) / (5 * 2**20))
    assert render(progress.notice()) == (
        f"Downloading {REPO}: 10 MB of 300 MB (3%) · 5.0 MB/s · about 58 s left."
    )
    assert render(progress.notice(), "zh-CN") == (
        f"正在下载 {REPO}：10 MB / 300 MB（3%）· 5.0 MB/s · 约剩 58 秒。"
    )
    starting = DownloadProgress(REPO, 0, 0, None)
    assert (
        render(starting.notice()) == f"Preparing the download of {REPO} from the Hugging Face Hub …"
    )
