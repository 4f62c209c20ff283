"""``--backend ray``: generation on Ray Serve replicas behind the same service and APIs.

One Ray cluster on this machine is shared by these tests: a real head started with ``ray start
--head`` on 127.0.0.1 (no dashboard, no Ray HTTP proxy), which the front reaches by its address
as ``huatu serve --backend ray --ray-address HOST:PORT --replicas 2`` does, and two CPU
replicas of the tiny model deployed there as an operator would, from the shipped
``deploy/ray-serve.yaml``, then taken over by :class:`RayBackend` (later deployments — model
switches, a reconnect — are the front's own). The clients are the real
A1111 and OpenAI libraries against huatu's real server. The last test kills that cluster and
starts it again on the same address.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("ray")

from huatu.backends.base import CancelToken  # noqa: E402
from huatu.backends.selection import BackendChoice  # noqa: E402
from huatu.config import RayOptions, Settings  # noqa: E402
from huatu.errors import GenerationCancelled  # noqa: E402
from huatu.messages import Notice, render  # noqa: E402
from huatu.metadata import parse_parameters, read_parameters  # noqa: E402
from huatu.request import GenerationRequest  # noqa: E402
from huatu.service import ImageService  # noqa: E402
from tests.helpers import free_port, serving_app  # noqa: E402

CLIENTS, REQUESTS = 16, 5  # the proof: 16 clients × 5 requests
RAY = str(Path(sys.executable).parent / "ray")
ROOT = Path(__file__).resolve().parent.parent


def ray_command(*args: str) -> None:
    """Run the ``ray`` command line (its environment: this process's)."""
    subprocess.run([RAY, *args], check=True, capture_output=True, timeout=120)


def kill_cluster(port: int) -> None:
    """SIGKILL every process of the Ray cluster whose GCS is on ``port`` — its GCS, its raylet
    and everything they started (agents, workers, replicas) — as when its machine goes away.
    (``ray stop --force`` does the same to every Ray process here, then waits seconds for each
    kind to be reaped.)"""
    import psutil

    def of_the_cluster(process: psutil.Process) -> bool:
        try:
            args = process.cmdline()
        except psutil.Error:
            return False
        return any(
            arg == f"--gcs_server_port={port}"
            or (arg.startswith(("--gcs-address=", "--address=")) and arg.endswith(f":{port}"))
            for arg in args
        )

    roots = [process for process in psutil.process_iter() if of_the_cluster(process)]
    assert roots, f"no Ray process of the cluster on port {port}"
    doomed = set(roots)
    for root in roots:  # workers rename themselves (ray::…): found as the raylet's children
        with contextlib.suppress(psutil.Error):
            doomed.update(root.children(recursive=True))
    for process in doomed:
        with contextlib.suppress(psutil.Error):
            process.kill()
    # `ray start` noted the cluster as this machine's current one, and `ray.init()` without an
    # address would try to join it; `ray stop` forgets it, and so does this
    noted = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    with contextlib.suppress(OSError):
        if noted.read_text().strip().endswith(f":{port}"):
            noted.unlink()


def start_head(port: int) -> None:
    """A Ray head on 127.0.0.1:``port`` with two CPUs, no dashboard."""
    ray_command(
        "start",
        "--head",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--include-dashboard=false",
        "--num-cpus=2",
        "--disable-usage-stats",
    )


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A Ray head on this machine (``ray start --head``, a free port); yields its address.
    Token authentication is off for it and for this process (loopback only)."""
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        start_head(port)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            kill_cluster(port)


@pytest.fixture(scope="module")
def ray_service(
    base_settings: Settings, tiny_model, ray_cluster: str, tmp_path_factory: pytest.TempPathFactory
):
    """An ImageService on a RayBackend with two replicas of the tiny model (fp32) on
    :func:`ray_cluster`, deployed there first from the shipped ``deploy/ray-serve.yaml``
    (:func:`deploy_shipped_config`) and taken over by the front as it is. Its models folder
    holds a copy of the tiny model (``tiny-b``) and a damaged one (``broken``: its files look
    right, its UNet weights are not weights), to switch to."""
    import ray
    from ray import serve

    from huatu.backends.ray_serve import RayBackend
    from huatu.history import HistoryStore

    checkpoints = tmp_path_factory.mktemp("ray-models") / "Stable-diffusion"
    shutil.copytree(tiny_model, checkpoints / "tiny-b")
    shutil.copytree(tiny_model, checkpoints / "broken")
    for weights in (checkpoints / "broken" / "unet").glob("*.safetensors"):
        weights.write_bytes(b"not weights")
    options = RayOptions(
        address=ray_cluster, min_replicas=2, max_replicas=2, cpus_per_replica=0.5, timeout_s=120
    )
    outputs = tmp_path_factory.mktemp("ray-outputs")  # this module's images and history only
    settings = replace(
        base_settings,
        outputs_dir=outputs,
        backend="ray",
        dtype="float32",
        ray=options,
        models_dir=checkpoints.parent,
    )
    env_vars = {
        "HUATU_CACHE": str(settings.cache_dir),
        "HUATU_MODELS_DIR": str(settings.models_dir),
        "HUATU_DTYPE": settings.dtype,
    }
    deploy_shipped_config(ray_cluster, tmp_path_factory.mktemp("ray-deploy"), env_vars)
    said: list[str] = []
    hearing = logging.Handler(logging.INFO)
    hearing.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("huatu")
    level = logger.level
    logger.addHandler(hearing)
    logger.setLevel(logging.INFO)
    try:
        backend = RayBackend("tiny", settings)
    finally:
        logger.removeHandler(hearing)
        logger.setLevel(level)
    # the front took the operator's application as it is (no deploy of its own)
    assert "using the generator already running on the Ray cluster (tiny)" in said, said
    choice = BackendChoice("ray", "tiny", Notice("choice_flag", {"backend": "ray"}))
    try:
        yield ImageService(settings, choice, backend, history=HistoryStore(outputs))
    finally:
        serve.shutdown()
        ray.shutdown()


def test_the_header_says_how_many_replicas_are_up(ray_service: ImageService) -> None:
    backend = ray_service.backend
    assert backend.replicas_up == 2
    for language, words in (("en", "2 of 2 replicas up"), ("zh-CN", "2 个在运行")):
        assert words in render(backend.detail, language)
    assert ray_service.capabilities.concurrency == 2  # the front's slots: one per replica


def test_a1111_and_openai_clients_at_once_are_all_served_on_both_replicas(
    ray_service: ImageService,
) -> None:
    """16 clients × 5 requests, half through webuiapi and half through openai: every image
    comes back with its own prompt and seed in its PNG, and both replicas made some."""
    import openai
    import webuiapi

    with serving_app(ray_service) as url:
        host, port = url.removeprefix("http://").split(":")
        options = webuiapi.WebUIApi(host=host, port=int(port)).get_options()
        assert "2 of 2 replicas up" in options["huatu_backend"]  # /sdapi/v1/options says so

        def a1111_client(client: int) -> list[tuple[str, int, str]]:
            api = webuiapi.WebUIApi(host=host, port=int(port), steps=2)
            made = []
            for number in range(REQUESTS):
                prompt, seed = f"a1111 client {client} image {number}", 1000 * client + number
                result = api.txt2img(prompt=prompt, seed=seed, width=64, height=64)
                made.append((prompt, seed, result.info["infotexts"][0]))
            return made

        def openai_client(client: int) -> list[tuple[str, int, str]]:
            api = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            made = []
            for number in range(REQUESTS):
                prompt, seed = f"openai client {client} image {number}", 1000 * client + number
                result = api.images.generate(
                    prompt=prompt, size="64x64", extra_body={"steps": 2, "seed": seed}
                )
                data = base64.b64decode(result.data[0].b64_json)
                made.append((prompt, seed, read_parameters(data)))
            return made

        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [
                pool.submit(a1111_client if client % 2 else openai_client, client)
                for client in range(CLIENTS)
            ]
            made = [item for future in futures for item in future.result(timeout=600)]
    assert len(made) == CLIENTS * REQUESTS
    for prompt, seed, parameters in made:
        parsed = parse_parameters(parameters)
        assert parsed.prompt == prompt and int(parsed.settings["Seed"]) == seed
    served = ray_service.backend.served
    assert len(served) == 2 and sum(served.values()) >= CLIENTS * REQUESTS, served


def test_stop_ends_a_run_on_its_replica_and_the_next_one_is_served(
    ray_service: ImageService,
) -> None:
    cancel = CancelToken()
    steps: list[int] = []

    def stop_at_the_second_step(event) -> None:
        steps.append(event.step)
        if event.step == 2:
            cancel.cancel()

    long_run = GenerationRequest.create(
        prompt="a long run", width=256, height=256, seed=3, num_inference_steps=100
    )
    with pytest.raises(GenerationCancelled):
        ray_service.generate(long_run, progress=stop_at_the_second_step, cancel=cancel, save=False)
    assert max(steps) < 100
    short = GenerationRequest.create(prompt="after", width=64, height=64, seed=3)
    result = ray_service.generate(replace(short, num_inference_steps=2), save=False)
    assert result.seeds == [3] and result.images[0].size == (64, 64)


def test_the_studios_stop_ends_a_run_on_its_replica(ray_service: ImageService) -> None:
    """Through the studio (its ``/generate`` and ``/stop``, with gradio_client as one
    session): a long run on a replica stops within about a step of Stop, says where it
    stopped, saves nothing; the session's next run is served."""
    from gradio_client import Client

    from tests.helpers import wait_until

    with serving_app(ray_service) as url:
        client = Client(url, verbose=False)
        running = client.submit(
            prompt="a long studio run",
            steps=100,
            width=256,
            height=256,
            seed=5,
            api_name="/generate",
        )
        wait_until(
            lambda: any("Step" in str(out[0]) for out in running.outputs()),
            what="the run to reach its first steps on a replica",
        )
        client.predict(api_name="/stop")
        said = running.result(timeout=120)[0]
        stopped = re.fullmatch(r"⏹ Stopped at step (\d+) of 100; nothing was saved\.", said)
        assert stopped and int(stopped.group(1)) < 100, said
        after = client.predict(prompt="after the stop", steps=2, seed=6, api_name="/generate")
        assert len(after[2]) == 1


def test_an_http_client_that_goes_away_stops_its_run_on_the_replica(
    ray_service: ImageService,
) -> None:
    """An A1111 client that closes its connection mid-run (a raw socket, closed once the run
    is stepping on a replica): the run ends there — the progress goes idle, nothing is saved
    for it — and the next request is served."""
    import json
    import socket

    import httpx

    from tests.helpers import wait_until

    with serving_app(ray_service) as url:
        host, port = url.removeprefix("http://").split(":")
        body = json.dumps(
            {"prompt": "a client that leaves", "steps": 100, "width": 256, "height": 256}
        ).encode()
        head = (
            f"POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        leaving = socket.create_connection((host, int(port)))
        leaving.sendall(head + body)

        def progress() -> dict:
            return httpx.get(f"{url}/sdapi/v1/progress", trust_env=False, timeout=30).json()

        wait_until(lambda: progress()["state"]["sampling_step"] > 0, what="the run to step")
        leaving.close()
        wait_until(lambda: progress()["state"]["job_count"] == 0, what="the run to end")
        assert ray_service.history.list("a client that leaves") == []  # stopped, not finished
        answer = httpx.post(
            f"{url}/sdapi/v1/txt2img",
            json={"prompt": "the next one", "steps": 2, "width": 64, "height": 64, "seed": 4},
            trust_env=False,
            timeout=120,
        )
        assert answer.status_code == 200 and len(answer.json()["images"]) == 1


def test_the_same_seed_makes_the_same_image_on_either_replica(ray_service: ImageService) -> None:
    """What a retry on another replica relies on: the image is the seed's, not the replica's."""
    request = GenerationRequest.create(
        prompt="a lighthouse", width=64, height=64, seed=42, num_inference_steps=2
    )
    results = []
    barrier = threading.Barrier(2)

    def draw() -> None:
        barrier.wait()
        results.append(ray_service.generate(request, save=False).images[0])

    threads = [threading.Thread(target=draw) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    first, second = (io.BytesIO() for _ in range(2))
    results[0].save(first, format="PNG")
    results[1].save(second, format="PNG")
    assert len(results) == 2 and first.getvalue() == second.getvalue()


def test_an_unreachable_cluster_is_refused_in_one_sentence(base_settings: Settings) -> None:
    """A cluster address nobody answers: one sentence naming it, at once (no half-minute of
    Ray's retries), no traceback; the shared local instance is not touched."""
    from huatu.backends.ray_serve import RayBackend
    from huatu.errors import ModelLoadError

    options = RayOptions(address="ray://127.0.0.1:1")
    with pytest.raises(ModelLoadError) as refused:
        RayBackend("tiny", replace(base_settings, ray=options))
    said = render(refused.value.notice)
    assert "ray://127.0.0.1:1" in said and "Traceback" not in said


def test_the_backend_answers_from_inside_an_event_loop_too(ray_service: ImageService) -> None:
    """Ray's blocking calls refuse to run in a thread with a running asyncio loop (an async
    endpoint's): the backend moves them to a helper thread."""
    import asyncio

    async def inside_a_loop() -> tuple[int | None, list[int]]:
        backend = ray_service.backend
        request = GenerationRequest.create(
            prompt="a fox", width=64, height=64, seed=9, num_inference_steps=2
        )
        return backend.token_count("a fox"), backend.generate(request).seeds

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: this one may run a loop already
        count, seeds = pool.submit(lambda: asyncio.run(inside_a_loop())).result(timeout=120)
    assert count is not None and count > 0 and seeds == [9]


def test_a_model_switch_reaches_every_replica_and_a_failed_one_keeps_the_old(
    ray_service: ImageService,
) -> None:
    """Switching to ``tiny-b`` reaches both replicas: images made by 4 clients at once say
    ``Model: tiny-b`` and come from both replicas (a replica still on the old model would be
    refused, never recorded under the new name). Switching to a model the replicas cannot load
    says so in one sentence (the replicas' own reason), and ``tiny-b`` serves on, on both
    replicas — as it does for this module's later tests."""
    from huatu.errors import ModelLoadError

    def draw_on_both(model: str) -> None:
        before = dict(ray_service.backend.served)
        request = GenerationRequest.create(prompt="a switch", width=64, height=64)
        with ThreadPoolExecutor(4) as pool:
            futures = [
                pool.submit(
                    ray_service.generate,
                    replace(request, seed=seed, num_inference_steps=2),
                    save=False,
                    client=f"client {seed % 4}",
                )
                for seed in range(8)
            ]
            results = [future.result(timeout=300) for future in futures]
        assert all(parse_parameters(r.parameters[0]).settings["Model"] == model for r in results)
        after = ray_service.backend.served
        grew = [replica for replica in after if after[replica] > before.get(replica, 0)]
        assert len(grew) == 2, (before, after)

    ray_service.switch_model("tiny-b")
    assert ray_service.choice.model == "tiny-b" and ray_service.backend.replicas_up == 2
    draw_on_both("tiny-b")
    with pytest.raises(ModelLoadError) as failed:
        ray_service.switch_model("broken")
    said = render(failed.value.notice)
    assert said.startswith("The replicas could not load broken on the Ray cluster (ModelLoad")
    assert "Traceback" not in said and "\n" not in said
    assert ray_service.choice.model == "tiny-b" and ray_service.backend is not None
    draw_on_both("tiny-b")
    assert ray_service.backend.replicas_up == 2


def test_a_replica_killed_under_load_loses_nothing_and_comes_back(ray_service: ImageService):
    """Kill one replica's actor while 8 clients make 3 images each: the run on it is retried
    once on the other (same seed) or fails with one sentence — never more than the runs in
    flight on it — every other request is served, the history holds exactly the images that
    were delivered (one row and one file each, none for a failed run), and Ray Serve brings
    the replica back."""
    import time

    import ray

    from huatu.errors import BackendUnavailableError
    from tests.helpers import wait_until

    def replica_actors() -> list[dict]:
        named = ray.util.list_named_actors(all_namespaces=True)
        return [actor for actor in named if "HuatuGenerator" in actor["name"]]

    # a model switch before this test leaves the old replicas stopping for a while
    wait_until(lambda: len(replica_actors()) == 2, what="only this deployment's two replicas")
    backend = ray_service.backend
    started = threading.Event()
    outcomes: list[object] = []

    def client(number: int) -> None:
        for image in range(3):
            request = GenerationRequest.create(
                prompt=f"killed-load client {number} image {image}",
                width=128,
                height=128,
                seed=100 * number + image,
                num_inference_steps=8,
            )
            started.set()
            try:
                outcomes.append(ray_service.generate(request, client=f"c{number}").seeds[0])
            except BackendUnavailableError as error:
                outcomes.append(error)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    assert started.wait(30)
    time.sleep(0.5)  # runs are on both replicas now
    replicas = replica_actors()
    assert len(replicas) == 2, replicas
    ray.kill(ray.get_actor(replicas[0]["name"], namespace=replicas[0]["namespace"]))
    for thread in threads:
        thread.join(timeout=300)
    failed = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(outcomes) == 24 and len(failed) <= 1, failed
    for error in failed:
        assert "replica" in render(error.notice)
    served = sorted(outcome for outcome in outcomes if isinstance(outcome, int))
    assert len(set(served)) == len(served)  # each its own seed, none twice
    kept = ray_service.history.list("killed-load", limit=100)
    assert sorted(entry.seed for entry in kept) == served  # delivered = recorded, no more
    assert all(entry.path.is_file() for entry in kept)
    deadline = time.monotonic() + 120
    while backend.replicas_up < 2 and time.monotonic() < deadline:
        time.sleep(1)
    assert backend.replicas_up == 2  # Ray Serve brought it back
    again = GenerationRequest.create(prompt="after", width=64, height=64, seed=1)
    assert ray_service.generate(replace(again, num_inference_steps=2), save=False).seeds == [1]


def test_the_ray_benchmark_measures_through_the_replicas(ray_service, tiny_service) -> None:
    """``make bench``'s Ray section (:mod:`huatu.bench.ray_serving`), its measuring parts on
    this module's replicas (no timing threshold): interleaved single images on the local and
    the Ray backend, and images per minute with several clients — each image made on a
    replica and counted there."""
    from huatu.bench.ray_serving import CLIENTS, _images_per_minute, _interleaved

    times = _interleaved({"local": tiny_service, "ray": ray_service}, pairs=2, warmup=0)
    assert len(times["local"]) == len(times["ray"]) == 2
    assert all(seconds > 0 for seconds in times["ray"])
    before = sum(ray_service.backend.served.values())
    assert _images_per_minute(ray_service, 2 * CLIENTS) > 0
    assert sum(ray_service.backend.served.values()) - before == 2 * CLIENTS


def test_a_lost_cluster_is_refused_in_one_sentence_and_served_again_once_back(
    ray_service: ImageService, ray_cluster: str, caplog: pytest.LogCaptureFixture
) -> None:
    """(Last: it kills the module's cluster.) Served on the cluster; the cluster killed (every
    process of it, as when its machine goes away) → the server stays up (its options answer,
    "0 of 2 replicas up") and a generation is refused at once with one sentence saying the
    cluster does not answer, not left hanging; the cluster started again on the same address
    → the front connects again by itself, deploys the generator there (the model it serves,
    not the one the cluster's operator had deployed at first), and serves."""
    import logging

    import httpx

    def txt2img(url: str, seed: int) -> httpx.Response:
        body = {"prompt": "a lighthouse", "seed": seed, "steps": 2, "width": 64, "height": 64}
        return httpx.post(f"{url}/sdapi/v1/txt2img", json=body, timeout=300, trust_env=False)

    def assert_served(answer: httpx.Response, seed: int) -> None:
        assert answer.status_code == 200, answer.text[:300]
        png = base64.b64decode(answer.json()["images"][0])
        settings = parse_parameters(read_parameters(png)).settings
        assert int(settings["Seed"]) == seed and settings["Model"] == "tiny-b"

    with serving_app(ray_service) as url:
        assert_served(txt2img(url, 1), 1)  # the model switch test left tiny-b

        port = int(ray_cluster.rsplit(":", 1)[1])
        kill_cluster(port)
        refused = txt2img(url, 2)
        assert refused.status_code == 503, refused.text[:300]
        said = refused.json()["detail"]
        assert said.startswith(f"The Ray cluster at {ray_cluster} is not answering"), said
        settings = httpx.get(f"{url}/sdapi/v1/options", timeout=30, trust_env=False)
        assert settings.status_code == 200
        assert "0 of 2 replicas up" in settings.json()["huatu_backend"]

        start_head(port)
        with caplog.at_level(logging.WARNING):
            assert_served(txt2img(url, 3), 3)
        assert "connecting" in caplog.text


#: ``serve run FILE --non-blocking --address ADDRESS`` (Ray Serve's own command line), then a
#: wait (≤ 100 s) until the cluster runs the ``huatu`` application.
DEPLOY_AND_WAIT = """
import sys, time, ray
from ray import serve
from ray.serve.scripts import cli
config, address = sys.argv[1:]
cli.main(["run", config, "--non-blocking", f"--address={address}"], standalone_mode=False)
for _ in range(200):
    found = serve.status().applications.get("huatu")
    if found is not None and str(found.status).endswith("RUNNING"):
        break
    time.sleep(0.5)
else:
    sys.exit("the huatu application did not start")
"""


def deploy_shipped_config(address: str, folder: Path, env_vars: dict[str, str]) -> None:
    """Deploy the generator as a cluster's operator would: ``serve run`` of the shipped
    ``deploy/ray-serve.yaml``, made to fit this machine (the tiny model, no GPU, half a CPU
    and two replicas, no HTTP proxy; ``env_vars`` for the replicas' settings)."""
    import yaml

    config = yaml.safe_load((ROOT / "deploy" / "ray-serve.yaml").read_text())
    config["proxy_location"] = "Disabled"  # no HTTP port taken on this machine
    application = config["applications"][0]
    application["args"]["model"] = "tiny"
    application["runtime_env"]["env_vars"].update(env_vars)
    deployment = application["deployments"][0]
    deployment["autoscaling_config"].update(min_replicas=2, max_replicas=2)
    deployment["ray_actor_options"] = {"num_cpus": 0.5, "num_gpus": 0}
    deploy_file = folder / "ray-serve.yaml"
    deploy_file.write_text(yaml.safe_dump(config))
    deploy = [sys.executable, "-c", DEPLOY_AND_WAIT, str(deploy_file), address]
    subprocess.run(deploy, check=True, capture_output=True, timeout=180)
