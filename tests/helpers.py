"""Plain tools the tests share (the fixtures built on them live in ``conftest.py``).

- :func:`free_port`, :func:`free_ports`, :func:`base_url`: free loopback ports, a URL.
- :func:`huatu_env`: the environment of a ``huatu`` subprocess: the session's tiny model
  (never built again), fp32 on every CPU, no keys or credentials from the caller's shell,
  temporary outputs.
- :func:`run_huatu` runs the ``huatu`` command as a real subprocess; :func:`invoke_huatu` runs
  it in this process through click's ``CliRunner`` (no interpreter start, no torch import)
  and answers in the same shape, so a test can say which one it needs.
- :class:`HuatuProcess`, :func:`launch_huatu`, :func:`start_huatu`, :func:`serve_tiny`: a
  huatu server (``huatu serve``, ``huatu lesson``, the Space's ``app.py``) in a subprocess,
  launched now and waited for when needed, or once it answers.
- :func:`serving`, :func:`serving_app`: a Gradio app, or the whole app, served for real in
  this process.
- :func:`wait_until`: wait for a condition; its deadline only keeps a broken run from hanging
  (it is never what a test asserts).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The dtype every test runs the tiny model in, whatever the CPU would get (bf16 on CPUs with
#: AVX512-BF16 or AMX, fp32 on AVX2), so that no result depends on the machine. Tests about the
#: dtype choice or a dtype path set their own.
TEST_DTYPE = "float32"
#: How long a server subprocess may take to answer (interpreter, torch, the tiny model). A
#: guard against hanging: an idle machine takes a few seconds.
START_TIMEOUT_S = 180.0
#: Environment variables of the caller's shell that would change what a test's huatu does
#: (keys, credentials, model, dtype, a Space, Gradio's port): never passed on.
FOREIGN_PREFIXES = ("HUATU_", "HF_API", "HF_TOKEN", "SPACE_", "GRADIO_")


#: Ports handed out in this run: never handed out again, so that a server launched early
#: (:func:`launch_huatu`) keeps its port until it binds it.
_GIVEN_PORTS: set[int] = set()
#: Where servers' ports are taken from: above Ray's worker ports (10002-19999), below the
#: kernel's ephemeral range, which every outgoing connection (Ray's hundreds among them)
#: takes its own port from; a port picked from there could be taken by one before the
#: server binds it.
PORTS_FROM = 20000


def _port_range() -> range:
    """The ports :func:`free_ports` picks from: :data:`PORTS_FROM` up to the kernel's
    ephemeral range, or the ephemeral range itself where nothing is left below it."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(PORTS_FROM, low) if low - PORTS_FROM >= 1000 else range(low, high + 1)


def free_ports(count: int) -> list[int]:
    """``count`` different TCP ports, free on 127.0.0.1 now and not handed out before in this
    run, from :func:`_port_range`. Under pytest-xdist each worker takes only the ports of its
    own residue modulo the number of workers, so two workers never hand out the same port."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    ports: list[int] = []
    for port in _port_range():
        if len(ports) == count:
            break
        if port % workers != worker % workers or port in _GIVEN_PORTS:
            continue
        _GIVEN_PORTS.add(port)  # free or not: not tried again
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # taken (by a server of another run, or in TIME_WAIT)
                continue
        ports.append(port)
    assert len(ports) == count, "no free port left in the range"
    return ports


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 now and was not handed out before in this run."""
    return free_ports(1)[0]


def base_url(port: int) -> str:
    """``http://127.0.0.1:PORT``."""
    return f"http://127.0.0.1:{port}"


def wait_until(
    condition: Callable[[], object], *, timeout_s: float = 60.0, what: str = "the condition"
) -> None:
    """Poll ``condition`` until it is true.

    Args:
        condition: called every 20 ms.
        timeout_s: fail after this long (a guard, far above what an idle machine needs).
            Default 60 s.
        what: named in the failure.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# --------------------------------------------------------------------------------------------
# The huatu command


def huatu_env(cache_dir: Path, outputs_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a huatu subprocess (or of :func:`invoke_huatu`).

    Args:
        cache_dir: ``HUATU_CACHE``: the session's cache, where the tiny model already is.
        outputs_dir: ``HUATU_OUTPUTS``.
        **extra: more variables (``HUATU_API_KEY=…``), set last.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    env.update(
        HUATU_CACHE=str(cache_dir),
        HUATU_OUTPUTS=str(outputs_dir),
        HUATU_MODELS_DIR=str(outputs_dir.parent / "models"),  # none of the machine's
        HUATU_DTYPE=TEST_DTYPE,
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
        LC_ALL="C.UTF-8",  # the command speaks English (tests that want Chinese set it)
    )
    env.update(extra)
    return env


def huatu_command(*args: str, driver: str | None = None) -> list[str]:
    """``python -m huatu.cli ARGS``.

    Args:
        *args: the command line after ``huatu``.
        driver: Python code run instead of ``-m huatu.cli`` (``python -c DRIVER ARGS``): it
            patches huatu, then calls ``huatu.cli.main``. Default: none.
    """
    start = ["-c", driver] if driver is not None else ["-m", "huatu.cli"]
    return [sys.executable, *start, *args]


def run_huatu(
    *args: str, env: Mapping[str, str], cwd: Path, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``huatu ARGS`` as a real subprocess and wait for it.

    Args:
        *args: the command line after ``huatu``.
        env: its environment (:func:`huatu_env`).
        cwd: its working folder (a temporary one: no ``.env`` from the checkout).
        timeout_s: a guard against hanging. Default 300 s.
    """
    return subprocess.run(
        huatu_command(*args),
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout_s,
    )


