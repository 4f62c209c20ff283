"""The huatu command on the tiny model.

Each command runs once as a real subprocess (``serve``, ``lesson``, ``generate``, ``info``;
``generate --from-file`` in tests/test_batch.py); the other cases run in process through
click's ``CliRunner`` (:func:`tests.helpers.invoke_huatu`), which answers in the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from huatu.metadata import read_parameters
from tests.helpers import (
    HuatuProcess,
    free_ports,
    huatu_command,
    huatu_env,
    invoke_huatu,
    launch_huatu,
    run_huatu,
)


@pytest.fixture(scope="module", autouse=True)
def servers(
    cache_dir: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, HuatuProcess]]:
    """``huatu serve`` (its port from ``GRADIO_SERVER_PORT``) and ``huatu lesson advanced``,
    launched when this module starts so that their start-up overlaps the tests before theirs;
    the tests wait for them (:meth:`~tests.helpers.HuatuProcess.wait_ready`)."""
    folder = tmp_path_factory.mktemp("cli-servers")
    env = huatu_env(cache_dir, folder / "outputs")
    serve_port, lesson_port = free_ports(2)
    launched = {
        "serve": launch_huatu(
            huatu_command("serve", "--model", "tiny"),
            {**env, "GRADIO_SERVER_PORT": str(serve_port)},
            port=serve_port,
            log_path=folder / "serve.log",
            cwd=folder,
        ),
        "lesson": launch_huatu(
            huatu_command("lesson", "advanced", "--model", "tiny", "--port", str(lesson_port)),
            env,
            port=lesson_port,
            log_path=folder / "lesson.log",
            cwd=folder,
        ),
    }
    try:
        yield launched
    finally:
        for server in launched.values():
            server.stop()


def test_generate_then_info_round_trip(cli_env, tmp_path: Path):
    out = tmp_path / "pngs"
    done = run_huatu(
        "generate",
        "a dog in a park",
        "--model",
        "tiny",
        "--negative-prompt",
        "rain, fog",
        "--steps",
        "3",
        "--guidance",
        "6",
        "--width",
        "128",
        "--height",
        "64",
        "--seed",
        "42",
        "--num-images",
        "2",
        "--scheduler",
        "ddim",
        "--out",
        str(out),
        env=cli_env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    paths = [Path(line) for line in done.stdout.splitlines()]
    assert len(paths) == 2 and all(path.parent == out and path.is_file() for path in paths)
    assert "Backend local · model tiny" in done.stderr and "tiny model runs locally" in done.stderr
    assert "seed: 42, 43" in done.stderr

    shown = run_huatu("info", str(paths[1]), env=cli_env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == read_parameters(paths[1]).strip()
    assert "Seed: 43" in shown.stdout and "Sampler: DDIM" in shown.stdout

    as_json = invoke_huatu("info", "--json", str(paths[0]), env=cli_env, cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["request"] == {
        "prompt": "a dog in a park",
        "negative_prompt": "rain, fog",
        "num_inference_steps": 3,
        "guidance_scale": 6.0,
        "width": 128,
        "height": 64,
        "seed": 42,
        "scheduler": "ddim",
    }


def test_bad_values_are_named_without_traceback(cli_env, tmp_path: Path):
    done = invoke_huatu(
        "generate", "a dog", "--model", "tiny", "--width", "100", env=cli_env, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "`width` must be an integer from 64 to 1536 and a multiple of 8, but is 100." in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    missing = invoke_huatu("info", str(tmp_path / "none.png"), env=cli_env, cwd=tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_unloadable_model_is_one_clear_sentence(cli_env, tmp_path: Path):
    done = invoke_huatu(
        "generate",
        "a dog",
        "--model",
        "nobody/no-such-model",
        "--backend",
        "local",
        env=cli_env,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "--model tiny" in done.stderr and "Traceback" not in done.stderr


def test_an_image_that_cannot_be_saved_is_one_clear_sentence(cli_env, tmp_path: Path):
    """``--out`` inside a file, not a folder: the save fails with the catalog's sentence (and
    the other lines of a prompts file still run)."""
    (tmp_path / "a-file").write_text("not a folder")
    blocker = tmp_path / "a-file" / "pngs"
    small = ("--model", "tiny", "--width", "64", "--height", "64", "--steps", "1")
    done = invoke_huatu(
        "generate", "a dog", *small, "--out", str(blocker), env=cli_env, cwd=tmp_path
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"Could not save the image to {blocker}" in done.stderr
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a dog\na cat\n")
    batch = invoke_huatu(
        "generate",
        "--from-file",
        str(prompts),
        *small,
        "--out",
        str(blocker),
        env=cli_env,
        cwd=tmp_path,
    )
    assert batch.returncode == 1
    assert "line 1 failed" in batch.stderr and "line 2 failed" in batch.stderr  # went on


def test_the_command_speaks_chinese_in_a_chinese_locale(cli_env, tmp_path: Path):
    chinese = {**cli_env, "LC_ALL": "zh_CN.UTF-8"}
    neither = invoke_huatu("generate", env=chinese, cwd=tmp_path)
    assert neither.returncode == 2 and "请给出 PROMPT 或 --from-file FILE" in neither.stderr
    bad = invoke_huatu("generate", "a dog", "--steps", "0", env=chinese, cwd=tmp_path)
    assert bad.returncode == 2 and "`num_inference_steps`（推理步数）必须是" in bad.stderr
    english = invoke_huatu("generate", env=cli_env, cwd=tmp_path)
    assert "Give either a PROMPT or --from-file FILE" in english.stderr


def test_serve_starts_on_the_port_from_the_environment_and_stops_cleanly(servers):
    """``huatu serve`` answers on ``GRADIO_SERVER_PORT``; asked to stop (SIGTERM) while a
    studio session is open, it ends that session's stream and exits by itself, printing no
    error or traceback."""
    from gradio_client import Client

    server = servers["serve"].wait_ready()
    answer = httpx.get(server.url + "/config", timeout=30, trust_env=False)
    assert answer.status_code == 200 and "test model" in answer.text
    client = Client(server.url, verbose=False)  # its heartbeat stream stays open
    assert client.predict(prompt="a cat", api_name="/translate")
    server.process.terminate()
    server.process.wait(timeout=60)  # a guard: it is not killed, it ends
    client.close()
    log = server.log()
    assert "Traceback" not in log and "ERROR" not in log, log


def test_lesson_serves_the_tutorial_app(servers, tmp_path: Path):
    from gradio_client import Client
    from PIL import Image

    lesson = servers["lesson"].wait_ready()
    client = Client(lesson.url, verbose=False, download_files=str(tmp_path / "dl"))
    try:
        path = client.predict("a fox", "", 2, 7, 64, 96, api_name="/generate")
    finally:
        client.close()  # its heartbeat stream would hold up the server's shutdown
    image = Image.open(path)
    assert image.format == "PNG" and image.size == (64, 96)
    assert f"serving on {lesson.url}" in lesson.log()
