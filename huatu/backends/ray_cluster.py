"""Talking to a Ray cluster for :mod:`huatu.backends.ray_serve`: the long-lived threads Ray's
calls run in, whether the cluster answers, why a deployment failed, and which errors mean a
replica went away."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class ReplicaLost(Exception):
    """A replica went away during a run; ``kind`` is the Ray error's class name."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


#: Long-lived threads for Ray: the one that starts a local Ray instance must outlive it, and
#: blocking Ray calls cannot run in a thread that runs an asyncio loop.
RAY_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="huatu-ray")


def off_loop(function: Any, *args: Any) -> Any:
    """``function(*args)``, in one of :data:`RAY_THREADS` when this thread runs an asyncio
    event loop (Ray's blocking calls refuse to run inside one), else here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args)
    return RAY_THREADS.submit(function, *args).result()


def app_running(application: str) -> bool:
    """Whether Ray Serve runs ``application`` already (deployed from a config file)."""
    from ray import serve

    found = serve.status().applications.get(application)
    return found is not None and str(found.status).endswith("RUNNING")


def check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail at once (``ConnectionError``) when a ``ray://HOST:PORT`` or ``HOST:PORT`` address
    takes no connection, instead of Ray's own half-minute of retries; ``auto`` and a local
    instance are left to Ray."""
    import socket

    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not port.isdigit():
        return
    with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout_s):
        pass


def failure_reason(error: Exception) -> tuple[str, str]:
    """Why a deployment failed, as (kind, reason): in the replicas' own words where Ray Serve
    kept them (the last error line of the deployment's status: e.g. huatu's sentence for a
    model that would not load), else ``error``'s kind and last line."""
    from ray import serve

    from huatu.ray_app import APPLICATION, DEPLOYMENT

    try:
        application = serve.status().applications[APPLICATION]
        texts = [application.deployments[DEPLOYMENT].message, application.message]
    except Exception:  # no status (the cluster is gone): the error's own words below
        texts = []
    for text in texts:
        lines = [line.strip() for line in (text or "").splitlines() if "Error: " in line]
        if lines:
            kind, _, reason = lines[-1].partition(": ")
            return kind.rpartition(".")[2], reason[:600]
    said = str(error).strip().splitlines()
    return type(error).__name__, (said[-1][:600] if said else "")


def is_replica_death(error: Exception) -> bool:
    """Whether ``error`` says the replica's process went away (killed, crashed, node lost)."""
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

    return isinstance(error, ActorDiedError | ActorUnavailableError | RayActorError)