def invoke_huatu(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``huatu ARGS`` in this process with click's ``CliRunner``; answer like
    :func:`run_huatu` (exit status, stdout, stderr).

    The process environment is ``env`` while it runs, then restored whole (the command may set
    variables, e.g. ``--allow-pickle``). An exception the command does not turn into a click
    error is raised, not captured: in a subprocess it would be a traceback.

    Args:
        *args: the command line after ``huatu``.
        env: the environment (:func:`huatu_env`).
        cwd: the working folder while it runs.
    """
    from click.testing import CliRunner

    from huatu.cli import main

    saved, folder = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, list(args), prog_name="huatu", catch_exceptions=False)
    finally:
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(
        ["huatu", *args], result.exit_code, result.stdout, result.stderr
    )


# --------------------------------------------------------------------------------------------
# Servers in a subprocess


@dataclass
class HuatuProcess:
    """A huatu server in a subprocess; its stdout and stderr go to ``log_path``.

    Used as a context manager it is stopped on leaving.
    """

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log(self) -> str:
        """Everything it has printed so far."""
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return ""

    def wait_for_log(self, *texts: str, timeout_s: float = 60.0) -> str:
        """Wait until its output holds one of ``texts``; return the output."""
        wait_until(
            lambda: any(text in self.log() for text in texts) or self.process.poll() is not None,
            timeout_s=timeout_s,
            what=f"{texts!r} in the server's output",
        )
        return self.log()

    def stop(self, grace_s: float = 1.0) -> None:
        """Ask it to stop (SIGTERM); kill it if it is still there after ``grace_s``.

        Nothing is checked after a stop (a test that checks a shutdown does so itself).
        Default 1 s.
        """
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """``kill -9`` and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def wait_ready(
        self, ready_path: str = "/config", *, headers: Mapping[str, str] | None = None
    ) -> HuatuProcess:
        """Wait until ``GET ready_path`` answers 200; return the server.

        Args:
            ready_path: the path that answers once it serves. Default ``/config``.
            headers: sent with that request (credentials). Default: none.

        Raises:
            RuntimeError: it exited, or did not answer within :data:`START_TIMEOUT_S`
                (then it is killed); the message holds the end of its output.
        """
        import httpx

        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx.Client(timeout=5, trust_env=False, headers=dict(headers or {})) as http:
            while True:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise RuntimeError(f"the server exited ({code}):\n{self.log()}")
                try:
                    if http.get(self.url + ready_path).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"the server did not answer:\n{self.log()[-3000:]}")
                time.sleep(0.1)

    def __enter__(self) -> HuatuProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def launch_huatu(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    port: int,
    log_path: Path,
    cwd: Path | None = None,
) -> HuatuProcess:
    """Start ``command`` (a server that will listen on 127.0.0.1:``port``) and return at once;
    :meth:`HuatuProcess.wait_ready` waits for it. A test module can launch its servers when
    it starts, so that their start-up (interpreter, torch, Gradio: seconds of one core)
    overlaps its other tests.

    Args:
        command: e.g. :func:`huatu_command` ``("serve", …)`` or ``[python, "app.py"]``.
        env: its environment (:func:`huatu_env`).
        port: the port it listens on (given on its command line or in ``env``).
        log_path: where its stdout and stderr go.
        cwd: its working folder. Default: this process's.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command), env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
    return HuatuProcess(process, base_url(port), log_path)


def start_huatu(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    port: int,
    log_path: Path,
    cwd: Path | None = None,
    ready_path: str = "/config",
    headers: Mapping[str, str] | None = None,
) -> HuatuProcess:
    """:func:`launch_huatu`, then :meth:`HuatuProcess.wait_ready` (see both)."""
    server = launch_huatu(command, env, port=port, log_path=log_path, cwd=cwd)
    return server.wait_ready(ready_path, headers=headers)


def serve_tiny(
    env: Mapping[str, str],
    log_path: Path,
    *options: str,
    driver: str | None = None,
    headers: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> HuatuProcess:
    """``huatu serve --model tiny --backend local --port PORT OPTIONS`` on a free port, once
    it answers (see :func:`start_huatu`).

    Args:
        env: its environment (:func:`huatu_env`).
        log_path: where its output goes.
        *options: more options (``--mcp``).
        driver: code to run instead of ``-m huatu.cli`` (:func:`huatu_command`).
        headers: credentials for the readiness check. Default: none.
        cwd: its working folder. Default: this process's.
    """
    port = free_port()
    args = ("serve", "--model", "tiny", "--backend", "local", "--port", str(port), *options)
    return start_huatu(
        huatu_command(*args, driver=driver),
        env,
        port=port,
        log_path=log_path,
        cwd=cwd,
        headers=headers,
    )


# --------------------------------------------------------------------------------------------
# Servers in this process


@contextlib.contextmanager
def serving(demo: Any) -> Iterator[str]:
    """Launch a Gradio app for real on 127.0.0.1 and a free port; yield its URL."""
    from huatu.ui.common import launch

    launch(demo, free_port(), block=False, quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


@contextlib.contextmanager
def serving_app(service: Any, **options: Any) -> Iterator[str]:
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
