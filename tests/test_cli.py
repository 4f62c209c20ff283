"""The huatu command, run as a real subprocess on the tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from huatu.metadata import read_parameters
from tests.conftest import free_port


def run_huatu(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "huatu.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def cli_env(cache_dir: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_API", "HUATU_"))}
    env.pop("HF_TOKEN", None)
    env.update(HUATU_CACHE=str(cache_dir), HUATU_OUTPUTS=str(tmp_path / "outputs"))
    return env


def test_generate_then_info_round_trip(cli_env, tmp_path: Path, tiny_service):
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
    assert "local · tiny" in done.stderr and "tiny model runs locally" in done.stderr
    assert "seed: 42, 43" in done.stderr

    shown = run_huatu("info", str(paths[1]), env=cli_env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == read_parameters(paths[1]).strip()
    assert "Seed: 43" in shown.stdout and "Sampler: DDIM" in shown.stdout

    as_json = run_huatu("info", "--json", str(paths[0]), env=cli_env, cwd=tmp_path)
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
    done = run_huatu(
        "generate", "a dog", "--model", "tiny", "--width", "100", env=cli_env, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "`width` must be an integer from 64 to 1024 and a multiple of 8, but is 100." in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    missing = run_huatu("info", str(tmp_path / "none.png"), env=cli_env, cwd=tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_unloadable_model_is_one_clear_sentence(cli_env, tmp_path: Path):
    done = run_huatu(
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


def test_serve_starts_on_the_port_from_the_environment(cli_env, tmp_path: Path, tiny_service):
    port = free_port()
    env = {**cli_env, "GRADIO_SERVER_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "huatu.cli", "serve", "--model", "tiny"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2) as reply:
                    assert "test model" in reply.read().decode()
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "huatu serve did not answer"
                time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
